package discoverysvc_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/correlate"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
)

// fuzzRaw is a repository as Bitbucket sends it, for the paths to walk.
const fuzzRaw = `{"name":"payments","slug":"payments","project":{"key":"PAY"},"mainbranch":{"name":"main"},
"links":{"html":{"href":"https://bitbucket.org/acme/payments"},"clone":[{"name":"https","href":"https://x"},{"name":"ssh","href":"git@x"}]},
"is_private":true,"size":12,"tags":["a","b"]}`

// FuzzPaths feeds correlation and field mapping paths to the checks an
// integration goes through, then walks every accepted path through the
// data it will read, as discovery does: the checks never panic, what they accept fits the
// contract's bounds and the catalog's path syntax, and resolving an
// accepted path never panics. Plain `go test` runs the seeds;
// scripts/test.sh explores for a bounded time.
func FuzzPaths(f *testing.F) {
	for _, seed := range [][3]string{
		{"name", "name", "mainbranch.name"},
		{"links.clone.0.href", "metadata.annotations.bitbucket.org/repo-slug", "links.html.href"},
		{"project.key", "metadata.tags", "tags.1"},
		{"a..b", ".name", "x."},
		{"name\x00", "spec.lifecycle", "0"},
		{strings.Repeat("a.", 200), "metadata.a/b/c", "links.clone.-1.href"},
		{"é", "metadata.é", "\xff"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(fuzzRaw), &raw); err != nil {
		f.Fatal(err)
	}
	entity, err := catalog.Parse([]byte("apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: payments\n" +
		"spec: {lifecycle: production}\nmetadata:\n  tags: [a, b]\n  annotations: {bitbucket.org/repo-slug: payments}\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ingested, catalogPath, fieldPath string) {
		rules := []integration.CorrelationRule{{IngestedPath: ingested, CatalogPath: catalogPath, Operator: integration.Equals}}
		fields := []integration.FieldMapping{{Name: "mapped", Path: fieldPath}}
		in, err := integration.New(integration.Draft{Name: "fuzz", Correlation: &rules, Fields: &fields},
			integration.Connector{ID: "con_1", AccountID: "acme", Workspace: "acme"}, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
		_ = correlate.Rule{IngestedPath: ingested, CatalogPath: catalogPath, Op: correlate.Equals}.Validate()
		if err != nil {
			return
		}
		for _, p := range []string{ingested, catalogPath, fieldPath} {
			if len(p) > 256 || strings.IndexFunc(p, unicode.IsControl) >= 0 {
				t.Fatalf("accepted path %q is past the contract's bounds", p)
			}
		}
		ingestedPath, err := catalog.ParsePath(ingested)
		if err != nil {
			t.Fatalf("accepted ingested path %q does not parse: %v", ingested, err)
		}
		catPath, err := catalog.ParseCatalogPath(catalogPath)
		if err != nil {
			t.Fatalf("accepted catalog path %q does not parse: %v", catalogPath, err)
		}
		field, err := catalog.ParsePath(fieldPath)
		if err != nil {
			t.Fatalf("accepted field path %q does not parse: %v", fieldPath, err)
		}
		ingestedPath.Values(raw)
		entity.Lookup(catPath)
		field.Value(raw)
		discoverysvc.Props(in.Fields, raw)
	})
}
