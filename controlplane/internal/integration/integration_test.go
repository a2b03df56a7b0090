package integration_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

var now = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// violations returns field -> description of an Invalid fault.
func violations(t *testing.T, err error) map[string]string {
	t.Helper()
	f := fault.As(err)
	if f == nil || f.Code != fault.Invalid {
		t.Fatalf("got %v, want an invalid-argument fault", err)
	}
	out := map[string]string{}
	for _, v := range f.Violations {
		out[v.Field] = v.Description
	}
	return out
}

func TestNormalizeConnector(t *testing.T) {
	t.Parallel()
	valid := func() integration.Connector {
		return integration.Connector{Name: "bb", URL: "https://bitbucket.org/Acme/payments", TokenRef: "env:BB_TOKEN"}
	}
	c := valid()
	if err := integration.NormalizeConnector(&c); err != nil {
		t.Fatal(err)
	}
	if c.Workspace != "acme" || c.Username != "x-token-auth" || c.APIBaseURL != integration.DefaultAPIBaseURL {
		t.Fatalf("defaults: %+v", c)
	}
	tests := []struct {
		name   string
		change func(*integration.Connector)
		field  string
		says   string
	}{
		{"ssh scp-like url", func(c *integration.Connector) { c.URL = "git@bitbucket.org:acme/payments.git" }, "connector.url", "use the HTTPS URL"},
		{"ssh url", func(c *integration.Connector) { c.URL = "ssh://git@bitbucket.org/acme/payments.git" }, "connector.url", "access token"},
		{"no workspace", func(c *integration.Connector) { c.URL = "https://bitbucket.org/" }, "connector.url", "workspace"},
		{"credentials in url", func(c *integration.Connector) { c.URL = "https://x:y@bitbucket.org/acme" }, "connector.url", "credentials"},
		{"other username", func(c *integration.Connector) { c.Username = "alice" }, "connector.username", "x-token-auth"},
		{"token value", func(c *integration.Connector) { c.TokenRef = "ATCTT3xFfGN0abc" }, "connector.token_ref", "never the token value"},
		{"empty token ref", func(c *integration.Connector) { c.TokenRef = "" }, "connector.token_ref", "required"},
		{"relative file ref", func(c *integration.Connector) { c.TokenRef = "file:token.txt" }, "connector.token_ref", "absolute"},
		{"bad env ref", func(c *integration.Connector) { c.TokenRef = "env:1X" }, "connector.token_ref", "environment variable"},
		{"token after env:", func(c *integration.Connector) { c.TokenRef = "env:ATCTT3xFfGN0abcdEFGH1234" }, "connector.token_ref", "looks like the access token"},
		{"app password after env:", func(c *integration.Connector) { c.TokenRef = "env:ATBB7qLmNpR2sT9vWx" }, "connector.token_ref", "looks like the access token"},
		{"random secret after env:", func(c *integration.Connector) { c.TokenRef = "env:x9Kq2LmZpR7tVw4YbN8cDf3Hj6" }, "connector.token_ref", "looks like the access token"},
		{"token with dashes after env:", func(c *integration.Connector) { c.TokenRef = "env:ATCTT3x-FfGN0=" }, "connector.token_ref", "environment variable"},
		{"plain http url", func(c *integration.Connector) { c.URL = "http://bitbucket.org/acme" }, "connector.url", "must use https"},
		{"token value among several", func(c *integration.Connector) { c.TokenRef, c.TokenRefs = "", []string{"env:A", "ATCTT3xFfGN0abc"} }, "connector.token_refs[1]", "never the token value"},
		{"same token twice", func(c *integration.Connector) { c.TokenRef, c.TokenRefs = "", []string{"env:A", "env:B", "env:A"} }, "connector.token_refs[2]", "given twice"},
		{"token_ref not the first", func(c *integration.Connector) { c.TokenRef, c.TokenRefs = "env:B", []string{"env:A", "env:B"} }, "connector.token_ref", "first of token_refs"},
		{"too many tokens", func(c *integration.Connector) {
			c.TokenRef, c.TokenRefs = "", nil
			for i := range 17 {
				c.TokenRefs = append(c.TokenRefs, fmt.Sprintf("env:T%d", i))
			}
		}, "connector.token_refs", "at most 16"},
		{"github url", func(c *integration.Connector) { c.URL = "https://github.com/acme" }, "connector.url", "Bitbucket Cloud workspace or repository URL"},
		{"bitbucket server url", func(c *integration.Connector) { c.URL = "https://bitbucket.example.com/acme" }, "connector.url", "Bitbucket Cloud"},
		{"bad api url", func(c *integration.Connector) { c.APIBaseURL = "ftp://x" }, "connector.api_base_url", "http(s)"},
		{"bad selector", func(c *integration.Connector) { c.DelegateSelectors = []string{"ok", "Not OK"} }, "connector.delegate_selectors[1]", "selector"},
		{"no name", func(c *integration.Connector) { c.Name = " " }, "connector.name", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.change(&c)
			v := violations(t, integration.NormalizeConnector(&c))
			if !strings.Contains(v[tt.field], tt.says) {
				t.Fatalf("violations %v: want %s saying %q", v, tt.field, tt.says)
			}
			if strings.Contains(v[tt.field], "ATCTT3x") || strings.Contains(v[tt.field], "ATBB7") || strings.Contains(v[tt.field], "x9Kq") {
				t.Fatal("the message echoes a token value")
			}
		})
	}
}

