package catalog

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// renders to YAML that parses again and renders to the same bytes; and
// that whatever ParseSubmitted accepts (what users can store) renders
// within MaxSubmittedSize and is stored as a document that reads back.
// Plain `go test` runs the seeds; scripts/test.sh explores for a bounded
// time.
func FuzzParse(f *testing.F) {
	f.Add(readTestdata(f, "payments.yaml"))
	f.Add([]byte("apiVersion: harness.io/v1\nkind: Group\nidentifier: g\n"))
	f.Add([]byte("apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: a\nspec: {lifecycle: x}\nmetadata: &m {tags: [1, true, 2.5], b: *m}\n"))
	f.Add([]byte("apiVersion: harness.io/v1\nkind: API\ntype: openapi\nidentifier: a\nmetadata:\n  1: one\n  ? [x]\n  : y\n"))
	f.Add([]byte("base: &b {kind: Component}\n<<: *b\napiVersion: harness.io/v1\nidentifier: x\ntype: t\nspec: {lifecycle: l}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte(laughs(10, 7)))
	f.Add([]byte(header + "metadata: {x: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}\n"))
	f.Add([]byte("{{{{"))
	f.Add([]byte("\xff\xfe"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		first, err := e.YAML()
		if err != nil {
			t.Fatalf("accepted entity does not render: %v", err)
		}
		again, err := Parse(first)
		if err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, first)
		}
		second, err := again.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("rendering is not stable:\n%s\n---\n%s", first, second)
		}
		submitted, err := ParseSubmitted(data)
		if err != nil {
			return
		}
		if len(first) > MaxSubmittedSize {
			t.Fatalf("accepted a document rendering to %d bytes", len(first))
		}
		if _, err := submitted.Document(); err != nil {
			t.Fatalf("accepted a document that cannot be stored: %v", err)
		}
	})
}

// FuzzPath checks that the one path parser never panics, that what it
// accepts reads back as given, and that reading any accepted path from a
// tree with lists, dotted keys and scalars never panics and agrees between
// Values and Value.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"name", "links.clone.0.href", "links.clone.href", "metadata.annotations.bitbucket.org/repo-slug",
		"a..b", ".", "0", "list.999999999999", "deep.0.1", " x", "x\x00y", "é.ü"} {
		f.Add(s)
	}
	tree := map[string]any{
		"name": "payments", "a": map[string]any{"b": "short", "b.c": "long"}, "a.b": "whole",
		"list":  []any{map[string]any{"k": 1}, "scalar", nil, []any{"x"}},
		"deep":  []any{[]any{"p", "q"}, []any{"r"}},
		"links": map[string]any{"clone": []any{map[string]any{"href": "h0"}, map[string]any{"href": "h1"}}},
		"tags":  []string{"t0", ""},
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if p.String() != s || strings.Join(p.Segments(), ".") != s {
			t.Fatalf("ParsePath(%q) reads back as %q", s, p.String())
		}
		vals := p.Values(tree)
		if _, ok := p.Value(tree); !ok && len(vals) > 0 {
			t.Fatalf("Values(%q) = %v but Value found nothing", s, vals)
		}
		_, _ = ParseCatalogPath(s)
	})
}
