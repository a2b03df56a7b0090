package backstage

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

func entity(t *testing.T, yaml string) *catalog.Entity {
	t.Helper()
	e, err := catalog.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, yaml)
	}
	return e
}

const payments = `apiVersion: harness.io/v1
kind: Component
type: service
identifier: payments_api
name: Payments API
owner: group:payments
spec:
  lifecycle: production
  system: billing
  dependsOn: [resource:default/payments-db]
metadata:
  description: Takes payments.
  tags: [java, tier-1]
  annotations:
    pagerduty.com/service-id: P123
  links:
    - url: https://runbooks.example.com/payments
      title: Runbook
  labels:
    team: payments
`

func TestExport(t *testing.T) {
	linked := entity(t, payments)
	if err := linked.Link(catalog.RepositoryLink(catalog.ScopeAccount, "int_1"), catalog.Link{EntityUUID: "{6f1a}", Action: catalog.ActionRegister, ImportedAt: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := linked.SetIngested("BitbucketCloud", map[string]any{"full_name": "acme/payments-api", "url": "https://bitbucket.org/acme/payments-api", "default_branch": "main"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		e      *catalog.Entity
		want   string // rendered document, "" when not exported
		issues []string
	}{
		{name: "component", e: entity(t, payments), want: `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  annotations:
    pagerduty.com/service-id: P123
  description: Takes payments.
  labels:
    team: payments
  links:
    - title: Runbook
      url: https://runbooks.example.com/payments
  name: payments_api
  tags:
    - java
    - tier-1
  title: Payments API
spec:
  dependsOn:
    - resource:default/payments-db
  lifecycle: production
  owner: group:payments
  system: billing
  type: service
`},
		{name: "linked to a repository", e: linked, issues: []string{"metadata.integration:", "metadata.integration_properties:"}, want: `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  annotations:
    backstage.io/source-location: url:https://bitbucket.org/acme/payments-api/src/main/
    bitbucket.com/project-slug: acme/payments-api
    bitbucket.org/repo-url: https://bitbucket.org/acme/payments-api
    pagerduty.com/service-id: P123
  description: Takes payments.
  labels:
    team: payments
  links:
    - title: Runbook
      url: https://runbooks.example.com/payments
  name: payments_api
  tags:
    - java
    - tier-1
  title: Payments API
spec:
  dependsOn:
    - resource:default/payments-db
  lifecycle: production
  owner: group:payments
  system: billing
  type: service
`},
		{name: "project scope and a bad tag", e: entity(t, "apiVersion: harness.io/v1\nkind: Group\nidentifier: payments\nname: payments\norgIdentifier: fin\nprojectIdentifier: core\nmetadata:\n  tags: [Payments Team]\n"),
			issues: []string{`metadata.tags: tag "Payments Team" is not a valid Backstage tag`}, want: `apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  annotations:
    harness.io/org-identifier: fin
    harness.io/project-identifier: core
  name: payments
`},
		{name: "component without owner", e: entity(t, "apiVersion: harness.io/v1\nkind: Component\ntype: library\nidentifier: lib\nspec:\n  lifecycle: experimental\n"),
			issues: []string{"owner: empty; Backstage requires spec.owner"}, want: "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: lib\nspec:\n  lifecycle: experimental\n  type: library\n"},
		{name: "kind without counterpart", e: entity(t, "apiVersion: harness.io/v1\nkind: Workflow\nidentifier: onboard\n"),
			issues: []string{"kind Workflow has no Backstage counterpart"}},
		{name: "identifier that is not a Backstage name", e: entity(t, "apiVersion: harness.io/v1\nkind: System\nidentifier: _internal\n"),
			issues: []string{"identifier: not a valid Backstage name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, issues, ok := Export(tc.e)
			if ok != (tc.want != "") {
				t.Fatalf("exported = %v, issues %v", ok, issues)
			}
			checkIssues(t, issues, tc.issues)
			if !ok {
				return
			}
			got, err := Render([]Document{doc})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Fatalf("rendered (-want +got):\n%s", diff)
			}
		})
	}
}

func checkIssues(t *testing.T, got []Issue, want []string) {
	t.Helper()
	var texts []string
	for _, i := range got {
		texts = append(texts, i.Field+": "+i.Problem)
	}
	if len(texts) != len(want) {
		t.Fatalf("issues %q, want %d containing %q", texts, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(texts[i], w) {
			t.Fatalf("issue %d = %q, want it to contain %q", i, texts[i], w)
		}
	}
}

func TestImport(t *testing.T) {
	stream := `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: artist-web
  title: Artist Web
  namespace: music
  uid: 1234
  description: The place to be, for great artists
  tags: [web]
  annotations:
    bitbucket.com/project-slug: roadie-demo/artist-web
    backstage.io/managed-by-location: url:https://bitbucket.org/roadie-demo/artist-web/src/main/catalog-info.yaml
spec:
  type: website
  lifecycle: production
  owner: artist-relations-team
  system: artist-engagement-portal
relations:
  - type: ownedBy
    targetRef: group:default/artist-relations-team
---
apiVersion: backstage.io/v1alpha1
kind: Template
metadata:
  name: new-service
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: x
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: no-lifecycle
spec:
  type: service
  owner: me
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: artist-relations-team
  annotations:
    harness.io/org-identifier: music
spec:
  type: team
  children: []
`
	got, issues, err := Import([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	checkIssues(t, issues, []string{
		`metadata.name: "artist-web" is not a catalog identifier; imported as artist_web`,
		`metadata.annotations.backstage.io/managed-by-location: set by Backstage`,
		`metadata.namespace: namespace "music" has no counterpart`,
		`metadata.uid: set by Backstage`,
		`relations: no counterpart in the catalog`,
		`kind: kind "Template" has no counterpart`,
		`apiVersion: "v1" is not a Backstage entity`,
		`metadata.name: "no-lifecycle" is not a catalog identifier`,
		`not a valid entity once mapped: invalid catalog entity: line 1: spec.lifecycle: required for kind Component`,
		`metadata.name: "artist-relations-team" is not a catalog identifier; imported as artist_relations_team`,
	})
	if !issues[5].Skipped || !issues[6].Skipped || !issues[8].Skipped || issues[0].Skipped || issues[7].Skipped {
		t.Fatalf("skipped flags wrong: %+v", issues)
	}
	if len(got) != 2 {
		t.Fatalf("imported %d entities, want 2", len(got))
	}
	web := got[0].Entity
	want := &catalog.Entity{Kind: "Component", Type: "website", Identifier: "artist_web", Name: "Artist Web", Owner: "artist-relations-team",
		Lifecycle: "production", Description: "The place to be, for great artists", Tags: []string{"web"},
		Spec:     map[string]any{"system": "artist-engagement-portal"},
		Metadata: map[string]any{"annotations": map[string]any{"bitbucket.com/project-slug": "roadie-demo/artist-web"}}}
	if diff := cmp.Diff(want, web, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("artist-web (-want +got):\n%s", diff)
	}
	if got[0].Source != "document 1 (artist-web)" {
		t.Fatalf("source %q", got[0].Source)
	}
	if g := got[1].Entity; g.Org != "music" || g.Kind != "Group" || g.Metadata["annotations"] != nil {
		t.Fatalf("group: %+v", g)
	}
}

func TestImportRefusesAnUnreadableStream(t *testing.T) {
	for _, s := range []string{"kind: [\n", "just text\n", "apiVersion: backstage.io/v1alpha1\n---\n- a list\n"} {
		if _, _, err := Import([]byte(s)); err == nil {
			t.Fatalf("%q was accepted", s)
		}
	}
}

// TestRoundTrip exports entities and imports the result: what maps comes
// back the same; what an export adds from a linked repository are the
// Bitbucket annotations, and what it leaves out is reported.
func TestRoundTrip(t *testing.T) {
	sources := []string{payments,
		"apiVersion: harness.io/v1\nkind: API\ntype: openapi\nidentifier: payments_v2\nname: Payments v2\nowner: user:alice\nspec:\n  lifecycle: production\n  definition: \"openapi: 3.0.0\"\n",
		"apiVersion: harness.io/v1\nkind: Resource\ntype: database\nidentifier: payments-db\nowner: group:dba\norgIdentifier: fin\nmetadata:\n  annotations:\n    x.example/tier: \"1\"\n",
		"apiVersion: harness.io/v1\nkind: User\nidentifier: alice\nname: Alice Martin\nspec:\n  profile:\n    email: alice@example.com\n  memberOf: [payments]\n",
	}
	for _, src := range sources {
		if strings.Contains(src, "payments-db") {
			src = strings.Replace(src, "payments-db", "payments_db", 1)
		}
		orig := entity(t, src)
		doc, issues, ok := Export(orig)
		if !ok || len(issues) > 0 {
			t.Fatalf("%s: export ok=%v issues %v", orig.Identifier, ok, issues)
		}
		text, err := Render([]Document{doc})
		if err != nil {
			t.Fatal(err)
		}
		back, issues, err := Import(text)
		if err != nil || len(issues) > 0 || len(back) != 1 {
			t.Fatalf("%s: import %v %v (%d entities)\n%s", orig.Identifier, err, issues, len(back), text)
		}
		if diff := cmp.Diff(orig, back[0].Entity, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%s round trip (-before +after):\n%s\n%s", orig.Identifier, diff, text)
		}
	}

	linked := entity(t, payments)
	if err := linked.SetIngested("BitbucketCloud", map[string]any{"full_name": "acme/payments-api", "url": "https://bitbucket.org/acme/payments-api", "default_branch": "main"}); err != nil {
		t.Fatal(err)
	}
	doc, _, _ := Export(linked)
	text, _ := Render([]Document{doc})
	back, _, err := Import(text)
	if err != nil || len(back) != 1 {
		t.Fatal(err)
	}
	annotations := back[0].Entity.Metadata["annotations"].(map[string]any)
	for k, want := range map[string]string{AnnotationProjectSlug: "acme/payments-api", AnnotationRepoURL: "https://bitbucket.org/acme/payments-api",
		AnnotationSourceLocation: "url:https://bitbucket.org/acme/payments-api/src/main/"} {
		if annotations[k] != want {
			t.Fatalf("annotation %s = %v, want %s", k, annotations[k], want)
		}
	}
	if back[0].Entity.IngestedProperties != nil {
		t.Fatal("ingested properties came back from an export")
	}
}

// FuzzImport holds Import to its promise for any input: an error or
// entities that are valid, never a panic.
func FuzzImport(f *testing.F) {
	f.Add("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a-b\nspec:\n  type: service\n  lifecycle: x\n  owner: me\n")
	f.Add("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: g\n  annotations: [1]\n---\n{}\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, _, err := Import([]byte(s))
		if err != nil {
			return
		}
		for _, imp := range got {
			if err := imp.Entity.Validate(); err != nil {
				t.Fatalf("%s imported invalid: %v", imp.Source, err)
			}
			if _, issues, _ := Export(imp.Entity); len(issues) > 100 {
				t.Fatal("unbounded issues")
			}
		}
	})
}
