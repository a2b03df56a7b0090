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
		// List indexes, as in correlation rules and field mappings.
		{"metadata.tags.1", []string{"payments"}},
		{"metadata.links.0.url", []string{"https://bitbucket.org/acme/payments-api"}},
		{"metadata.links.2.url", nil},
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
		if diff := cmp.Diff(tc.want, e.Lookup(MustParsePath(tc.path))); diff != "" {
			t.Errorf("Lookup(%q) (-want +got):\n%s", tc.path, diff)
		}
	}
}

func TestPathValuesKeysWithDotsAndIndexes(t *testing.T) {
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
		// A segment of digits selects a list element, everywhere.
		{"list.1.k", []string{"2.5"}},
		{"list.3", []string{"scalar"}},
		{"list.9.k", nil},
		{"deep.0", []string{"p", "q"}},
		{"deep.1.0", []string{"r"}},
		{"deep.0.1", []string{"q"}},
		{"typed.0", []string{"s1"}},
		{"typed.1", nil},
		{"typed.2", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, MustParsePath(tc.path).Values(tree)); diff != "" {
			t.Errorf("Values(%q) (-want +got):\n%s", tc.path, diff)
		}
	}
}

func TestPathValue(t *testing.T) {
	t.Parallel()
	repo := map[string]any{
		"name":       "payments",
		"is_private": true,
		"size":       json.Number("1024"),
		"project":    map[string]any{"key": "PAY", "name": "Payments"},
		"links": map[string]any{
			"html":  map[string]any{"href": "https://bitbucket.org/acme/payments"},
			"clone": []any{map[string]any{"name": "https", "href": "https://x@bitbucket.org/acme/payments.git"}, map[string]any{"name": "ssh", "href": "git@bitbucket.org:acme/payments.git"}},
		},
		"parent": nil,
	}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"name", "payments", true},
		{"is_private", true, true},
		{"size", json.Number("1024"), true},
		{"project", map[string]any{"key": "PAY", "name": "Payments"}, true},
		{"project.key", "PAY", true},
		{"links.html.href", "https://bitbucket.org/acme/payments", true},
		{"links.clone.0.href", "https://x@bitbucket.org/acme/payments.git", true},
		{"links.clone.1.name", "ssh", true},
		{"links.clone.href", []any{"https://x@bitbucket.org/acme/payments.git", "git@bitbucket.org:acme/payments.git"}, true},
		{"links.clone.2.href", nil, false},
		{"parent", nil, false},
		{"no.such.path", nil, false},
		{"name.first", nil, false},
	}
	for _, tc := range tests {
		got, ok := MustParsePath(tc.path).Value(repo)
		if ok != tc.ok {
			t.Errorf("Value(%q) found = %v, want %v", tc.path, ok, tc.ok)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Value(%q) (-want +got):\n%s", tc.path, diff)
		}
		// Values and Value agree on what a path reaches.
		if vals := MustParsePath(tc.path).Values(repo); (len(vals) > 0) != tc.ok && tc.path != "project" {
			t.Errorf("Values(%q) = %v, but Value found = %v", tc.path, vals, tc.ok)
		}
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"name", "links.clone.0.href", "metadata.annotations.bitbucket.org/repo-slug", "a.0.b.12"} {
		got, err := ParsePath(p)
		if err != nil || got.String() != p {
			t.Errorf("ParsePath(%q) = %v, %v", p, got, err)
		}
	}
	for _, p := range []string{"", ".name", "name.", "a..b", " name", "na\x01me", "a. b", string(make([]byte, MaxPathLen+1))} {
		if _, err := ParsePath(p); err == nil {
			t.Errorf("ParsePath(%q) accepted", p)
		}
	}
	if (Path{}).Values(map[string]any{"": "x"}) != nil {
		t.Error("the zero Path found something")
	}
}

func TestParseCatalogPath(t *testing.T) {
	t.Parallel()
	valid := []string{
		"name", "identifier", "owner", "type", "kind", "orgIdentifier", "projectIdentifier",
		"spec.lifecycle", "metadata.description", "metadata.tags",
		"metadata.annotations.bitbucket.org/repo-slug",
		"metadata.integration_properties.BitbucketCloud.project.key", "metadata.links.0.url",
	}
	for _, p := range valid {
		if _, err := ParseCatalogPath(p); err != nil {
			t.Errorf("ParseCatalogPath(%q) = %v", p, err)
		}
	}
	invalid := []string{
		"", ".name", "name.", "metadata..tags", "spec", "metadata", "name.first",
		"integration_properties.BitbucketCloud.name", "title", "metadata. tags", "metadata.ta\x01gs",
		"metadata." + string(make([]byte, MaxPathLen)),
	}
	for _, p := range invalid {
		if _, err := ParseCatalogPath(p); err == nil {
			t.Errorf("ParseCatalogPath(%q) accepted", p)
		}
	}
}
