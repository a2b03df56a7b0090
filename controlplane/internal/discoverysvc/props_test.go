package discoverysvc_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
)

func TestPropsLeavesOutValuesPastTheLimits(t *testing.T) {
	t.Parallel()
	list := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = "x"
		}
		return out
	}
	deep := any("leaf")
	for range 20 {
		deep = map[string]any{"a": deep}
	}
	raw := map[string]any{
		"small": "ok", "long": strings.Repeat("x", 5000), "many": list(200), "deep": deep,
		"fits": list(50),
	}
	fields := []integration.FieldMapping{{Name: "small", Path: "small"}, {Name: "long", Path: "long"},
		{Name: "many", Path: "many"}, {Name: "deep", Path: "deep"}, {Name: "fits", Path: "fits"}}
	got := discoverysvc.Props(fields, raw)
	for _, kept := range []string{"small", "fits"} {
		if _, ok := got[kept]; !ok {
			t.Errorf("%s left out", kept)
		}
	}
	for _, out := range []string{"long", "many", "deep"} {
		if _, ok := got[out]; ok {
			t.Errorf("%s kept past the limits", out)
		}
	}
}

// TestLargestEntityWithLargestIngestedSectionReadsBack fills a user's
// document to its limits and ingests the most 64 field mappings can carry:
// the stored document must still read back.
func TestLargestEntityWithLargestIngestedSectionReadsBack(t *testing.T) {
	t.Parallel()
	const header = "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: a\nspec: {lifecycle: production}\n"
	// Half values (a list of MaxSubmittedNodes-20 numbers), half bytes.
	doc := header + "metadata:\n  n: [" + strings.Repeat("1, ", catalog.MaxSubmittedNodes-40) + "1]\n  s: '" +
		strings.Repeat("y", catalog.MaxSubmittedSize-12*catalog.MaxSubmittedNodes) + "'\n"
	e, err := catalog.ParseSubmitted([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{}
	var fields []integration.FieldMapping
	for i := range 64 {
		// Deeply named, many small values, close to 4 KiB.
		v := make([]any, 90)
		for j := range v {
			v[j] = strings.Repeat("z", 40)
		}
		key := fmt.Sprintf("k%d", i)
		raw[key] = v
		fields = append(fields, integration.FieldMapping{Name: strings.Repeat("n.", 10) + key, Path: key})
	}
	props := discoverysvc.Props(fields, raw)
	if len(props) == 0 {
		t.Fatal("nothing ingested: the test values are past the limits")
	}
	e.IngestedProperties = map[string]map[string]any{discoverysvc.Source: props}
	if _, err := e.Document(); err != nil {
		t.Fatalf("the stored document would not read back: %v", err)
	}
}
