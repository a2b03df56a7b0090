package correlate

import (
	"cmp"
	"slices"
)

// Candidate is a catalog entity a repository correlates with.
type Candidate struct {
	TargetID   string
	Identifier string
	// Exact is true when every rule matched a whole value, byte for byte:
	// Equals rules always do; a Contains rule does when the catalog value is
	// the entire ingested value; the no-rule fallback does when the
	// identifiers agree in case too.
	Exact bool
	// MatchLen is the length in bytes of the matched catalog values, summed
	// over the rules (for each rule, its longest matched value). A longer
	// match is a more specific one: payments-service-api contains both
	// payments and payments-service, and the second is the better guess.
	MatchLen int
	// MatchedValue names what matched, for people reviewing a suggestion:
	// for each rule, in rule order, the catalog value ranked best (a whole
	// match first, then the longest), joined by ", "; the identifier for
	// the no-rule fallback.
	MatchedValue string
}

// matchedValueSep separates the values of several rules in MatchedValue.
const matchedValueSep = ", "

// rank orders candidates best first: exact before contains, then the
// longest match, then by identifier and id so that the order never depends
// on map iteration or store order.
func rank(c []Candidate) {
	slices.SortFunc(c, func(a, b Candidate) int {
		if a.Exact != b.Exact {
			if a.Exact {
				return -1
			}
			return 1
		}
		return cmp.Or(
			cmp.Compare(b.MatchLen, a.MatchLen),
			cmp.Compare(a.Identifier, b.Identifier),
			cmp.Compare(a.TargetID, b.TargetID),
		)
	})
}