// token_refs is the connector's list; token_ref alone is a list of one,
// and both given agree on the first.
func TestNormalizeConnectorTokenRefs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ref      string
		refs     []string
		wantRef  string
		wantRefs []string
	}{
		{"env:A", nil, "env:A", []string{"env:A"}},
		{"", []string{" env:A ", "file:/run/secrets/b"}, "env:A", []string{"env:A", "file:/run/secrets/b"}},
		{"env:A", []string{"env:A", "env:B"}, "env:A", []string{"env:A", "env:B"}},
	} {
		c := integration.Connector{Name: "bb", URL: "https://bitbucket.org/acme", TokenRef: tt.ref, TokenRefs: tt.refs}
		if err := integration.NormalizeConnector(&c); err != nil {
			t.Fatalf("%q %q: %v", tt.ref, tt.refs, err)
		}
		if c.TokenRef != tt.wantRef || !slices.Equal(c.TokenRefs, tt.wantRefs) {
			t.Errorf("%q %q: got %q %q", tt.ref, tt.refs, c.TokenRef, c.TokenRefs)
		}
	}
}

// Ordinary variable names and a mock API base URL stay valid.
func TestNormalizeConnectorAccepts(t *testing.T) {
	t.Parallel()
	for _, c := range []integration.Connector{
		{Name: "a", URL: "https://bitbucket.org/acme", TokenRef: "env:BITBUCKET_WORKSPACE_ACCESS_TOKEN_PRODUCTION"},
		{Name: "b", URL: "https://www.bitbucket.org/acme/repo", TokenRef: "env:ATBB_TOKEN", APIBaseURL: "http://127.0.0.1:8089/2.0"},
		{Name: "c", URL: "https://bitbucket.org/acme", TokenRef: "env:bb_token_2", APIBaseURL: "https://mock.internal/2.0"},
	} {
		if err := integration.NormalizeConnector(&c); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
}

var conn = integration.Connector{ID: "con_1", AccountID: "acme", Workspace: "acme"}

func TestNewIntegrationDefaults(t *testing.T) {
	t.Parallel()
	in, err := integration.New(integration.Draft{Name: "main"}, conn, now)
	if err != nil {
		t.Fatal(err)
	}
	want := integration.Integration{AccountID: "acme", Name: "main", ConnectorID: "con_1", Workspace: "acme",
		Behavior: integration.RegisterAndMerge, Kind: "Component", Type: "service", Correlation: integration.DefaultCorrelation(),
		Fields: integration.DefaultFieldMappings(), SecondaryKinds: []integration.SecondaryKind{integration.PullRequests, integration.Commits},
		OwnerMapping: owners.Defaults("acme"),
		Frequency:    integration.Every3Hours, State: integration.Enabled, CreatedAt: now, UpdatedAt: now, NextSyncAt: now.Add(3 * time.Hour),
		Sweep: sweep.DefaultSettings}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Fatalf("defaults (-want +got):\n%s", diff)
	}
	merge, err := integration.New(integration.Draft{Name: "m", Behavior: integration.Merge, Kind: "API"}, conn, now)
	if err != nil || merge.Type != "" || merge.Kind != "API" {
		t.Fatalf("merge: %+v, %v", merge, err)
	}
	none := []integration.SecondaryKind{}
	repoOnly, err := integration.New(integration.Draft{Name: "r", SecondaryKinds: &none, Correlation: &[]integration.CorrelationRule{}}, conn, now)
	if err != nil || len(repoOnly.SecondaryKinds) != 0 || len(repoOnly.Correlation) != 0 {
		t.Fatalf("explicitly empty: %+v, %v", repoOnly, err)
	}
}

