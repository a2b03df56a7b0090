package correlate

import (
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/google/go-cmp/cmp"
)

// entity is a catalog entity for tests: a Component service named name,
// with optional tweaks.
func entity(identifier, name string, tweak ...func(*catalog.Entity)) *catalog.Entity {
	e := &catalog.Entity{
		Kind: "Component", Type: "service", Identifier: identifier, Name: name,
		Owner: "unknown", Lifecycle: "production",
	}
	for _, f := range tweak {
		f(e)
	}
	return e
}

func withTags(tags ...string) func(*catalog.Entity) {
	return func(e *catalog.Entity) { e.Tags = tags }
}

func withAnnotation(k, v string) func(*catalog.Entity) {
	return func(e *catalog.Entity) {
		e.Metadata = map[string]any{"annotations": map[string]any{k: v}}
	}
}

func withKindType(kind, typ string) func(*catalog.Entity) {
	return func(e *catalog.Entity) { e.Kind, e.Type = kind, typ }
}

// targets makes targets whose store id is "id-" + identifier.
func targets(es ...*catalog.Entity) []Target {
	out := make([]Target, len(es))
	for i, e := range es {
		out[i] = EntityTarget("id-"+e.Identifier, e)
	}
	return out
}

func repo(name string) Ingested {
	return Ingested{Props: map[string]any{"name": name}, Slug: name}
}

// c is a candidate as Match returns it for targets(), having matched the
// given catalog values, one per rule.
func c(identifier string, exact bool, matched ...string) Candidate {
	n := 0
	for _, m := range matched {
		n += len(m)
	}
	return Candidate{TargetID: "id-" + identifier, Identifier: identifier, Exact: exact, MatchLen: n,
		MatchedValue: strings.Join(matched, ", ")}
}

