package controlplane

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFitTextMeetsTheContract(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é\x00\x1b\t", 3000) + "\n\u0085end"
	got := fitText(long)
	if len(got) > maxText || !utf8.ValidString(got) {
		t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	for _, r := range got {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0x7f && r <= 0x9f {
			t.Fatalf("control character %U kept", r)
		}
	}
	if !strings.HasSuffix(got, "…") {
		t.Fatal("a cut text does not say so")
	}
	if short := "line one\nline two\ttab"; fitText(short) != short {
		t.Fatalf("a text that fits changed: %q", fitText(short))
	}
}
