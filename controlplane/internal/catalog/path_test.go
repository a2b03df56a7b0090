package catalog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	e, err := Parse(readTestdata(t, "payments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"name", []string{"Payments API"}},
		{"identifier", []string{"payments_api"}},
		{"kind", []string{"Component"}},
		{"apiVersion", []string{"harness.io/v1"}},
		{"orgIdentifier", []string{"default"}},
		{"spec.lifecycle", []string{"production"}},
		{"spec.system", []string{"billing"}},
		{"spec.dependsOn", []string{"component:ledger"}},
		{"metadata.description", []string{"Takes payments."}},
		{"metadata.tags", []string{"java", "payments"}},
		{"metadata.annotations.bitbucket.org/repo-slug", []string{"payments-api"}},
		{"metadata.annotations.jira/project-key", []string{"PAY"}},
		{"metadata.links.url", []string{"https://bitbucket.org/acme/payments-api", "https://wiki.example.com/pay"}},
		{"metadata.integration_properties.BitbucketCloud.name", []string{"payments-api"}},
		{"metadata.integration_properties.BitbucketCloud.project.key", []string{"PAY"}},
		{"metadata.integration_properties.BitbucketCloud.is_private", []string{"true"}},
		{"metadata.integration_properties.BitbucketCloud.size", []string{"1024"}},
		{"metadata.integration.account.bb_acme.repository.entity_action", []string{"MERGE"}},
		{"metadata.integration.account.bb_acme.repository.imported_at", []string{"2026-11-24T10:00:00Z"}},
		{"x-team-notes", []string{"keep me"}},
		// Mappings, missing keys and paths through scalars yield nothing.
		{"spec", nil},
		{"metadata.annotations", nil},
		{"metadata.annotations.bitbucket", nil},
		{"metadata.missing", nil},
		{"name.first", nil},
		{"owner.x", nil},
		{"projectIdentifier.x", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, e.Lookup(tc.path)); diff != "" {
			t.Errorf("Lookup(%q) (-want +got):\n%s", tc.path, diff)
		}
	}
}

func TestResolveKeysWithDots(t *testing.T) {
	t.Parallel()
	tree := map[string]any{
		"a":     map[string]any{"b": "short", "b.c": "long"},
		"a.b":   "whole",
		"x.y":   map[string]any{"z": "nested under a dotted key"},
		"list":  []any{map[string]any{"k": 1}, map[string]any{"k": 2.5}, map[string]any{"other": 3}, "scalar"},
		"deep":  []any{[]any{"p", "q"}, []any{"r"}},
		"empty": "",
		"null":  nil,
		"typed": []string{"s1", ""},
		"when":  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"num":   json.Number("42.0"),
	}
	tests := []struct {
		path string
		want []string
	}{
		{"a.b", []string{"whole"}}, // the longest key wins at each level
		{"a.b.c", nil},             // "a.b" is taken and has no "c": no backtracking to "a" then "b.c"
		{"x.y.z", []string{"nested under a dotted key"}},
		{"list.k", []string{"1", "2.5"}},
		{"list", []string{"scalar"}},
		{"deep", []string{"p", "q", "r"}},
		{"empty", nil},
		{"null", nil},
		{"typed", []string{"s1"}},
		{"when", []string{"2026-01-02T03:04:05Z"}},
		{"num", []string{"42"}},
		{"a", nil},
		{"nope", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, Resolve(tree, tc.path)); diff != "" {
			t.Errorf("Resolve(%q) (-want +got):\n%s", tc.path, diff)
		}
	}
}

func TestValidateCatalogPath(t *testing.T) {
	t.Parallel()
	valid := []string{
		"name", "identifier", "owner", "type", "kind", "orgIdentifier", "projectIdentifier",
		"spec.lifecycle", "metadata.description", "metadata.tags",
		"metadata.annotations.bitbucket.org/repo-slug",
		"metadata.integration_properties.BitbucketCloud.project.key",
	}
	for _, p := range valid {
		if err := ValidateCatalogPath(p); err != nil {
			t.Errorf("ValidateCatalogPath(%q) = %v", p, err)
		}
	}
	invalid := []string{
		"", ".name", "name.", "metadata..tags", "spec", "metadata", "name.first",
		"integration_properties.BitbucketCloud.name", "title", "metadata. tags", "metadata.ta\x01gs",
		"metadata." + string(make([]byte, MaxPathLen)),
	}
	for _, p := range invalid {
		if err := ValidateCatalogPath(p); err == nil {
			t.Errorf("ValidateCatalogPath(%q) accepted", p)
		}
	}
}