func TestNewIntegrationRejects(t *testing.T) {
	t.Parallel()
	rules := func(r ...integration.CorrelationRule) *[]integration.CorrelationRule { return &r }
	tests := []struct {
		name  string
		draft integration.Draft
		field string
	}{
		{"type with merge", integration.Draft{Behavior: integration.Merge, Type: "service"}, "integration.type"},
		{"unknown behavior", integration.Draft{Behavior: "SOMETIMES"}, "integration.behavior"},
		{"bad kind", integration.Draft{Kind: "component kind"}, "integration.kind"},
		{"bad type", integration.Draft{Type: "web service"}, "integration.type"},
		{"unknown frequency", integration.Draft{Frequency: "2h"}, "integration.update_frequency"},
		{"empty ingested path", integration.Draft{Correlation: rules(integration.CorrelationRule{CatalogPath: "name"})}, "integration.correlation.rules[0].ingested_path"},
		{"malformed ingested path", integration.Draft{Correlation: rules(integration.CorrelationRule{IngestedPath: "project..key", CatalogPath: "name"})}, "integration.correlation.rules[0].ingested_path"},
		{"malformed catalog path", integration.Draft{Correlation: rules(integration.CorrelationRule{IngestedPath: "name", CatalogPath: "metadata.tags."})}, "integration.correlation.rules[0].catalog_path"},
		{"unknown operator", integration.Draft{Correlation: rules(integration.CorrelationRule{IngestedPath: "name", CatalogPath: "name", Operator: "LIKE"})}, "integration.correlation.rules[0].operator"},
		{"duplicate rule", integration.Draft{Correlation: rules(integration.CorrelationRule{IngestedPath: "name", CatalogPath: "name"}, integration.CorrelationRule{IngestedPath: "name", CatalogPath: "name", Operator: integration.Equals})}, "integration.correlation.rules[1]"},
		{"bad field name", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "Default-Branch", Path: "mainbranch.name"}}}, "integration.field_mappings.mappings[0].name"},
		{"duplicate field name", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "a", Path: "x"}, {Name: "a", Path: "y"}}}, "integration.field_mappings.mappings[1].name"},
		{"bad field path", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "a", Path: ""}}}, "integration.field_mappings.mappings[0].path"},
		{"unmatchable field path", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "x", Path: "no.such.path"}}}, "integration.field_mappings.mappings[0].path"},
		{"field path through a scalar", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "x", Path: "name.first"}}}, "integration.field_mappings.mappings[0].path"},
		{"field path to an object with known fields", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "x", Path: "links.html"}}}, "integration.field_mappings.mappings[0].path"},
		{"field path to an unknown link field", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "x", Path: "links.clone.0.url"}}}, "integration.field_mappings.mappings[0].path"},
		{"unmatchable ingested path", integration.Draft{Correlation: rules(integration.CorrelationRule{IngestedPath: "no.such.path", CatalogPath: "name"})}, "integration.correlation.rules[0].ingested_path"},
		{"ingested path into a prefix of a mapped name", integration.Draft{Fields: &[]integration.FieldMapping{{Name: "team.name", Path: "project.name"}},
			Correlation: rules(integration.CorrelationRule{IngestedPath: "team.lead", CatalogPath: "name"})}, "integration.correlation.rules[0].ingested_path"},
		{"unknown secondary kind", integration.Draft{SecondaryKinds: &[]integration.SecondaryKind{"ISSUES"}}, "integration.secondary_kinds.kinds[0]"},
		{"duplicate secondary kind", integration.Draft{SecondaryKinds: &[]integration.SecondaryKind{integration.Commits, integration.Commits}}, "integration.secondary_kinds.kinds[1]"},
		{"future start date", integration.Draft{StartDate: now.Add(time.Hour)}, "integration.start_date"},
		{"bad workspace", integration.Draft{Workspace: "no spaces"}, "integration.workspace"},
		{"long name", integration.Draft{Name: strings.Repeat("x", 129)}, "integration.name"},
		{"bad project key in the filter", integration.Draft{Filter: repofilter.Filter{IncludeProjects: []string{"PAY", "a b"}}}, "integration.filter.include_projects[1]"},
		{"bad name glob in the filter", integration.Draft{Filter: repofilter.Filter{ExcludeNames: []string{"[a-"}}}, "integration.filter.exclude_names[0]"},
		{"unknown visibility", integration.Draft{Filter: repofilter.Filter{Visibility: "secret"}}, "integration.filter.visibility"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.draft.Name == "" {
				tt.draft.Name = "main"
			}
			_, err := integration.New(tt.draft, conn, now)
			if v := violations(t, err); v[tt.field] == "" {
				t.Fatalf("violations %v: want one for %s", v, tt.field)
			}
		})
	}
	// Every bad field is reported at once.
	_, err := integration.New(integration.Draft{Behavior: integration.Merge, Type: "x", Frequency: "2h"}, conn, now)
	if v := violations(t, err); len(v) != 3 { // name, type, frequency
		t.Fatalf("violations %v, want 3", v)
	}
}