var services = Filter{Kind: "Component", Type: "service"}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		rules    []Rule
		filter   Filter
		entities []*catalog.Entity
		repo     Ingested
		want     []Candidate
	}{
		{
			name:  "equals is exact and case-sensitive",
			rules: DefaultRules(),
			entities: []*catalog.Entity{
				entity("a", "payments"), entity("b", "Payments"), entity("c", "payments-api"), entity("d", "payments "),
			},
			repo: repo("payments"),
			want: []Candidate{c("a", true, "payments")},
		},
		{
			name:  "contains: the ingested value contains the catalog value, ignoring case",
			rules: []Rule{{IngestedPath: "name", CatalogPath: "name", Op: Contains}},
			entities: []*catalog.Entity{
				entity("svc", "payments-service"), entity("pay", "Payments"), entity("api", "API"),
				entity("gw", "payments-service-api-gateway"), entity("ledger", "ledger"),
			},
			repo: repo("payments-service-api"),
			want: []Candidate{c("svc", false, "payments-service"), c("pay", false, "Payments"), c("api", false, "API")},
		},
		{
			name:  "contains: a whole-value match is exact only when the bytes agree",
			rules: []Rule{{IngestedPath: "name", CatalogPath: "name", Op: Contains}},
			entities: []*catalog.Entity{
				entity("upper", "PAYMENTS-API"), entity("same", "payments-api"), entity("pay", "payments"),
			},
			repo: repo("payments-api"),
			want: []Candidate{c("same", true, "payments-api"), c("upper", false, "PAYMENTS-API"), c("pay", false, "payments")},
		},
		{
			name:     "contains: the catalog value does not contain the ingested one",
			rules:    []Rule{{IngestedPath: "name", CatalogPath: "name", Op: Contains}},
			entities: []*catalog.Entity{entity("long", "payments-api-v2")},
			repo:     repo("payments-api"),
			want:     nil,
		},
		{
			name:  "contains on a list-valued catalog path: any element",
			rules: []Rule{{IngestedPath: "name", CatalogPath: "metadata.tags", Op: Contains}},
			entities: []*catalog.Entity{
				entity("a", "x", withTags("java", "Payments")), entity("b", "y", withTags("ledger")),
				entity("c", "z", withTags("core", "team-payments")),
			},
			repo: repo("team-payments-core"),
			want: []Candidate{c("c", false, "team-payments"), c("a", false, "Payments")},
		},
		{
			name:  "equals on a list-valued catalog path and an annotation key with dots",
			rules: []Rule{{IngestedPath: "slug", CatalogPath: "metadata.annotations.bitbucket.org/repo-slug", Op: Equals}},
			entities: []*catalog.Entity{
				entity("a", "A", withAnnotation("bitbucket.org/repo-slug", "pay-api")),
				entity("b", "B", withAnnotation("bitbucket.org/repo-slug", "pay-web")),
			},
			repo: Ingested{Props: map[string]any{"slug": "pay-api"}},
			want: []Candidate{c("a", true, "pay-api")},
		},
		{
			name: "all rules must hold",
			rules: []Rule{
				{IngestedPath: "name", CatalogPath: "name", Op: Equals},
				{IngestedPath: "project.key", CatalogPath: "metadata.annotations.jira/project-key", Op: Equals},
			},
			entities: []*catalog.Entity{
				entity("right", "payments", withAnnotation("jira/project-key", "PAY")),
				entity("wrong", "payments", withAnnotation("jira/project-key", "OPS")),
				entity("none", "payments"),
			},
			repo: Ingested{Props: map[string]any{"name": "payments", "project": map[string]any{"key": "PAY"}}},
			want: []Candidate{c("right", true, "payments", "PAY")},
		},
		{
			name: "equals and contains together",
			rules: []Rule{
				{IngestedPath: "project.key", CatalogPath: "spec.system", Op: Equals},
				{IngestedPath: "name", CatalogPath: "name", Op: Contains},
			},
			entities: []*catalog.Entity{
				entity("a", "payments", func(e *catalog.Entity) { e.Spec = map[string]any{"system": "PAY"} }),
				entity("b", "payments", func(e *catalog.Entity) { e.Spec = map[string]any{"system": "OPS"} }),
				entity("c", "ledger", func(e *catalog.Entity) { e.Spec = map[string]any{"system": "PAY"} }),
			},
			repo: Ingested{Props: map[string]any{"name": "payments-api", "project": map[string]any{"key": "PAY"}}},
			want: []Candidate{c("a", false, "PAY", "payments")},
		},
		{
			name:  "no rules: identifier equals the derived one, ignoring case",
			rules: nil,
			entities: []*catalog.Entity{
				entity("payments_api", "x"), entity("Payments_API", "y"), entity("payments_api_v2", "z"), entity("paymentsapi", "w"),
			},
			repo: repo("payments-api"),
			want: []Candidate{c("payments_api", true, "payments_api"), c("Payments_API", false, "Payments_API")},
		},
		{
			name:     "no rules and no slug: nothing",
			entities: []*catalog.Entity{entity("_", "x")},
			repo:     Ingested{},
			want:     nil,
		},
		{
			name:  "several candidates: exact first, then longest, then identifier",
			rules: []Rule{{IngestedPath: "name", CatalogPath: "metadata.tags", Op: Contains}},
			entities: []*catalog.Entity{
				entity("z_short", "1", withTags("pay")), entity("b_long", "2", withTags("payments")),
				entity("a_long", "3", withTags("payments")), entity("whole", "4", withTags("payments-api")),
			},
			repo: repo("payments-api"),
			want: []Candidate{c("whole", true, "payments-api"), c("a_long", false, "payments"), c("b_long", false, "payments"), c("z_short", false, "pay")},
		},
		{
			name:  "kind and type filter",
			rules: DefaultRules(),
			entities: []*catalog.Entity{
				entity("svc", "payments"),
				entity("lib", "payments", withKindType("Component", "library")),
				entity("api", "payments", withKindType("API", "openapi")),
			},
			repo: repo("payments"),
			want: []Candidate{c("svc", true, "payments")},
		},
		{
			name:   "merge filter: any type of the kind",
			rules:  DefaultRules(),
			filter: NewFilter(BehaviorMerge, "component", "service"),
			entities: []*catalog.Entity{
				entity("svc", "payments"),
				entity("lib", "payments", withKindType("Component", "library")),
				entity("api", "payments", withKindType("API", "openapi")),
			},
			repo: repo("payments"),
			want: []Candidate{c("lib", true, "payments"), c("svc", true, "payments")},
		},
		{
			name:     "ingested props are read before the raw repository",
			rules:    DefaultRules(),
			entities: []*catalog.Entity{entity("mapped", "mapped-name"), entity("raw", "raw-name")},
			repo:     Ingested{Props: map[string]any{"name": "mapped-name"}, Raw: map[string]any{"name": "raw-name"}},
			want:     []Candidate{c("mapped", true, "mapped-name")},
		},
		{
			name:  "raw repository JSON reaches what the mapping left out",
			rules: []Rule{{IngestedPath: "links.html.href", CatalogPath: "metadata.links.url", Op: Equals}},
			entities: []*catalog.Entity{entity("a", "A", func(e *catalog.Entity) {
				e.Metadata = map[string]any{"links": []any{map[string]any{"title": "repo", "url": "https://bitbucket.org/acme/pay"}}}
			})},
			repo: Ingested{
				Props: map[string]any{"name": "pay"},
				Raw:   map[string]any{"links": map[string]any{"html": map[string]any{"href": "https://bitbucket.org/acme/pay"}}},
			},
			want: []Candidate{c("a", true, "https://bitbucket.org/acme/pay")},
		},
		{
			name:     "numbers and booleans compare in their text form",
			rules:    []Rule{{IngestedPath: "is_private", CatalogPath: "metadata.annotations.private", Op: Equals}},
			entities: []*catalog.Entity{entity("a", "A", withAnnotation("private", "true")), entity("b", "B", withAnnotation("private", "false"))},
			repo:     Ingested{Props: map[string]any{"is_private": true}},
			want:     []Candidate{c("a", true, "true")},
		},
		{
			name:  "ingested entity properties are catalog values too",
			rules: []Rule{{IngestedPath: "uuid", CatalogPath: "metadata.integration_properties.BitbucketCloud.uuid", Op: Equals}},
			entities: []*catalog.Entity{entity("a", "A", func(e *catalog.Entity) {
				e.IngestedProperties = map[string]map[string]any{"BitbucketCloud": {"uuid": "{u1}"}}
			})},
			repo: Ingested{Raw: map[string]any{"uuid": "{u1}"}},
			want: []Candidate{c("a", true, "{u1}")},
		},
		{
			name:     "a rule without an ingested value cannot hold",
			rules:    []Rule{{IngestedPath: "description", CatalogPath: "metadata.description", Op: Contains}},
			entities: []*catalog.Entity{entity("a", "A"), entity("b", "B", func(e *catalog.Entity) { e.Description = "d" })},
			repo:     repo("a"),
			want:     nil,
		},
		{
			name:     "an empty catalog value never matches",
			rules:    []Rule{{IngestedPath: "name", CatalogPath: "metadata.description", Op: Contains}},
			entities: []*catalog.Entity{entity("a", "A")},
			repo:     repo("anything"),
			want:     nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.filter
			if f == (Filter{}) {
				f = services
			}
			ix, err := NewIndex(tc.rules, f, targets(tc.entities...))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ix.Match(tc.repo)); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEmptyCatalogValueNeverMatches covers a target whose lookup yields an
// empty value (catalog entities drop them, other targets may not): it
// matches nothing, whichever rule drives, as the automaton already treats it.
func TestEmptyCatalogValueNeverMatches(t *testing.T) {
	t.Parallel()
	target := func(id string, vals map[string][]string) Target {
		return Target{ID: id, Identifier: id, Kind: "Component", Type: "service",
			Lookup: func(path catalog.Path) []string { return vals[path.String()] }}
	}
	ts := []Target{
		target("empty", map[string][]string{"name": {"pay"}, "spec.team": {""}}),
		target("full", map[string][]string{"name": {"pay"}, "spec.team": {"", "pay"}}),
	}
	for _, tc := range []struct {
		name  string
		rules []Rule
		in    Ingested
		want  []Candidate
	}{
		{
			name:  "contains on its own",
			rules: []Rule{{IngestedPath: "name", CatalogPath: "spec.team", Op: Contains}},
			in:    repo("pay"),
			want:  []Candidate{{TargetID: "full", Identifier: "full", Exact: true, MatchLen: 3, MatchedValue: "pay"}},
		},
		{
			name: "contains checked on the candidates of an equals rule",
			rules: []Rule{
				{IngestedPath: "name", CatalogPath: "name", Op: Equals},
				{IngestedPath: "name", CatalogPath: "spec.team", Op: Contains},
			},
			in:   repo("pay"),
			want: []Candidate{{TargetID: "full", Identifier: "full", Exact: true, MatchLen: 6, MatchedValue: "pay, pay"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ix, err := NewIndex(tc.rules, services, ts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ix.Match(tc.in)); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewIndexRejectsBadRules(t *testing.T) {
	t.Parallel()
	for _, r := range []Rule{
		{IngestedPath: "", CatalogPath: "name", Op: Equals},
		{IngestedPath: "name", CatalogPath: "title", Op: Equals},
		{IngestedPath: "name", CatalogPath: "name"},
	} {
		if _, err := NewIndex([]Rule{r}, services, nil); err == nil {
			t.Errorf("NewIndex accepted %+v", r)
		}
	}
}

func TestMatchIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	rules := []Rule{
		{IngestedPath: "name", CatalogPath: "name", Op: Contains},
		{IngestedPath: "name", CatalogPath: "metadata.tags", Op: Contains},
	}
	ix, err := NewIndex(rules, services, targets(
		entity("a", "pay", withTags("payments")), entity("b", "payments", withTags("pay")), entity("c", "ledger", withTags("pay")),
	))
	if err != nil {
		t.Fatal(err)
	}
	want := ix.Match(repo("payments-api"))
	if len(want) != 2 {
		t.Fatalf("Match = %v, want a and b", want)
	}
	done := make(chan []Candidate)
	for range 8 {
		go func() {
			var got []Candidate
			for range 200 {
				got = ix.Match(repo("payments-api"))
			}
			done <- got
		}()
	}
	for range 8 {
		if diff := cmp.Diff(want, <-done); diff != "" {
			t.Errorf("concurrent Match (-want +got):\n%s", diff)
		}
	}
}
