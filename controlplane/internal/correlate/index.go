package correlate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// Index correlates repositories with a fixed set of catalog entities. Build
// it once per correlation run (a sync, a change of rules) and call Match for
// each repository. It is immutable and safe for concurrent use.
type Index struct {
	ids         []string // by target number
	identifiers []string
	rules       []ruleIndex
	// byIdentifier maps lower-cased identifiers to targets, for the
	// fallback used when there are no rules.
	byIdentifier map[string][]int32
}

// ruleIndex holds one rule's catalog values and the structure that finds
// candidates for it without visiting every entity.
type ruleIndex struct {
	Rule
	ingested, catalog catalog.Path // the rule's paths, parsed
	values            [][]string   // by target: the values at the rule's catalog path

	equal map[string][]int32 // Equals: value → targets holding it

	auto     *automaton // Contains: over distinct lower-cased values
	postings [][]int32  // Contains: pattern id → targets holding it
}

// directCheckLimit is how many candidates an Equals rule may leave before
// Contains rules are worth their automaton scan: below it, checking each
// candidate's values directly is cheaper.
const directCheckLimit = 64

// NewIndex indexes the targets the filter admits under the rules. With no
// rules, a repository matches the entities whose identifier equals the one
// derived from its slug, ignoring case (the reference's fallback). The rules
// are validated here too, so that a bad stored rule fails the run instead of
// silently matching nothing.
func NewIndex(rules []Rule, f Filter, targets []Target) (*Index, error) {
	parsed := make([]ruleIndex, len(rules))
	for i, r := range rules {
		ing, cat, err := r.parse()
		if err != nil {
			return nil, fmt.Errorf("correlation rule %d: %w", i+1, err)
		}
		parsed[i] = ruleIndex{Rule: r, ingested: ing, catalog: cat}
	}
	if len(targets) > math.MaxInt32 {
		return nil, errors.New("too many catalog entities for one correlation index")
	}
	ix := &Index{}
	var kept []Target
	for _, t := range targets {
		if f.admits(t) {
			kept = append(kept, t)
			ix.ids = append(ix.ids, t.ID)
			ix.identifiers = append(ix.identifiers, t.Identifier)
		}
	}
	if len(rules) == 0 {
		ix.byIdentifier = make(map[string][]int32, len(kept))
		for i, t := range kept {
			key := strings.ToLower(t.Identifier)
			ix.byIdentifier[key] = append(ix.byIdentifier[key], int32(i))
		}
		return ix, nil
	}
	ix.rules = parsed
	for i := range ix.rules {
		ix.rules[i].build(kept)
	}
	return ix, nil
}

// build indexes the targets' values at the rule's catalog path.
func (ri *ruleIndex) build(targets []Target) {
	r := ri.Rule
	ri.values = make([][]string, len(targets))
	for i, t := range targets {
		if t.Lookup != nil {
			ri.values[i] = nonEmpty(t.Lookup(ri.catalog))
		}
	}
	switch r.Op {
	case Equals:
		ri.equal = make(map[string][]int32, len(targets))
		for i, vals := range ri.values {
			for _, v := range vals {
				ri.equal[v] = appendOnce(ri.equal[v], int32(i))
			}
		}
	case Contains:
		ids := make(map[string]int32)
		var patterns []string
		for i, vals := range ri.values {
			for _, v := range vals {
				p := strings.ToLower(v)
				id, ok := ids[p]
				if !ok {
					id = int32(len(patterns))
					ids[p] = id
					patterns = append(patterns, p)
					ri.postings = append(ri.postings, nil)
				}
				ri.postings[id] = appendOnce(ri.postings[id], int32(i))
			}
		}
		ri.auto = newAutomaton(patterns)
	}
}

// nonEmpty drops empty values: every text contains the empty string, so
// an empty catalog value would match any repository; it matches none. The
// lookup's slice is copied only when there is something to drop.
func nonEmpty(vals []string) []string {
	if !slices.Contains(vals, "") {
		return vals
	}
	return slices.DeleteFunc(slices.Clone(vals), func(v string) bool { return v == "" })
}

// appendOnce appends target i unless it is already last: targets are added
// in order, so that is the only place a repeat can be.
func appendOnce(list []int32, i int32) []int32 {
	if n := len(list); n > 0 && list[n-1] == i {
		return list
	}
	return append(list, i)
}

// query is one rule's ingested values for the repository being matched.
type query struct {
	values []string
	lower  []string // Contains only
}