// Paths are read by one parser (catalog.ParsePath) and checked against the
// repository JSON; list indexes are accepted wherever a list is.
func TestNewIntegrationAcceptsPaths(t *testing.T) {
	t.Parallel()
	fields := []integration.FieldMapping{
		{Name: "clone_https", Path: "links.clone.0.href"}, {Name: "clone_links", Path: "links.clone.href"},
		{Name: "project.key", Path: "project.key"}, {Name: "owner_name", Path: "owner.display_name"},
		{Name: "branch", Path: "mainbranch.name"}, {Name: "project_all", Path: "project"},
	}
	ruleList := []integration.CorrelationRule{
		{IngestedPath: "links.clone.0.href", CatalogPath: "metadata.annotations.bitbucket.org/repo-clone", Operator: integration.Contains},
		{IngestedPath: "project.key", CatalogPath: "metadata.links.0.url"},
		{IngestedPath: "project_all.name", CatalogPath: "spec.system"},
		{IngestedPath: "visibility", CatalogPath: "metadata.tags"},
	}
	in, err := integration.New(integration.Draft{Name: "main", Fields: &fields, Correlation: &ruleList}, conn, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Fields) != len(fields) || len(in.Correlation) != len(ruleList) {
		t.Fatalf("kept %d fields and %d rules", len(in.Fields), len(in.Correlation))
	}
}

