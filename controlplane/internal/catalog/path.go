package catalog

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Paths
//
// A path names values inside a document by its keys, joined with dots:
// "name", "spec.lifecycle", "metadata.annotations.bitbucket.org/repo-slug".
// Keys may themselves contain dots (annotation keys do), so at each mapping
// the longest run of the remaining segments that is a key wins: in
// annotations, "bitbucket.org/repo-slug" is tried before "bitbucket". The
// choice is final (no backtracking), so one path has one reading. A
// list met on the way applies the rest of the path to each element, so
// "metadata.tags" yields every tag and "metadata.links.url" every link's
// url. Only scalars are values: a path that ends at a mapping yields nothing,
// and so do null and empty strings (an empty value identifies nothing).

// MaxPathLen bounds a path; real ones are a few dozen bytes.
const MaxPathLen = 512

// ValidatePath checks the syntax of a path: non-empty dot-separated
// segments, without spaces at either end or control characters.
func ValidatePath(path string) error {
	switch {
	case path == "":
		return errors.New("path is empty")
	case len(path) > MaxPathLen:
		return fmt.Errorf("path is longer than %d bytes", MaxPathLen)
	}
	for i, seg := range strings.Split(path, ".") {
		switch {
		case seg == "":
			return fmt.Errorf("path %q: segment %d is empty (a leading, trailing or doubled dot)", path, i+1)
		case strings.TrimSpace(seg) != seg:
			return fmt.Errorf("path %q: segment %q has spaces at an end", path, seg)
		case strings.IndexFunc(seg, unicode.IsControl) >= 0:
			return fmt.Errorf("path %q: control characters are not allowed", path)
		}
	}
	return nil
}

// scalarRoots are the top-level fields that hold one value.
var scalarRoots = []string{
	"apiVersion", "kind", "type", "identifier", "name", "owner", "orgIdentifier", "projectIdentifier",
}

// ValidateCatalogPath checks a path into catalog entity YAML, as used by
// correlation rules: valid syntax, and a root the IDP 2.0 shape has (a
// single-value field alone, or a field inside spec or metadata).
func ValidateCatalogPath(path string) error {
	if err := ValidatePath(path); err != nil {
		return err
	}
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
func (e *Entity) Lookup(path string) []string {
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
		return Resolve(e.specTree(), rest)
	case "metadata":
		return Resolve(e.metadataTree(), rest)
	}
	return Resolve(e.Extra, path)
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

// Resolve returns the scalar values at path in a JSON- or YAML-like tree of
// map[string]any, []any, []string and scalars, following the rules above.
// Ingested data and catalog entities share it, so both sides of a
// correlation read paths and values the same way.
func Resolve(tree any, path string) []string {
	var out []string
	resolve(tree, path, 0, &out)
	return out
}

// resolve walks path[start:] from v. Working on offsets into one string
// keeps the longest-key search free of allocations.
func resolve(v any, path string, start int, out *[]string) {
	switch t := v.(type) {
	case []any:
		for _, el := range t {
			resolve(el, path, start, out)
		}
	case []string:
		if start >= len(path) {
			for _, s := range t {
				if s != "" {
					*out = append(*out, s)
				}
			}
		}
	case map[string]any:
		if start >= len(path) {
			return
		}
		// Try the whole remainder first, then shorten it at each dot from
		// the right.
		for end := len(path); end > start; {
			if child, ok := t[path[start:end]]; ok {
				resolve(child, path, end+1, out)
				return
			}
			end = strings.LastIndexByte(path[start:end], '.')
			if end < 0 {
				return
			}
			end += start
		}
	default:
		if start < len(path) {
			return
		}
		if s, ok := scalarString(t); ok && s != "" {
			*out = append(*out, s)
		}
	}
}