// Match returns every entity the repository correlates with under all the
// rules, best first (see Candidate). Equals rules are looked up in their
// index; the one with the fewest candidates drives, unless a Contains rule,
// found with the automaton, has fewer still; every other rule is then
// checked on those candidates only.
func (ix *Index) Match(in Ingested) []Candidate {
	if len(ix.rules) == 0 {
		return ix.matchIdentifier(in.Slug)
	}
	qs := make([]query, len(ix.rules))
	for i := range ix.rules {
		r := &ix.rules[i]
		vals := distinct(in.Values(r.ingested))
		if len(vals) == 0 {
			return nil // a rule with nothing to compare cannot hold
		}
		qs[i].values = vals
		if r.Op == Contains {
			qs[i].lower = make([]string, len(vals))
			for j, v := range vals {
				qs[i].lower[j] = strings.ToLower(v)
			}
		}
	}
	var out []Candidate
	for _, t := range ix.drivers(qs) {
		c := Candidate{TargetID: ix.ids[t], Identifier: ix.identifiers[t], Exact: true}
		ok := true
		for i := range ix.rules {
			value, whole, matched := ix.rules[i].check(t, qs[i])
			if !matched {
				ok = false
				break
			}
			c.Exact = c.Exact && whole
			c.MatchLen += len(value)
			if i == 0 {
				c.MatchedValue = value
			} else {
				c.MatchedValue += matchedValueSep + value
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	rank(out)
	return out
}

// drivers returns the targets that satisfy the most selective rule, sorted
// and without repeats. They are a superset of the answer.
func (ix *Index) drivers(qs []query) []int32 {
	var best [][]int32
	bestSize := math.MaxInt
	consider := func(lists [][]int32) {
		n := 0
		for _, l := range lists {
			n += len(l)
		}
		if n < bestSize {
			best, bestSize = lists, n
		}
	}
	hasContains := false
	for i := range ix.rules {
		r := &ix.rules[i]
		if r.Op != Equals {
			hasContains = true
			continue
		}
		lists := make([][]int32, 0, len(qs[i].values))
		for _, v := range qs[i].values {
			if l := r.equal[v]; len(l) > 0 {
				lists = append(lists, l)
			}
		}
		consider(lists)
	}
	if hasContains && bestSize > directCheckLimit {
		for i := range ix.rules {
			r := &ix.rules[i]
			if r.Op != Contains {
				continue
			}
			var found []int32
			for _, text := range qs[i].lower {
				found = r.auto.find(text, found)
			}
			slices.Sort(found)
			found = slices.Compact(found)
			lists := make([][]int32, len(found))
			for j, p := range found {
				lists[j] = r.postings[p]
			}
			consider(lists)
		}
	}
	return union(best)
}

// union merges sorted target lists. A single list is returned as it is: the
// caller only reads it.
func union(lists [][]int32) []int32 {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	var all []int32
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// check tests the rule on target t and returns its best matching catalog
// value (a whole match first, then the longest) and whether that value
// matched the whole ingested value byte for byte.
func (r *ruleIndex) check(t int32, q query) (value string, whole, matched bool) {
	for _, cv := range r.values[t] {
		var hit, w bool
		switch r.Op {
		case Equals:
			hit, w = slices.Contains(q.values, cv), true
		case Contains:
			lcv := strings.ToLower(cv)
			for j, text := range q.lower {
				if strings.Contains(text, lcv) {
					hit = true
					if q.values[j] == cv {
						w = true
						break
					}
				}
			}
		}
		if !hit {
			continue
		}
		if !matched || w && !whole || w == whole && len(cv) > len(value) {
			value, whole = cv, w
		}
		matched = true
	}
	return value, whole, matched
}

// matchIdentifier is the no-rule fallback: the entity's identifier equals
// the one derived from the slug, ignoring case.
func (ix *Index) matchIdentifier(slug string) []Candidate {
	if slug == "" {
		return nil
	}
	derived := catalog.IdentifierFromSlug(slug)
	var out []Candidate
	for _, t := range ix.byIdentifier[strings.ToLower(derived)] {
		out = append(out, Candidate{
			TargetID:     ix.ids[t],
			Identifier:   ix.identifiers[t],
			Exact:        ix.identifiers[t] == derived,
			MatchLen:     len(ix.identifiers[t]),
			MatchedValue: ix.identifiers[t],
		})
	}
	rank(out)
	return out
}

// distinct drops repeated values, keeping the first of each.
func distinct(vals []string) []string {
	out := vals[:0:0]
	for _, v := range vals {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