func TestApplyUpdate(t *testing.T) {
	t.Parallel()
	base := func() integration.Integration {
		in, err := integration.New(integration.Draft{Name: "main"}, conn, now)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	later := now.Add(time.Hour)

	in := base()
	other := integration.Connector{ID: "con_2", Name: "second", Workspace: conn.Workspace}
	rules := []integration.CorrelationRule{{IngestedPath: "slug", CatalogPath: "identifier", Operator: integration.Contains}}
	changed, err := integration.Apply(&in, integration.Changes{Mask: []string{"name", "connector", "correlation", "field_mappings"},
		Draft: integration.Draft{Name: "renamed", Correlation: &rules, Fields: &[]integration.FieldMapping{{Name: "lang", Path: "language"}}}}, &other, later)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"name", "connector", "correlation", "field_mappings"}, changed); diff != "" {
		t.Fatalf("changed (-want +got):\n%s", diff)
	}
	if in.Name != "renamed" || in.ConnectorID != "con_2" || !in.UpdatedAt.Equal(later) {
		t.Fatalf("after update: %+v", in)
	}

	// A connector of another workspace is refused: the workspace is fixed.
	in = base()
	elsewhere := integration.Connector{ID: "con_3", Name: "globex", Workspace: "globex"}
	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"connector"}}, &elsewhere, later)
	if v := violations(t, err); !strings.Contains(v["integration.connector"], `workspace "globex"`) {
		t.Fatalf("connector of another workspace: %v", v)
	}
	if _, err := integration.New(integration.Draft{Name: "x", Workspace: "globex"}, conn, now); violations(t, err)["integration.workspace"] == "" {
		t.Fatalf("create for a workspace other than the connector's: %v", err)
	}

	// Only moving the start date back, or clearing it, asks for history.
	for _, c := range []struct {
		before, after time.Time
		want          bool
	}{{now, now.Add(-time.Hour), true}, {now, time.Time{}, true}, {now, now.Add(time.Hour), false},
		{time.Time{}, now, false}, {now, now, false}} {
		if got := integration.StartDateMovedBack(c.before, c.after); got != c.want {
			t.Errorf("StartDateMovedBack(%v, %v) = %v", c.before, c.after, got)
		}
	}

	// Any change of the secondary kinds is refused, also dropping one.
	for _, kinds := range [][]integration.SecondaryKind{{integration.Commits}, {}, {integration.PullRequests}} {
		in := base()
		_, err := integration.Apply(&in, integration.Changes{Mask: []string{"secondary_kinds"}, Draft: integration.Draft{SecondaryKinds: &kinds}}, nil, later)
		if f := fault.As(err); f == nil || f.Code != fault.FailedPrecondition || f.Reason != integration.ReasonSecondaryKindsLocked {
			t.Fatalf("secondary kinds %v: %v", kinds, err)
		}
	}
	// Restating the same kinds is not a change.
	in = base()
	same := []integration.SecondaryKind{integration.Commits, integration.PullRequests}
	if changed, err := integration.Apply(&in, integration.Changes{Mask: []string{"secondary_kinds"}, Draft: integration.Draft{SecondaryKinds: &same}}, nil, later); err != nil || changed != nil {
		t.Fatalf("same kinds: %v, %v", changed, err)
	}
	// The workspace cannot change; unknown and empty masks are invalid.
	in = base()
	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"workspace"}, Draft: integration.Draft{Workspace: "other"}}, nil, later)
	if v := violations(t, err); v["integration.workspace"] == "" {
		t.Fatalf("workspace change: %v", v)
	}
	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"state"}}, nil, later)
	if v := violations(t, err); v["update_mask"] == "" {
		t.Fatalf("unknown mask: %v", v)
	}
	// Switching to or from Merge states the type in the same change: a
	// behaviour change alone never changes the type, so what changed is
	// what was asked for.
	in = base()
	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"behavior"}, Draft: integration.Draft{Behavior: integration.Merge}}, nil, later)
	if v := violations(t, err); v["integration.type"] == "" || in.Type != "service" {
		t.Fatalf("to merge keeping the type: %v, type %q", v, in.Type)
	}
	changed, err = integration.Apply(&in, integration.Changes{Mask: []string{"behavior", "type"}, Draft: integration.Draft{Behavior: integration.Merge}}, nil, later)
	if err != nil || in.Type != "" || !slices.Equal(changed, []string{"behavior", "type"}) {
		t.Fatalf("to merge clearing the type: changed %v, type %q, %v", changed, in.Type, err)
	}
	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"behavior"}, Draft: integration.Draft{Behavior: integration.Register}}, nil, later)
	if v := violations(t, err); !strings.Contains(v["integration.type"], "required with behavior REGISTER") {
		t.Fatalf("from merge without a type: %v", v)
	}
	changed, err = integration.Apply(&in, integration.Changes{Mask: []string{"behavior", "type"}, Draft: integration.Draft{Behavior: integration.Register, Type: "library"}}, nil, later)
	if err != nil || in.Type != "library" || !slices.Equal(changed, []string{"behavior", "type"}) {
		t.Fatalf("from merge with a type: changed %v, type %q, %v", changed, in.Type, err)
	}
	in = base()
	if _, err := integration.Apply(&in, integration.Changes{Mask: []string{"behavior", "type"}, Draft: integration.Draft{Behavior: integration.Merge}}, nil, later); err != nil {
		t.Fatal(err)
	}
	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"type"}, Draft: integration.Draft{Type: "service"}}, nil, later)
	if v := violations(t, err); v["integration.type"] == "" {
		t.Fatalf("type with merge: %v", v)
	}
	// A frequency change moves the next sync.
	in = base()
	if _, err := integration.Apply(&in, integration.Changes{Mask: []string{"update_frequency"}, Draft: integration.Draft{Frequency: integration.Every30Minutes}}, nil, later); err != nil ||
		!in.NextSyncAt.Equal(later.Add(30*time.Minute)) {
		t.Fatalf("frequency: %+v, %v", in.NextSyncAt, err)
	}
}

