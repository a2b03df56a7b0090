package catalog

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestYAMLGolden(t *testing.T) {
	e, err := Parse(readTestdata(t, "payments.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/payments.golden.yaml", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readTestdata(t, "payments.golden.yaml")
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("YAML (-want +got):\n%s", diff)
	}
}

func TestYAMLRoundTrips(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"payments.yaml", "payments.golden.yaml"} {
		first, err := Parse(readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		out, err := first.YAML()
		if err != nil {
			t.Fatal(err)
		}
		second, err := Parse(out)
		if err != nil {
			t.Fatalf("%s: rendered YAML does not parse: %v\n%s", name, err, out)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%s: round trip changed the entity (-first +second):\n%s", name, diff)
		}
	}
}

func TestYAMLKeepsValuesThatLookLikeOtherTypes(t *testing.T) {
	t.Parallel()
	e := &Entity{
		Kind: "Component", Type: "service", Identifier: "x", Name: "true", Owner: "123",
		Lifecycle: "2026-01-01", Description: "null", Tags: []string{"1.5", "yes", "<<"},
		Metadata: map[string]any{"annotations": map[string]any{"<<": "x", "a.b/c": "~"}},
	}
	out, err := e.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if diff := cmp.Diff(e, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s\n%s", diff, out)
	}
}

func TestYAMLRefusesInvalidEntity(t *testing.T) {
	t.Parallel()
	e := &Entity{Kind: "Component", Identifier: "x", Name: "x", Extra: map[string]any{"kind": "API"}}
	if _, err := e.YAML(); err == nil {
		t.Fatal("YAML of an entity without type, lifecycle and with a clashing extra field succeeded")
	}
}

// Every number of every section renders in plain decimal: the ingested
// properties (JSON numbers, all float64), the user's spec and metadata,
// and keys the IDP shape does not know (Extra), at any depth and in lists.
func TestYAMLWritesNumbersInPlainDecimal(t *testing.T) {
	t.Parallel()
	e := &Entity{
		Kind: "Component", Type: "service", Identifier: "x", Name: "x", Owner: "team", Lifecycle: "production",
		Spec:     map[string]any{"replicas": 3.0, "limits": map[string]any{"memory_bytes": 2147483648.0, "cpu": 0.25}},
		Metadata: map[string]any{"annotations": map[string]any{"weights": []any{1e7, 1e-7, 12.5}}},
		Extra:    map[string]any{"budget": 1.5e9},
	}
	if err := e.SetIngested("BitbucketCloud", map[string]any{"size": 29236454.0, "stats": map[string]any{"huge": 1e21}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.YAML()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"size: 29236454\n", "replicas: 3\n", "memory_bytes: 2147483648\n", "cpu: 0.25\n",
		"- 10000000\n", "- 0.0000001\n", "- 12.5\n", "budget: 1500000000\n", "huge: 1000000000000000000000\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("YAML lacks %q:\n%s", strings.TrimSpace(want), text)
		}
	}
	if regexp.MustCompile(`\d[eE][+-]?\d`).MatchString(text) {
		t.Errorf("YAML has a number in scientific notation:\n%s", text)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	size, _ := scalarString(back.IngestedProperties["BitbucketCloud"]["size"])
	if size != "29236454" {
		t.Errorf("size reads back as %q", size)
	}
}
