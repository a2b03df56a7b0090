package catalog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Paths
//
// A Path names values inside a document (catalog YAML, a repository's JSON,
// ingested properties) by its keys, joined with dots: "name",
// "spec.lifecycle", "links.clone.0.href",
// "metadata.annotations.bitbucket.org/repo-slug". Correlation rules, field
// mappings and the integration's checks all read paths with ParsePath, so
// one path means the same everywhere:
//   - Keys may themselves contain dots (annotation keys do), so at each
//     mapping the longest run of the remaining segments that is a key wins:
//     in annotations, "bitbucket.org/repo-slug" is tried before "bitbucket".
//     The choice is final (no backtracking), so one path has one reading.
//   - At a list, a segment of digits selects the element at that index
//     (from 0): "links.clone.0.href" is the first clone link's href. Any
//     other segment applies the rest of the path to each element, so
//     "metadata.tags" yields every tag and "links.clone.href" every clone
//     link's href.
//   - Values lists the scalars found, in text form; null and empty strings
//     identify nothing and are left out, and a path that ends at a mapping
//     yields nothing. Value returns what is there, typed, for copying.

// MaxPathLen bounds a path; real ones are a few dozen bytes.
const MaxPathLen = 256

// Path is a parsed path; the zero Path is the empty path and yields
// nothing.
type Path struct {
	text string
}

// ParsePath checks the syntax of a path: at most MaxPathLen bytes of
// non-empty dot-separated segments, without spaces at either end or
// control characters.
func ParsePath(s string) (Path, error) {
	switch {
	case s == "":
		return Path{}, errors.New("path is empty")
	case len(s) > MaxPathLen:
		return Path{}, fmt.Errorf("path is longer than %d bytes", MaxPathLen)
	}
	for i, seg := range strings.Split(s, ".") {
		switch {
		case seg == "":
			return Path{}, fmt.Errorf("path %q: segment %d is empty (a leading, trailing or doubled dot)", s, i+1)
		case strings.TrimSpace(seg) != seg:
			return Path{}, fmt.Errorf("path %q: segment %q has spaces at an end", s, seg)
		case strings.IndexFunc(seg, unicode.IsControl) >= 0:
			return Path{}, fmt.Errorf("path %q: control characters are not allowed", s)
		}
	}
	return Path{text: s}, nil
}

// MustParsePath is ParsePath for paths written in the code; it panics on a
// bad one.
func MustParsePath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

func (p Path) String() string { return p.text }

// Segments returns the dot-separated segments.
func (p Path) Segments() []string {
	if p.text == "" {
		return nil
	}
	return strings.Split(p.text, ".")
}

