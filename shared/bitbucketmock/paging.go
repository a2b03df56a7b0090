package bitbucketmock

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
)

// Page sizes: 10 by default and at most 100, except pull
// requests (at most 50) and commits (30 by default). Above the maximum, or
// not a number, is a 400 "Invalid pagelen"; pagelen=0 is accepted and means
// the default.
const (
	defaultPagelen        = 10
	maxPagelen            = 100
	maxPullRequestPagelen = 50
	defaultCommitPagelen  = 30
)

type pageReq struct {
	pagelen, page int
}

// pageParams reads pagelen and, for list-based pagination, page.
func (c *call) pageParams(def, maxLen int, listBased bool) (pageReq, *reply) {
	q := c.r.URL.Query()
	pg := pageReq{pagelen: def, page: 1}
	if s := q.Get("pagelen"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxLen {
			rep := errorReply(http.StatusBadRequest, msgInvalidPagLen)
			return pg, &rep
		}
		if n > 0 {
			pg.pagelen = n
		}
	}
	if s := q.Get("page"); s != "" && listBased {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			rep := errorReply(http.StatusBadRequest, msgInvalidPage)
			return pg, &rep
		}
		pg.page = n
	}
	return pg, nil
}

// pageURL is the request's own URL with page replaced: next and previous
// links carry every other parameter (q, sort, state, pagelen, fields).
func (c *call) pageURL(page string) string {
	q := c.r.URL.Query()
	q.Set("page", page)
	path := c.r.URL.EscapedPath()
	return c.view.api + path[len("/2.0"):] + "?" + q.Encode()
}

// listReply serves page pg of a list-based collection of total items.
// hidden names fields the default form of each item leaves out.
func (c *call) listReply(total int, item func(i int) obj, pg pageReq, hidden []string) reply {
	// Compared in pages, not items: a huge page number must not overflow.
	if pages := (total + pg.pagelen - 1) / pg.pagelen; pg.page > max(pages, 1) {
		return errorReply(http.StatusBadRequest, msgInvalidPage)
	}
	lo := (pg.page - 1) * pg.pagelen
	hi := min(lo+pg.pagelen, total)
	full := make([]any, 0, hi-lo)
	for i := lo; i < hi; i++ {
		full = append(full, item(i))
	}
	envelope := func(values []any) obj {
		o := obj{{"values", values}, {"pagelen", pg.pagelen}, {"size", total}, {"page", pg.page}}
		if hi < total {
			o = append(o, member{"next", c.pageURL(strconv.Itoa(pg.page + 1))})
		}
		if pg.page > 1 {
			o = append(o, member{"previous", c.pageURL(strconv.Itoa(pg.page - 1))})
		}
		return o
	}
	def := full
	if len(hidden) > 0 {
		def = make([]any, len(full))
		for i, v := range full {
			def[i] = v.(obj).without(hidden...)
		}
	}
	return c.respond(envelope(def), envelope(full))
}

// iterReply serves one page of an iterator-paginated collection (commits):
// no size, no page, an opaque next token. seq holds the collection oldest
// first and the token is a position counted from the oldest end, so commits
// pushed while a client pages do not shift the pages it has yet to read.
func (c *call) iterReply(seq int, item func(pos int) obj, def int) reply {
	pg, bad := c.pageParams(def, maxPagelen, false)
	if bad != nil {
		return *bad
	}
	start := seq - 1
	if tok := c.r.URL.Query().Get("page"); tok != "" {
		pos, ok := c.s.decodePageToken(tok)
		if !ok {
			return errorReply(http.StatusBadRequest, msgInvalidPage)
		}
		start = min(pos, seq-1)
	}
	values := []any{}
	for pos := start; pos >= 0 && pos > start-pg.pagelen; pos-- {
		values = append(values, item(pos))
	}
	o := obj{{"values", values}, {"pagelen", pg.pagelen}}
	if next := start - pg.pagelen; next >= 0 {
		o = append(o, member{"next", c.pageURL(c.s.pageToken(next))})
	}
	return c.respond(o, o)
}

// pageToken encodes a position with a check derived from the seed, so the
// token looks opaque and a forged or mangled one is rejected.
func (s *Server) pageToken(pos int) string {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(pos))
	g := newRNG(uint64(s.cfg.Seed), kindPageToken, uint64(pos))
	binary.BigEndian.PutUint32(b[4:], uint32(g.next()))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) decodePageToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 8 {
		return 0, false
	}
	pos := int(binary.BigEndian.Uint32(b[:4]))
	return pos, s.pageToken(pos) == tok
}

// respond encodes a successful response, applying fields= if given.
func (c *call) respond(def, full obj) reply {
	fields := c.r.URL.Query().Get("fields")
	if fields == "" {
		return jsonReply(http.StatusOK, def)
	}
	out, err := selectFields(def, full, fields)
	if err != nil {
		return errorReply(http.StatusBadRequest, err.Error())
	}
	return jsonReply(http.StatusOK, out)
}

// filterSort applies q and sort to items, given as indices into a collection
// whose full form tree(i) returns.
func filterSort(idx []int, tree func(int) obj, q query, sort *sortSpec, natural bool) []int {
	if q == nil && sort == nil {
		return idx
	}
	type keyed struct {
		i   int
		key any
	}
	kept := make([]keyed, 0, len(idx))
	for _, i := range idx {
		t := tree(i)
		if q != nil && !q.match(t) {
			continue
		}
		k := keyed{i: i}
		if sort != nil {
			k.key = sort.value(t)
		}
		kept = append(kept, k)
	}
	if sort != nil {
		compare := compareValues
		if natural {
			compare = compareNatural
		}
		slices.SortStableFunc(kept, func(a, b keyed) int {
			if sort.desc {
				return compare(b.key, a.key)
			}
			return compare(a.key, b.key)
		})
	}
	out := make([]int, len(kept))
	for j, k := range kept {
		out[j] = k.i
	}
	return out
}

// compareNatural orders names with digit runs compared as numbers (v9 before
// v10), as Bitbucket does for sort=name on tags.
func compareNatural(a, b any) int {
	as, aok := a.(string)
	bs, bok := b.(string)
	if !aok || !bok {
		return compareValues(a, b)
	}
	for as != "" && bs != "" {
		an, arest := splitDigits(as)
		bn, brest := splitDigits(bs)
		if an != "" && bn != "" {
			if c := compareNumbers(an, bn); c != 0 {
				return c
			}
			as, bs = arest, brest
			continue
		}
		if as[0] != bs[0] {
			if as[0] < bs[0] {
				return -1
			}
			return 1
		}
		as, bs = as[1:], bs[1:]
	}
	return len(as) - len(bs)
}

func splitDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func compareNumbers(a, b string) int {
	a, b = trimZeros(a), trimZeros(b)
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
