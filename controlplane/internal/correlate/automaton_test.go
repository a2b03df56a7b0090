package correlate

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestAutomatonAgainstBruteForce compares the automaton with strings.Contains
// on random patterns and texts over a small alphabet, where overlaps,
// nested patterns and shared prefixes are frequent.
func TestAutomatonAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	randomString := func(alphabet string, maxLen int) string {
		b := make([]byte, rng.IntN(maxLen+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	// The last shape gives states with more than 8 edges, which are
	// searched by bisection.
	shapes := []struct {
		alphabet        string
		patternLen, max int
	}{
		{"ab", 6, 40}, {"abc", 6, 40}, {"abcdefgh", 6, 40}, {"aé-_1", 6, 40},
		{"abcdefghijklmnopqrstuvwxyz0123456789", 3, 400},
	}
	for round := range 300 {
		shape := shapes[round%len(shapes)]
		alphabet := shape.alphabet
		seen := map[string]bool{}
		var patterns []string
		for range 1 + rng.IntN(shape.max) {
			p := randomString(alphabet, shape.patternLen)
			if p != "" && !seen[p] {
				seen[p] = true
				patterns = append(patterns, p)
			}
		}
		a := newAutomaton(patterns)
		for range 20 {
			text := randomString(alphabet, 40)
			got := a.find(text, nil)
			slices.Sort(got)
			got = slices.Compact(got)
			var want []int32
			for id, p := range patterns {
				if strings.Contains(text, p) {
					want = append(want, int32(id))
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("patterns %q, text %q: found %v, want %v", patterns, text, got, want)
			}
		}
	}
}

func TestAutomatonReportsEveryOccurrence(t *testing.T) {
	t.Parallel()
	patterns := []string{"he", "she", "his", "hers", "e"}
	got := newAutomaton(patterns).find("ushers", nil)
	// "she" and "he" and "e" end at index 3, "hers" at index 5.
	want := []int32{1, 0, 4, 3}
	if !slices.Equal(got, want) {
		t.Errorf("find(ushers) = %v, want %v", got, want)
	}
	if got := newAutomaton(nil).find("anything", nil); len(got) != 0 {
		t.Errorf("empty automaton found %v", got)
	}
}
