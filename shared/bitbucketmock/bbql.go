package bitbucketmock

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// BBQL, the filter language of the q parameter: comparisons
// of a field path with a literal, joined by AND and OR, with parentheses.
// Fields are paths into the item's JSON ("project.key"); a path through an
// array matches if any element does. Keywords are case-insensitive.

type query interface {
	match(item obj) bool
}

type andQuery struct{ l, r query }
type orQuery struct{ l, r query }

type cmpQuery struct {
	path []string
	op   string // = != ~ !~ > >= < <= IN "NOT IN"
	lit  literal
}

func (q andQuery) match(o obj) bool { return q.l.match(o) && q.r.match(o) }
func (q orQuery) match(o obj) bool  { return q.l.match(o) || q.r.match(o) }

type litKind int

const (
	litString litKind = iota
	litNumber
	litNull
	litBool
	litTime
	litList
)

type literal struct {
	kind litKind
	str  string
	num  float64
	b    bool
	t    time.Time
	list []literal
}

type bbqlToken struct {
	text   string
	quoted bool
}

func tokenize(s string) ([]bbqlToken, error) {
	var toks []bbqlToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, bbqlToken{text: s[i : i+1]})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errors.New("unterminated string")
			}
			toks = append(toks, bbqlToken{text: b.String(), quoted: true})
			i = j + 1
		case strings.IndexByte("=!~<>", c) >= 0:
			j := i + 1
			if j < len(s) && (s[j] == '=' || (c == '!' && s[j] == '~')) {
				j++
			}
			op := s[i:j]
			if op == "!" {
				return nil, errors.New("unexpected '!'")
			}
			toks = append(toks, bbqlToken{text: op})
			i = j
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n()=!~<>,\"", s[j]) < 0 {
				j++
			}
			toks = append(toks, bbqlToken{text: s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type bbqlParser struct {
	toks []bbqlToken
	pos  int
}

// parseQuery parses a q parameter.
func parseQuery(s string) (query, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &bbqlParser{toks: toks}
	q, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return q, nil
}

func (p *bbqlParser) peek() (bbqlToken, bool) {
	if p.pos >= len(p.toks) {
		return bbqlToken{}, false
	}
	return p.toks[p.pos], true
}

func (p *bbqlParser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && !t.quoted && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *bbqlParser) or() (query, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orQuery{l, r}
	}
	return l, nil
}

func (p *bbqlParser) and() (query, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = andQuery{l, r}
	}
	return l, nil
}

func (p *bbqlParser) term() (query, error) {
	t, ok := p.peek()
	if !ok {
		return nil, errors.New("unexpected end of query")
	}
	if !t.quoted && t.text == "(" {
		p.pos++
		q, err := p.or()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.quoted || t.text != ")" {
			return nil, errors.New("missing ')'")
		}
		p.pos++
		return q, nil
	}
	if t.quoted || !isFieldPath(t.text) {
		return nil, fmt.Errorf("expected a field name, got %q", t.text)
	}
	p.pos++
	c := cmpQuery{path: strings.Split(t.text, ".")}
	switch {
	case p.keyword("IN"):
		c.op = "IN"
	case p.keyword("NOT"):
		if !p.keyword("IN") {
			return nil, errors.New("expected IN after NOT")
		}
		c.op = "NOT IN"
	default:
		op, ok := p.peek()
		if !ok || op.quoted || !slices.Contains([]string{"=", "!=", "~", "!~", ">", ">=", "<", "<="}, op.text) {
			return nil, fmt.Errorf("expected an operator after %s", t.text)
		}
		p.pos++
		c.op = op.text
	}
	lit, err := p.literal(c.op == "IN" || c.op == "NOT IN")
	if err != nil {
		return nil, err
	}
	c.lit = lit
	return c, nil
}

func isFieldPath(s string) bool {
	if s == "" || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return unicode.IsLetter(rune(s[0])) || s[0] == '_'
}

func (p *bbqlParser) literal(wantList bool) (literal, error) {
	t, ok := p.peek()
	if !ok {
		return literal{}, errors.New("expected a value")
	}
	p.pos++
	if wantList {
		if t.quoted || t.text != "(" {
			return literal{}, errors.New("IN takes a list such as (\"a\", \"b\")")
		}
		l := literal{kind: litList}
		for {
			e, err := p.literal(false)
			if err != nil {
				return literal{}, err
			}
			l.list = append(l.list, e)
			sep, ok := p.peek()
			if !ok || sep.quoted || (sep.text != "," && sep.text != ")") {
				return literal{}, errors.New("missing ')' after list")
			}
			p.pos++
			if sep.text == ")" {
				return l, nil
			}
		}
	}
	if t.quoted {
		return literal{kind: litString, str: t.text}, nil
	}
	switch t.text {
	case "null":
		return literal{kind: litNull}, nil
	case "true", "false":
		return literal{kind: litBool, b: t.text == "true"}, nil
	}
	if n, err := strconv.ParseFloat(t.text, 64); err == nil {
		return literal{kind: litNumber, num: n}, nil
	}
	if tm, ok := parseDateTime(t.text); ok {
		return literal{kind: litTime, t: tm}, nil
	}
	return literal{}, fmt.Errorf("invalid value %q (strings need double quotes)", t.text)
}

