package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const header = "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: a\nspec: {lifecycle: production}\n"

// laughs is a small document whose aliases expand to width^levels
// flow mappings: the amplification that once stored 25 MB from 25 KB.
func laughs(width, levels int) string {
	var b strings.Builder
	b.WriteString(header + "metadata:\n  l0: &l0 {v: x}\n")
	for l := 1; l <= levels; l++ {
		fmt.Fprintf(&b, "  l%d: &l%d {", l, l)
		for i := range width {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "k%d: *l%d", i, l-1)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func TestParseRefusesDocumentsPastTheLimits(t *testing.T) {
	t.Parallel()
	deep := header + "metadata:\n  x: " + strings.Repeat("{a: ", 40) + "1" + strings.Repeat("}", 40) + "\n"
	wide := header + "metadata:\n  x: [" + strings.Repeat("1, ", MaxNodes) + "1]\n"
	for name, tc := range map[string]struct {
		doc  string
		rule string
	}{
		"aliases expanding to millions of values": {laughs(10, 7), "values (an alias counts"},
		"aliases nested past the depth":           {laughs(1, 40), "levels deep"},
		"flow mappings nested past the depth":     {deep, "levels deep"},
		"more values than allowed":                {wide, "values"},
		"larger than allowed":                     {header + "metadata: {x: '" + strings.Repeat("x", MaxDocumentSize) + "'}\n", "bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			if len(tc.doc) > 30000 && name == "aliases expanding to millions of values" {
				t.Fatalf("the amplification document is %d bytes; it should be small", len(tc.doc))
			}
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.rule) {
				t.Fatalf("got %v, want an error containing %q", err, tc.rule)
			}
		})
	}
}

func TestParseSubmittedLeavesRoomForIngestedSections(t *testing.T) {
	t.Parallel()
	big := header + "metadata: {x: '" + strings.Repeat("x", MaxSubmittedSize) + "'}\n"
	if _, err := Parse([]byte(big)); err != nil {
		t.Fatalf("Parse refuses a document within MaxDocumentSize: %v", err)
	}
	if _, err := ParseSubmitted([]byte(big)); err == nil || !strings.Contains(err.Error(), "renders to") {
		t.Fatalf("ParseSubmitted: got %v, want the rendered size refused", err)
	}
	many := header + "metadata:\n  x: [" + strings.Repeat("1, ", MaxSubmittedNodes) + "1]\n"
	if _, err := ParseSubmitted([]byte(many)); err == nil || !strings.Contains(err.Error(), "values once aliases") {
		t.Fatalf("ParseSubmitted: got %v, want the node count refused", err)
	}
	// Aliases are counted as used: a document that is small as sent but
	// renders past the limit is refused, not stored.
	if _, err := ParseSubmitted([]byte(laughs(8, 4))); err == nil {
		t.Fatal("ParseSubmitted accepted a document expanding to 4096 values past its limit")
	}
}

func TestDocumentRefusesWhatCannotBeReadBack(t *testing.T) {
	t.Parallel()
	e, err := ParseSubmitted([]byte(header))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Document(); err != nil {
		t.Fatalf("a small entity: %v", err)
	}
	list := make([]any, MaxNodes)
	for i := range list {
		list[i] = i
	}
	e.IngestedProperties = map[string]map[string]any{"BitbucketCloud": {"huge": list}}
	if _, err := e.Document(); err == nil || !strings.Contains(err.Error(), "cannot be read back") {
		t.Fatalf("got %v, want an entity that cannot be read back refused", err)
	}
}

func TestParseSubmittedBoundsTheFieldsListsShow(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		yaml, field string
	}{
		"NUL in the name by escape": {`name: "pay\0ments"`, "name"},
		"NUL in an annotation":      {"metadata: {annotations: {a: \"x\\0\"}}", "metadata.annotations.a"},
		"NUL in a key":              {"metadata: {x: 1}\nextra: {\"k\\0\": 1}", "extra.k\x00"},
		"NUL in a tag":              {`metadata: {tags: ["a\0"]}`, "metadata.tags[0]"},
		"a 512 KiB name":            {"name: " + strings.Repeat("n", 512<<10), "name"},
		"a line break in the owner": {`owner: "group:a\nb"`, "owner"},
		"a bell in the description": {`metadata: {description: "ding\u0007"}`, "metadata.description"},
		"too many tags":             {"metadata: {tags: [" + strings.Repeat("t, ", 64) + "t]}", "metadata.tags"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: a\nspec: {lifecycle: production}\n" + tc.yaml + "\n"
			_, err := ParseSubmitted([]byte(doc))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a validation error", err)
			}
			for _, fe := range ve.Errors {
				if fe.Field == tc.field {
					return
				}
			}
			t.Fatalf("no error names %q: %v", tc.field, err)
		})
	}
	ok := "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: a\nspec: {lifecycle: production}\n" +
		"metadata: {description: \"line one\\nline two\\ttab\"}\n"
	if _, err := ParseSubmitted([]byte(ok)); err != nil {
		t.Fatalf("a multi-line description: %v", err)
	}
}
