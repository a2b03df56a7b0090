package tag

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, s := range []string{"eu", "linux", "a", "x86_64", "zone-1.a", strings.Repeat("a", 64)} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false", s)
		}
	}
	for _, s := range []string{"", "EU", "with space", "a/b", "é", strings.Repeat("a", 65), "eu\n"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}
