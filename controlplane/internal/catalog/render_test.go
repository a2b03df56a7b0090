package catalog

import (
	"flag"
	"os"
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