// parseDateTime reads ISO-8601 with the time, fraction and offset optional;
// no offset means UTC.
func parseDateTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04",
		"2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.999999999-0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// lookup returns the values at path in o; arrays fan out. A missing field
// yields a single nil, so "field = null" matches it.
func lookup(v any, path []string) []any {
	if len(path) == 0 {
		return []any{v}
	}
	switch v := v.(type) {
	case obj:
		child, ok := v.get(path[0])
		if !ok {
			return []any{nil}
		}
		return lookup(child, path[1:])
	case []any:
		var out []any
		for _, e := range v {
			out = append(out, lookup(e, path)...)
		}
		return out
	}
	return []any{nil}
}

func (q cmpQuery) match(o obj) bool {
	vals := lookup(o, q.path)
	test := func(pred func(any) bool) bool { return slices.ContainsFunc(vals, pred) }
	switch q.op {
	case "=":
		return test(func(v any) bool { return equal(v, q.lit) })
	case "!=":
		return !test(func(v any) bool { return equal(v, q.lit) })
	case "~":
		return test(func(v any) bool { return contains(v, q.lit) })
	case "!~":
		return !test(func(v any) bool { return contains(v, q.lit) })
	case "IN":
		return test(func(v any) bool { return slices.ContainsFunc(q.lit.list, func(l literal) bool { return equal(v, l) }) })
	case "NOT IN":
		return !test(func(v any) bool { return slices.ContainsFunc(q.lit.list, func(l literal) bool { return equal(v, l) }) })
	}
	return test(func(v any) bool {
		c, ok := order(v, q.lit)
		switch q.op {
		case ">":
			return ok && c > 0
		case ">=":
			return ok && c >= 0
		case "<":
			return ok && c < 0
		default: // "<="
			return ok && c <= 0
		}
	})
}

func equal(v any, l literal) bool {
	if l.kind == litNull {
		return v == nil
	}
	c, ok := order(v, l)
	return ok && c == 0
}

func contains(v any, l literal) bool {
	s, ok := v.(string)
	return ok && l.kind == litString && strings.Contains(strings.ToLower(s), strings.ToLower(l.str))
}

// order compares a field value with a literal. Timestamps compare as
// instants, whether the literal is an unquoted datetime (as documented) or a
// quoted one (as many clients send).
func order(v any, l literal) (int, bool) {
	switch v := v.(type) {
	case string:
		switch l.kind {
		case litTime:
			if t, ok := parseDateTime(v); ok {
				return t.Compare(l.t), true
			}
		case litString:
			if lt, ok := parseDateTime(l.str); ok {
				if t, ok := parseDateTime(v); ok {
					return t.Compare(lt), true
				}
			}
			return strings.Compare(v, l.str), true
		}
	case int:
		if l.kind == litNumber {
			return cmp.Compare(float64(v), l.num), true
		}
	case bool:
		if l.kind == litBool && v == l.b {
			return 0, true
		}
	}
	return 0, false
}

// sortSpec is a parsed sort parameter: one field, '-' for descending.
type sortSpec struct {
	path []string
	desc bool
}

func parseSort(s string) (sortSpec, error) {
	desc := strings.HasPrefix(s, "-")
	field := strings.TrimPrefix(s, "-")
	if !isFieldPath(field) {
		return sortSpec{}, fmt.Errorf("invalid sort field %q (one field, optionally prefixed with '-')", s)
	}
	return sortSpec{path: strings.Split(field, "."), desc: desc}, nil
}

// compareValues orders field values for sorting: null first, then by type.
func compareValues(a, b any) int {
	switch a := a.(type) {
	case nil:
		if b == nil {
			return 0
		}
		return -1
	case string:
		if b, ok := b.(string); ok {
			return strings.Compare(a, b)
		}
	case int:
		if b, ok := b.(int); ok {
			return cmp.Compare(a, b)
		}
	case bool:
		if b, ok := b.(bool); ok {
			switch {
			case a == b:
				return 0
			case b:
				return -1
			}
			return 1
		}
	}
	if b == nil {
		return 1
	}
	return 0
}

func (s sortSpec) value(o obj) any {
	if vals := lookup(o, s.path); len(vals) > 0 {
		return vals[0]
	}
	return nil
}
