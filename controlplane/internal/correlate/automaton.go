package correlate

import (
	"slices"
	"strings"
)

// automaton is an Aho-Corasick automaton: built once over a set of patterns,
// it finds every pattern that occurs in a text in one pass over the text,
// whatever the number of patterns. Contains rules use it so that a
// repository is compared with all distinct catalog values at once instead
// of with each entity in turn.
//
// It works on bytes. Patterns and texts are lower-cased UTF-8 (strings.ToLower
// on both sides), and because UTF-8 is self-synchronising a byte match of
// valid UTF-8 is also a match of whole characters, so matching bytes gives the
// same answers as matching runes, with a 256-symbol alphabet and no decoding.
//
// The trie is stored compactly, since 100,000 catalog values make millions of
// states: the root has a dense 256-entry table (most steps end there), other
// states keep their few edges sorted in one flat array (CSR layout).
type automaton struct {
	patterns []string // by pattern id

	root      [256]int32 // the root's transitions; 0 (the root) when absent
	edgeStart []int32    // state s's edges are edgeByte/edgeNext[edgeStart[s]:edgeStart[s+1]]
	edgeByte  []byte
	edgeNext  []int32
	fail      []int32 // longest proper suffix of the state's string that is a state
	out       []int32 // id of the pattern that ends at the state, or -1
	dict      []int32 // nearest state on the fail chain where a pattern ends, or -1
}

// newAutomaton builds the automaton over distinct, non-empty patterns;
// pattern ids are their positions in patterns.
func newAutomaton(patterns []string) *automaton {
	a := &automaton{patterns: patterns}
	a.buildTrie()
	a.buildLinks()
	return a
}

// buildTrie inserts the patterns in sorted order. Each pattern then shares
// with the previous one exactly their common prefix, so the trie grows along
// a stack of the previous pattern's states without any per-state map, and
// every state's edges are created in increasing byte order.
func (a *automaton) buildTrie() {
	order := make([]int32, len(a.patterns))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(a.patterns[x], a.patterns[y]) })

	type edge struct {
		from, to int32
		b        byte
	}
	var edges []edge
	out := []int32{-1} // state 0 is the root
	path := []int32{0} // states along the previous pattern
	prev := ""
	for _, id := range order {
		p := a.patterns[id]
		if p == "" {
			continue
		}
		common := 0
		for common < len(p) && common < len(prev) && p[common] == prev[common] {
			common++
		}
		path = path[:common+1]
		for i := common; i < len(p); i++ {
			s := int32(len(out))
			out = append(out, -1)
			edges = append(edges, edge{from: path[i], to: s, b: p[i]})
			path = append(path, s)
		}
		out[path[len(p)]] = id
		prev = p
	}

	n := len(out)
	a.out = out
	a.edgeStart = make([]int32, n+1)
	for _, e := range edges {
		a.edgeStart[e.from+1]++
	}
	for s := 1; s <= n; s++ {
		a.edgeStart[s] += a.edgeStart[s-1]
	}
	a.edgeByte = make([]byte, len(edges))
	a.edgeNext = make([]int32, len(edges))
	fill := slices.Clone(a.edgeStart[:n])
	for _, e := range edges { // in creation order, hence sorted by byte per state
		a.edgeByte[fill[e.from]] = e.b
		a.edgeNext[fill[e.from]] = e.to
		fill[e.from]++
		if e.from == 0 {
			a.root[e.b] = e.to
		}
	}
}

// next returns the state reached from s (not the root) on b, or -1.
func (a *automaton) next(s int32, b byte) int32 {
	lo, hi := a.edgeStart[s], a.edgeStart[s+1]
	for hi-lo > 8 {
		mid := int32(uint32(lo+hi) >> 1)
		if a.edgeByte[mid] < b {
			lo = mid + 1
		} else {
			hi = mid + 1 // mid may be the edge sought
		}
	}
	for ; lo < hi; lo++ {
		if a.edgeByte[lo] == b {
			return a.edgeNext[lo]
		}
	}
	return -1
}

// step follows the goto function with failure links, as a scan does.
func (a *automaton) step(s int32, b byte) int32 {
	for s != 0 {
		if n := a.next(s, b); n >= 0 {
			return n
		}
		s = a.fail[s]
	}
	return a.root[b]
}

// buildLinks computes failure and dictionary links breadth first, so that a
// state's links are known before its children need them.
func (a *automaton) buildLinks() {
	n := len(a.out)
	a.fail = make([]int32, n)
	a.dict = make([]int32, n)
	a.dict[0] = -1
	queue := make([]int32, 0, n)
	queue = append(queue, 0)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for e := a.edgeStart[s]; e < a.edgeStart[s+1]; e++ {
			child, b := a.edgeNext[e], a.edgeByte[e]
			if s != 0 {
				a.fail[child] = a.step(a.fail[s], b)
			}
			f := a.fail[child]
			if a.out[f] >= 0 {
				a.dict[child] = f
			} else {
				a.dict[child] = a.dict[f]
			}
			queue = append(queue, child)
		}
	}
}

// find appends to found the id of every pattern that occurs in text, once
// per occurrence; the caller removes repeats.
func (a *automaton) find(text string, found []int32) []int32 {
	var s int32
	for i := 0; i < len(text); i++ {
		s = a.step(s, text[i])
		t := s
		if a.out[t] < 0 {
			t = a.dict[t]
		}
		for ; t >= 0; t = a.dict[t] {
			found = append(found, a.out[t])
		}
	}
	return found
}
