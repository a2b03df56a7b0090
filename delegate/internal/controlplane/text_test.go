package controlplane

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
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

// Every progress report fits the contract's phase, whatever the phase
// says: a refused renewal would cost the task its lease.
func TestProgressPhaseMeetsTheContract(t *testing.T) {
	t.Parallel()
	for _, phase := range []string{"", "repositories", strings.Repeat("pull request sweep, ", 10) + "é", "two\nlines\x00"} {
		got := progressToWire(task.Progress{Phase: phase}).GetPhase()
		if len(got) > maxPhase || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\x00") {
			t.Errorf("phase %q sent as %q (%d bytes)", phase, got, len(got))
		}
		if len(phase) <= maxPhase && !strings.ContainsAny(phase, "\n\x00") && got != phase {
			t.Errorf("phase %q that fits changed to %q", phase, got)
		}
	}
}
