package catalog

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFullEntity(t *testing.T) {
	t.Parallel()
	e, err := Parse(readTestdata(t, "payments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Entity{
		Kind:        "Component",
		Type:        "service",
		Identifier:  "payments_api",
		Name:        "Payments API",
		Owner:       "group:payments",
		Org:         "default",
		Project:     "pay",
		Lifecycle:   "production",
		Description: "Takes payments.",
		Tags:        []string{"java", "payments"},
		Spec: map[string]any{
			"dependsOn": []any{"component:ledger"},
			"system":    "billing",
		},
		Metadata: map[string]any{
			"annotations": map[string]any{
				"bitbucket.org/repo-slug": "payments-api",
				"jira/project-key":        "PAY",
			},
			"links": []any{
				map[string]any{"title": "repo", "url": "https://bitbucket.org/acme/payments-api"},
				map[string]any{"title": "runbook", "url": "https://wiki.example.com/pay"},
			},
		},
		Extra: map[string]any{"x-team-notes": "keep me"},
		Integrations: map[LinkKey]Link{
			RepositoryLink("account", "bb_acme"): {
				EntityUUID: "{5f1c5b43-0000-4000-8000-000000000001}",
				Action:     ActionMerge,
				ImportedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
			},
		},
		IngestedProperties: map[string]map[string]any{
			"BitbucketCloud": {
				"name":       "payments-api",
				"url":        "https://bitbucket.org/acme/payments-api",
				"is_private": true,
				"project":    map[string]any{"key": "PAY", "name": "Payments"},
				"size":       1024,
			},
		},
	}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseDefaultsAndNormalisation(t *testing.T) {
	t.Parallel()
	e, err := Parse([]byte("apiVersion: harness.io/v1\nkind: system\nidentifier: billing\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != "System" {
		t.Errorf("kind = %q, want the canonical System", e.Kind)
	}
	if e.Name != "billing" {
		t.Errorf("name = %q, want it to default to the identifier", e.Name)
	}
	if e.Scope() != "account" {
		t.Errorf("scope = %q, want account", e.Scope())
	}
}

func TestParseErrorsNameFieldAndLine(t *testing.T) {
	t.Parallel()
	const component = "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: pay\nspec:\n  lifecycle: production\n"
	tests := []struct {
		name string
		yaml string
		want []FieldError // Rule is matched as a substring
	}{
		{
			name: "wrong apiVersion",
			yaml: strings.Replace(component, "harness.io/v1", "backstage.io/v1alpha1", 1),
			want: []FieldError{{Field: "apiVersion", Line: 1, Rule: "must be harness.io/v1"}},
		},
		{
			name: "missing apiVersion",
			yaml: strings.Replace(component, "apiVersion: harness.io/v1\n", "", 1),
			want: []FieldError{{Field: "apiVersion", Line: 1, Rule: "required"}},
		},
		{
			name: "unknown kind lists the known ones",
			yaml: strings.Replace(component, "kind: Component", "kind: Service", 1),
			want: []FieldError{{Field: "kind", Line: 2, Rule: "Component, API, Resource"}},
		},
		{
			name: "missing kind",
			yaml: strings.Replace(component, "kind: Component\n", "", 1),
			want: []FieldError{{Field: "kind", Line: 1, Rule: "required"}},
		},
		{
			name: "type required for Component",
			yaml: strings.Replace(component, "type: service\n", "", 1),
			want: []FieldError{{Field: "type", Line: 1, Rule: "required for kind Component"}},
		},
		{
			name: "type required for API",
			yaml: "apiVersion: harness.io/v1\nkind: API\nidentifier: pay\n",
			want: []FieldError{{Field: "type", Line: 1, Rule: "required for kind API"}},
		},
		{
			name: "identifier with a hyphen",
			yaml: strings.Replace(component, "identifier: pay", "identifier: pay-api", 1),
			want: []FieldError{{Field: "identifier", Line: 4, Rule: "[a-zA-Z_]"}},
		},
		{
			name: "identifier starting with a digit",
			yaml: strings.Replace(component, "identifier: pay", "identifier: 9pay", 1),
			want: []FieldError{{Field: "identifier", Line: 4, Rule: "must match"}},
		},
		{
			name: "identifier too long",
			yaml: strings.Replace(component, "identifier: pay", "identifier: "+strings.Repeat("a", 129), 1),
			want: []FieldError{{Field: "identifier", Line: 4, Rule: "{0,127}"}},
		},
		{
			name: "identifier missing",
			yaml: strings.Replace(component, "identifier: pay\n", "", 1),
			want: []FieldError{{Field: "identifier", Line: 1, Rule: "required"}},
		},
		{
			name: "lifecycle required for Component, reported at spec",
			yaml: strings.Replace(component, "  lifecycle: production\n", "  system: billing\n", 1),
			want: []FieldError{{Field: "spec.lifecycle", Line: 5, Rule: "required for kind Component"}},
		},
		{
			name: "lifecycle required for Component without spec",
			yaml: strings.Replace(component, "spec:\n  lifecycle: production\n", "", 1),
			want: []FieldError{{Field: "spec.lifecycle", Line: 1, Rule: "required"}},
		},
		{
			name: "project without org",
			yaml: component + "projectIdentifier: pay\n",
			want: []FieldError{{Field: "projectIdentifier", Line: 7, Rule: "needs orgIdentifier"}},
		},
		{
			name: "bad org identifier",
			yaml: component + "orgIdentifier: my-org\n",
			want: []FieldError{{Field: "orgIdentifier", Line: 7, Rule: "must match"}},
		},
		{
			name: "name is a mapping",
			yaml: component + "name:\n  first: x\n",
			want: []FieldError{{Field: "name", Line: 7, Rule: "single value"}},
		},
		{
			name: "spec is a list",
			yaml: strings.Replace(component, "spec:\n  lifecycle: production\n", "spec: [a]\n", 1),
			want: []FieldError{{Field: "spec", Line: 5, Rule: "must be a mapping"}},
		},
		{
			name: "tags not a list",
			yaml: component + "metadata:\n  tags: java\n",
			want: []FieldError{{Field: "metadata.tags", Line: 8, Rule: "list of strings"}},
		},
		{
			name: "tag is a mapping",
			yaml: component + "metadata:\n  tags:\n    - java\n    - {a: b}\n",
			want: []FieldError{{Field: "metadata.tags[1]", Line: 10, Rule: "must be a string"}},
		},
		{
			name: "link with a bad action and time",
			yaml: component + "metadata:\n  integration:\n    account:\n      bb:\n        repository:\n          entity_uuid: u\n          entity_action: COPY\n          imported_at: yesterday\n",
			want: []FieldError{
				{Field: "metadata.integration.account.bb.repository.entity_action", Line: 13, Rule: "must be REGISTER or MERGE"},
				{Field: "metadata.integration.account.bb.repository.imported_at", Line: 14, Rule: "RFC 3339"},
			},
		},
		{
			name: "link under a bad scope",
			yaml: component + "metadata:\n  integration:\n    org/default:\n      bb:\n        repository: {entity_uuid: u, entity_action: REGISTER, imported_at: 2026-01-02T03:04:05Z}\n",
			want: []FieldError{{Field: "metadata.integration.org/default", Line: 9, Rule: "want account"}},
		},
		{
			name: "link with an unknown field",
			yaml: component + "metadata:\n  integration:\n    account:\n      bb:\n        repository: {entity_uuid: u, entity_action: REGISTER, imported_at: 2026-01-02T03:04:05Z, extra: 1}\n",
			want: []FieldError{{Field: "metadata.integration.account.bb.repository.extra", Line: 11, Rule: "unknown link field"}},
		},
		{
			name: "ingested source is not a mapping",
			yaml: component + "metadata:\n  integration_properties:\n    BitbucketCloud: [a]\n",
			want: []FieldError{{Field: "metadata.integration_properties.BitbucketCloud", Line: 9, Rule: "must be a mapping"}},
		},
		{
			name: "several problems at once, in line order",
			yaml: "apiVersion: harness.io/v1\nkind: Component\nidentifier: 1x\nprojectIdentifier: p\n",
			want: []FieldError{
				{Field: "spec.lifecycle", Line: 1, Rule: "required"},
				{Field: "type", Line: 1, Rule: "required"},
				{Field: "identifier", Line: 3, Rule: "must match"},
				{Field: "projectIdentifier", Line: 4, Rule: "needs orgIdentifier"},
			},
		},
		{
			// The YAML library counts this line from the start of the
			// unclosed flow sequence, from 0; the line is its, not ours.
			name: "malformed YAML carries the line",
			yaml: "apiVersion: harness.io/v1\nkind: Component\nidentifier: [pay\n",
			want: []FieldError{{Field: "", Line: 2, Rule: "did not find expected ',' or ']'"}},
		},
		{
			name: "bad indentation",
			yaml: "apiVersion: harness.io/v1\nkind: Component\n  identifier: pay\n",
			want: []FieldError{{Field: "", Line: 3, Rule: "malformed YAML"}},
		},
		{
			name: "duplicate key",
			yaml: component + "identifier: again\n",
			want: []FieldError{{Field: "", Line: 7, Rule: `"identifier" already defined at line 4`}},
		},
		{
			name: "empty document",
			yaml: "# nothing here\n",
			want: []FieldError{{Rule: "document is empty"}},
		},
		{
			name: "null document",
			yaml: "---\n~\n",
			want: []FieldError{{Line: 2, Rule: "document is empty"}},
		},
		{
			name: "not a mapping",
			yaml: "- a\n- b\n",
			want: []FieldError{{Line: 1, Rule: "must be a mapping"}},
		},
		{
			name: "two documents",
			yaml: component + "---\n" + component,
			want: []FieldError{{Line: 7, Rule: "second YAML document"}},
		},
		{
			name: "self-referencing anchor",
			yaml: component + "metadata: &m\n  x: *m\n",
			want: []FieldError{{Rule: "contains itself"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.yaml))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v, want a *ValidationError", err)
			}
			if len(ve.Errors) != len(tc.want) {
				t.Fatalf("got %d errors, want %d: %v", len(ve.Errors), len(tc.want), err)
			}
			for i, want := range tc.want {
				got := ve.Errors[i]
				if got.Field != want.Field || got.Line != want.Line || !strings.Contains(got.Rule, want.Rule) {
					t.Errorf("error %d = %+v, want field %q line %d rule containing %q", i, got, want.Field, want.Line, want.Rule)
				}
			}
		})
	}
}

func TestParseRejectsOversizedDocument(t *testing.T) {
	t.Parallel()
	_, err := Parse(make([]byte, MaxDocumentSize+1))
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Errors[0].Rule, "at most") {
		t.Fatalf("Parse = %v, want a size error", err)
	}
}

func TestValidationErrorMessage(t *testing.T) {
	t.Parallel()
	err := &ValidationError{Errors: []FieldError{
		{Field: "identifier", Line: 4, Rule: "required"},
		{Line: 9, Rule: "malformed YAML: x"},
		{Field: "type", Rule: "required"},
	}}
	want := "invalid catalog entity: line 4: identifier: required; line 9: malformed YAML: x; type: required"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
