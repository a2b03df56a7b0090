package sortkey

import (
	"slices"
	"strings"
	"testing"
)

func TestKeysOrderNamesAsPeopleRead(t *testing.T) {
	names := []string{"zebra", "Zürich", "École", "alpha", "Ärger", "beta", "eagle", "café", "Øresund", "Äsop", "Cafe-tools"}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(Of(a), Of(b)) })
	// Letters first, accents and case only break ties: every name sits
	// with the names of its first letter, never after every ASCII name.
	for i, n := range names {
		if i > 0 && firstLetter(names[i-1]) > firstLetter(n) {
			t.Fatalf("order %q: %q before %q", names, names[i-1], n)
		}
	}
	if i, j := slices.Index(names, "Ärger"), slices.Index(names, "beta"); i > j {
		t.Errorf("Ärger after beta: %q", names)
	}
	if i, j := slices.Index(names, "École"), slices.Index(names, "zebra"); i > j {
		t.Errorf("École after zebra: %q", names)
	}
}

// firstLetter folds the first letter as the tests read it.
func firstLetter(s string) string {
	r := []rune(strings.ToLower(s))[0]
	switch r {
	case 'ä':
		r = 'a'
	case 'é', 'è':
		r = 'e'
	case 'ø':
		r = 'o'
	case 'ü':
		r = 'u'
	}
	return string(r)
}

func TestKeysAreHexAndAgreeWithCompare(t *testing.T) {
	names := []string{"", "a", "A", "ab", "a b", "a-b", "ä", "b", "日本", "Ωmega", "x10", "x9"}
	for _, a := range names {
		k := Of(a)
		if strings.Trim(k, "0123456789abcdef") != "" {
			t.Fatalf("key of %q is not lowercase hex: %q", a, k)
		}
		for _, b := range names {
			got := strings.Compare(k, Of(b))
			if want := Compare(a, b); sign(got) != sign(want) {
				t.Errorf("keys of %q and %q compare %d, names %d", a, b, got, want)
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
