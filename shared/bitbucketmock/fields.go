package bitbucketmock

import (
	"fmt"
	"strings"
)

// Partial responses (the fields parameter). Items of the
// comma-separated list are applied in order:
//   - "-a.b" removes a field from the response;
//   - "+a.b" adds a field from the full representation, which has fields the
//     default leaves out (reviewers and participants of listed pull requests);
//   - "a.b" (no sign) does the same, but its presence makes the response start
//     empty, so only the listed fields come back (not even next or pagelen).
//
// "*" matches every field at its level ("-links.*", "-*,+foo").

type fieldOp struct {
	remove bool
	path   []string
}

func parseFields(s string) (ops []fieldOp, explicit bool, err error) {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		op := fieldOp{}
		switch item[0] {
		case '-':
			op.remove = true
			item = item[1:]
		case '+':
			item = item[1:]
		default:
			explicit = true
		}
		op.path = strings.Split(item, ".")
		for _, seg := range op.path {
			if seg == "" {
				return nil, false, fmt.Errorf("invalid field %q", item)
			}
		}
		ops = append(ops, op)
	}
	return ops, explicit, nil
}

// selectFields applies fields to a response whose default form is def and
// whose full form is full. Trees are copied on the way down, never edited in
// place, because def and full share subtrees.
func selectFields(def, full obj, fields string) (obj, error) {
	ops, explicit, err := parseFields(fields)
	if err != nil {
		return nil, err
	}
	out := def
	if explicit {
		out = obj{}
	}
	for _, op := range ops {
		if op.remove {
			out = removePath(out, op.path)
		} else {
			out = graftPath(out, full, op.path)
		}
	}
	return out, nil
}

func removePath(o obj, path []string) obj {
	out := make(obj, 0, len(o))
	for _, m := range o {
		if path[0] != "*" && m.key != path[0] {
			out = append(out, m)
			continue
		}
		if len(path) == 1 {
			continue
		}
		m.val = mapObjects(m.val, func(child obj) obj { return removePath(child, path[1:]) })
		out = append(out, m)
	}
	return out
}

// mapObjects applies f to v if it is an object, or to each object in v if it
// is an array; other values pass through.
func mapObjects(v any, f func(obj) obj) any {
	switch v := v.(type) {
	case obj:
		return f(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = mapObjects(e, f)
		}
		return out
	}
	return v
}

// graftPath copies the fields of src at path into dst.
func graftPath(dst, src obj, path []string) obj {
	out := append(obj{}, dst...)
	for _, m := range src {
		if path[0] != "*" && m.key != path[0] {
			continue
		}
		val := m.val
		if len(path) > 1 {
			existing, _ := out.get(m.key)
			val = graftValue(existing, m.val, path[1:])
			if val == nil {
				continue
			}
		}
		out = setMember(out, m.key, val)
	}
	return out
}

// graftValue grafts path from src into dst, element by element for arrays.
// It returns nil when src has nothing at path.
func graftValue(dst, src any, path []string) any {
	switch src := src.(type) {
	case obj:
		d, _ := dst.(obj)
		return graftPath(d, src, path)
	case []any:
		d, _ := dst.([]any)
		out := make([]any, len(src))
		for i, e := range src {
			var de any
			if i < len(d) {
				de = d[i]
			}
			if g := graftValue(de, e, path); g != nil {
				out[i] = g
			} else {
				out[i] = obj{}
			}
		}
		return out
	}
	return nil
}

func setMember(o obj, key string, val any) obj {
	for i := range o {
		if o[i].key == key {
			o[i].val = val
			return o
		}
	}
	return append(o, member{key, val})
}