// IsIndex reports whether a path segment selects a list element.
func IsIndex(seg string) bool {
	if seg == "" || len(seg) > 9 {
		return false
	}
	for _, r := range seg {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// scalarRoots are the top-level fields that hold one value.
var scalarRoots = []string{
	"apiVersion", "kind", "type", "identifier", "name", "owner", "orgIdentifier", "projectIdentifier",
}

// ParseCatalogPath parses a path into catalog entity YAML, as used by
// correlation rules: valid syntax, and a root the IDP 2.0 shape has (a
// single-value field alone, or a field inside spec or metadata).
func ParseCatalogPath(path string) (Path, error) {
	p, err := ParsePath(path)
	if err != nil {
		return p, err
	}
	return p, checkCatalogRoot(path)
}

func checkCatalogRoot(path string) error {
	root, rest, nested := strings.Cut(path, ".")
	switch {
	case root == "spec" || root == "metadata":
		if !nested {
			return fmt.Errorf("path %q names a mapping; name a field inside it, e.g. spec.lifecycle or metadata.description", path)
		}
	case root == "integration_properties":
		return fmt.Errorf("path %q: integration_properties lives under metadata; use metadata.%s", path, path)
	case isScalarRoot(root):
		if nested {
			return fmt.Errorf("path %q: %s holds a single value and has no field %q", path, root, rest)
		}
	default:
		return fmt.Errorf("path %q must start with one of %s, spec or metadata", path, strings.Join(scalarRoots, ", "))
	}
	return nil
}

func isScalarRoot(s string) bool {
	for _, r := range scalarRoots {
		if r == s {
			return true
		}
	}
	return false
}

// Lookup resolves a catalog path on the entity as YAML shows it, ingested
// overlays included, and returns the scalar values found, in text form.
func (e *Entity) Lookup(p Path) []string {
	path := p.text
	root, rest, nested := strings.Cut(path, ".")
	if !nested {
		if v, ok := e.envelopeValue(root); ok {
			if v == "" {
				return nil
			}
			return []string{v}
		}
	}
	switch root {
	case "spec":
		return values(e.specTree(), rest)
	case "metadata":
		return values(e.metadataTree(), rest)
	}
	return values(e.Extra, path)
}

func (e *Entity) envelopeValue(field string) (string, bool) {
	switch field {
	case "apiVersion":
		return APIVersion, true
	case "kind":
		return e.Kind, true
	case "type":
		return e.Type, true
	case "identifier":
		return e.Identifier, true
	case "name":
		return e.Name, true
	case "owner":
		return e.Owner, true
	case "orgIdentifier":
		return e.Org, true
	case "projectIdentifier":
		return e.Project, true
	}
	return "", false
}

// Values returns the scalar values at the path in a JSON- or YAML-like
// tree of map[string]any, []any, []string and scalars, in text form.
// Ingested data and catalog entities share it, so both sides of a
// correlation read paths and values the same way.
func (p Path) Values(tree any) []string { return values(tree, p.text) }

func values(tree any, path string) []string {
	if path == "" {
		return nil
	}
	var out []string
	var emit func(v any, _ bool)
	emit = func(v any, _ bool) {
		switch t := v.(type) {
		case []any:
			for _, el := range t {
				emit(el, true)
			}
		case []string:
			for _, s := range t {
				if s != "" {
					out = append(out, s)
				}
			}
		default: // a mapping is no value
			if s, ok := scalarString(t); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	walk(tree, path, 0, false, emit)
	return out
}

// Value returns what the path reaches in tree, typed as it is there
// (strings, numbers, booleans, lists, mappings). Through a list without an
// index, it is the list of what the path reaches in each element. ok is
// false when nothing (or only null) is there.
func (p Path) Value(tree any) (any, bool) {
	if p.text == "" {
		return nil, false
	}
	var found []any
	fanned := false
	walk(tree, p.text, 0, false, func(v any, viaList bool) {
		if v != nil {
			found = append(found, v)
			fanned = fanned || viaList
		}
	})
	switch {
	case len(found) == 0:
		return nil, false
	case len(found) == 1 && !fanned:
		return found[0], true
	}
	return found, true
}

func nextSegment(path string, start int) string {
	if end := strings.IndexByte(path[start:], '.'); end >= 0 {
		return path[start : start+end]
	}
	return path[start:]
}

// longestKey finds the longest run of segments from start that is a key of
// m; end is the offset just past it.
func longestKey(m map[string]any, path string, start int) (any, int, bool) {
	for end := len(path); end > start; {
		if child, ok := m[path[start:end]]; ok {
			return child, end, true
		}
		end = strings.LastIndexByte(path[start:end], '.')
		if end < 0 {
			return nil, 0, false
		}
		end += start
	}
	return nil, 0, false
}

// walk follows path[start:] from v and calls found with every value the
// path reaches, and whether it went through a list without an index to get
// there. Working on offsets into one string keeps the longest-key search
// free of allocations.
func walk(v any, path string, start int, viaList bool, found func(v any, viaList bool)) {
	if start >= len(path) {
		found(v, viaList)
		return
	}
	switch t := v.(type) {
	case []any:
		if seg := nextSegment(path, start); IsIndex(seg) {
			if i, _ := strconv.Atoi(seg); i < len(t) {
				walk(t[i], path, start+len(seg)+1, viaList, found)
			}
			return
		}
		for _, el := range t {
			walk(el, path, start, true, found)
		}
	case []string:
		if seg := nextSegment(path, start); IsIndex(seg) && start+len(seg) >= len(path) {
			if i, _ := strconv.Atoi(seg); i < len(t) {
				found(t[i], viaList)
			}
		}
	case map[string]any:
		if child, end, ok := longestKey(t, path, start); ok {
			walk(child, path, end+1, viaList, found)
		}
	}
}