// A filter is stored normalised, so an equal one given differently is no
// change; a filter change is one that can change the Discovered list.
func TestApplyFilter(t *testing.T) {
	t.Parallel()
	in, err := integration.New(integration.Draft{Name: "main", Filter: repofilter.Filter{IncludeProjects: []string{"pay", "OPS"}}}, conn, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Filter.IncludeProjects, []string{"OPS", "PAY"}) {
		t.Fatalf("stored filter %+v", in.Filter)
	}
	same := integration.Changes{Mask: []string{integration.FieldFilter}, Draft: integration.Draft{Filter: repofilter.Filter{IncludeProjects: []string{"PAY", "ops"}}}}
	if changed, err := integration.Apply(&in, same, nil, now); err != nil || len(changed) != 0 {
		t.Fatalf("equal filter: changed %v, %v", changed, err)
	}
	cleared := integration.Changes{Mask: []string{integration.FieldFilter}}
	changed, err := integration.Apply(&in, cleared, nil, now)
	if err != nil || !slices.Equal(changed, []string{integration.FieldFilter}) || !in.Filter.IsZero() {
		t.Fatalf("cleared: changed %v, %v, filter %+v", changed, err, in.Filter)
	}
	for _, tc := range []struct {
		changed []string
		want    bool
	}{
		{[]string{"name", "update_frequency"}, false},
		{[]string{"auto_import", "start_date"}, false},
		{[]string{"correlation"}, true},
		{[]string{"name", "behavior"}, true},
		{[]string{"kind"}, true},
		{[]string{"type"}, true},
		{[]string{"field_mappings"}, true},
		{[]string{"filter"}, true},
	} {
		if got := integration.ChangesDiscovered(tc.changed); got != tc.want {
			t.Errorf("ChangesDiscovered(%v) = %v, want %v", tc.changed, got, tc.want)
		}
	}
}

func TestFrequencies(t *testing.T) {
	t.Parallel()
	want := map[integration.Frequency]time.Duration{"30m": 30 * time.Minute, "1h": time.Hour, "3h": 3 * time.Hour, "6h": 6 * time.Hour, "12h": 12 * time.Hour, "1d": 24 * time.Hour}
	for f, d := range want {
		if !f.Valid() || f.Duration() != d {
			t.Errorf("%s: %v", f, f.Duration())
		}
	}
	if integration.Frequency("2h").Valid() {
		t.Error("2h accepted")
	}
}

