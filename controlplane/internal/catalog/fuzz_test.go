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
