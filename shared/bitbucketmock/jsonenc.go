package bitbucketmock

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// obj is a JSON object that keeps its keys in insertion order. Payloads are
// built as obj trees rather than structs because partial responses (fields=),
// BBQL filters and sorting all walk them by field path, and a hand-written
// encoder for them is several times faster than encoding/json on maps.
type obj []member

type member struct {
	key string
	val any // string, int, bool, nil, obj or []any
}

// get returns the value of key, if present.
func (o obj) get(key string) (any, bool) {
	for _, m := range o {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// without returns a copy of o lacking the given keys.
func (o obj) without(keys ...string) obj {
	out := make(obj, 0, len(o))
next:
	for _, m := range o {
		for _, k := range keys {
			if m.key == k {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// encodeJSON renders v the way Bitbucket's Python services do, with a space
// after every ':' and ',' (so even error bodies have the exact length real
// clients have seen, e.g. 55 bytes for "Invalid page").
func encodeJSON(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendString(buf, v)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case bool:
		return strconv.AppendBool(buf, v)
	case obj:
		buf = append(buf, '{')
		for i, m := range v {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendString(buf, m.key)
			buf = append(buf, ": "...)
			buf = encodeJSON(buf, m.val)
		}
		return append(buf, '}')
	case []any:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = encodeJSON(buf, e)
		}
		return append(buf, ']')
	}
	panic(fmt.Sprintf("bitbucketmock: cannot encode %T", v)) // a renderer bug, never client input
}

const hexDigits = "0123456789abcdef"

// plain marks the bytes a JSON string can hold as they are.
var plain = func() (t [256]bool) {
	for b := 0x20; b < 256; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendString writes s as a JSON string. Non-ASCII text is written as UTF-8,
// as Bitbucket does; invalid UTF-8 (possible only in names given through the
// control API) becomes U+FFFD rather than corrupting the document.
func appendString(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if plain[b] {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch b {
		case '"', '\\':
			buf = append(buf, '\\', b)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