// An integration's kind is one the catalog accepts, so that imports cannot
// fail later on a kind the integration was allowed to store.
func TestIntegrationKindIsACatalogKind(t *testing.T) {
	t.Parallel()
	_, err := integration.New(integration.Draft{Name: "w", Kind: "Widget"}, conn, now)
	desc := violations(t, err)["integration.kind"]
	if !strings.Contains(desc, `"Widget"`) || !strings.Contains(desc, "Component, API, Resource") {
		t.Fatalf("kind violation %q: want the kind and the valid kinds", desc)
	}

	in, err := integration.New(integration.Draft{Name: "c", Kind: "component"}, conn, now)
	if err != nil || in.Kind != "Component" {
		t.Fatalf("kind component: %q, %v; want the canonical Component", in.Kind, err)
	}

	_, err = integration.Apply(&in, integration.Changes{Mask: []string{"kind"}, Draft: integration.Draft{Kind: "Widget"}}, nil, now)
	if v := violations(t, err); v["integration.kind"] == "" {
		t.Fatalf("update to Widget: violations %v, want integration.kind", v)
	}
	changed, err := integration.Apply(&in, integration.Changes{Mask: []string{"kind"}, Draft: integration.Draft{Kind: "api"}}, nil, now)
	if err != nil || in.Kind != "API" || !slices.Equal(changed, []string{"kind"}) {
		t.Fatalf("update to api: kind %q, changed %v, %v; want API", in.Kind, changed, err)
	}
}

func TestApplyConnectorChanges(t *testing.T) {
	t.Parallel()
	base := func() integration.Connector {
		c := integration.Connector{ID: "con-1", Name: "bb", URL: "https://bitbucket.org/acme", TokenRef: "env:A", DelegateSelectors: []string{"eu"}}
		if err := integration.NormalizeConnector(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		draft    integration.Connector
		mask     []string
		wantRefs []string
		wantSel  []string
		field    string // a violation on it; "" for success
	}{
		{"add tokens", integration.Connector{TokenRefs: []string{"env:A", "env:B", "file:/run/secrets/c"}}, []string{"token_refs"},
			[]string{"env:A", "env:B", "file:/run/secrets/c"}, []string{"eu"}, ""},
		{"back to one token", integration.Connector{TokenRef: "env:B"}, []string{"token_ref"}, []string{"env:B"}, []string{"eu"}, ""},
		{"selectors only", integration.Connector{DelegateSelectors: []string{"prod", "eu"}}, []string{"delegate_selectors"},
			[]string{"env:A"}, []string{"eu", "prod"}, ""},
		{"duplicate token", integration.Connector{TokenRefs: []string{"env:A", "env:A"}}, []string{"token_refs"}, nil, nil, "connector.token_refs[1]"},
		{"token value", integration.Connector{TokenRefs: []string{"ATCTT3xFfGN0abc"}}, []string{"token_refs"}, nil, nil, "connector.token_refs[0]"},
		{"no tokens left", integration.Connector{}, []string{"token_refs"}, nil, nil, "connector.token_ref"},
		{"workspace fixed", integration.Connector{URL: "https://bitbucket.org/other"}, []string{"url"}, nil, nil, "connector.url"},
		{"empty mask", integration.Connector{Name: "x"}, nil, nil, nil, "update_mask"},
		{"empty name", integration.Connector{Name: " "}, []string{"name"}, nil, nil, "connector.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			err := integration.ApplyConnectorChanges(&c, tt.draft, tt.mask)
			if tt.field != "" {
				if v := violations(t, err); v[tt.field] == "" {
					t.Fatalf("violations %v: want one on %s", v, tt.field)
				}
				if b := base(); !slices.Equal(c.TokenRefs, b.TokenRefs) || c.Name != b.Name {
					t.Errorf("a refused change altered the connector: %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.TokenRefs, tt.wantRefs) || c.TokenRef != tt.wantRefs[0] || !slices.Equal(c.DelegateSelectors, tt.wantSel) {
				t.Errorf("got refs %q (first %q), selectors %q", c.TokenRefs, c.TokenRef, c.DelegateSelectors)
			}
			if c.ID != "con-1" || c.Workspace != "acme" {
				t.Errorf("identity changed: %+v", c)
			}
		})
	}
}
