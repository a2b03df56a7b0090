package catalog

import (
	"fmt"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Limits of an entity document. Parse enforces the first three on every
// document it reads, sent by a user or read back from the store, with
// aliases counted each time they are used, so that a small document
// cannot expand into a huge one. What is stored is always rendered by
// Document, which refuses anything Parse would not read back: a stored
// document can always be read.
const (
	// MaxDocumentSize bounds a document in bytes.
	MaxDocumentSize = 1 << 20
	// MaxDepth bounds how deep mappings and lists nest.
	MaxDepth = 32
	// MaxNodes bounds the scalars, mappings and lists of a document.
	MaxNodes = 20000

	// A user's own document (ParseSubmitted) gets half of the size and
	// of the nodes, measured on its rendered form; the other half is
	// room for the sections integrations ingest into it.
	MaxSubmittedSize  = MaxDocumentSize / 2
	MaxSubmittedNodes = MaxNodes / 2
)

// shape measures the node tree under root, aliases expanded, and returns
// its node count, or an error naming the limit it passes and the line
// where it does. It stops at the first limit passed, so a document built
// to expand exponentially costs no more than MaxNodes steps.
func shape(root *yaml.Node) (int, error) {
	nodes := 0
	open := map[*yaml.Node]bool{} // the nodes being walked: an alias to one is a cycle
	var walk func(n *yaml.Node, depth int) error
	walk = func(n *yaml.Node, depth int) error {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			if open[n.Alias] {
				return nil // a cycle, which decoding reports with its own message
			}
			return walk(n.Alias, depth)
		}
		if depth > MaxDepth {
			return documentError(n.Line, "nested more than %d levels deep", MaxDepth)
		}
		if nodes++; nodes > MaxNodes {
			return documentError(n.Line, "more than %d values (an alias counts each time it is used)", MaxNodes)
		}
		open[n] = true
		defer delete(open, n)
		for _, c := range n.Content {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(root, 1)
	return nodes, err
}

// ParseSubmitted is Parse for a user's own document: its rendered form,
// which is what is stored, must also stay within MaxSubmittedSize and
// MaxSubmittedNodes, and its fields within the bounds of checkSubmitted.
func ParseSubmitted(data []byte) (*Entity, error) {
	e, p, err := parse(data)
	if err != nil {
		return nil, err
	}
	e.checkSubmitted(&p.problems, p.line)
	if err := p.err(); err != nil {
		return nil, err
	}
	out, err := e.YAML()
	if err != nil {
		return nil, err
	}
	if len(out) > MaxSubmittedSize {
		return nil, documentError(0, "the entity renders to %d bytes; at most %d are accepted", len(out), MaxSubmittedSize)
	}
	root, err := parseDocument(out)
	if err != nil {
		return nil, fmt.Errorf("rendered entity %s does not parse: %w", e.Identifier, err)
	}
	n, err := shape(root)
	switch {
	case err != nil:
		return nil, err
	case n > MaxSubmittedNodes:
		return nil, documentError(0, "the entity has %d values once aliases are expanded; at most %d are accepted", n, MaxSubmittedNodes)
	}
	return e, nil
}

// Document renders the entity as it is stored, and checks that Parse
// reads it back: within MaxDocumentSize, MaxDepth and MaxNodes.
func (e *Entity) Document() ([]byte, error) {
	out, err := e.YAML()
	if err != nil {
		return nil, err
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("entity %s would be stored as a document that cannot be read back: %w", e.Identifier, err)
	}
	return out, nil
}

// Bounds of the fields of a user's entity. They hold for what users
// submit; documents stored before them still read back.
const (
	maxLineField   = 256  // type, name, owner, lifecycle: one line
	maxDescription = 4096 // metadata.description: text
	maxTags        = 64
	maxTag         = 128
)

// checkSubmitted checks the fields catalog lists and filters show: one
// line each (the description may span lines), bounded, and no NUL
// anywhere in the document, which no database column can hold.
func (e *Entity) checkSubmitted(p *problems, line lineFunc) {
	for _, f := range []struct {
		path  []any
		value string
	}{{[]any{"type"}, e.Type}, {[]any{"name"}, e.Name}, {[]any{"owner"}, e.Owner}, {[]any{"spec", "lifecycle"}, e.Lifecycle}} {
		checkText(p, line, f.path, f.value, maxLineField, false)
	}
	checkText(p, line, []any{"metadata", "description"}, e.Description, maxDescription, true)
	if len(e.Tags) > maxTags {
		p.add("metadata.tags", line("metadata", "tags"), "at most %d tags, got %d", maxTags, len(e.Tags))
	}
	for i, t := range e.Tags {
		checkText(p, line, []any{"metadata", "tags", i}, t, maxTag, false)
	}
	for _, tree := range []struct {
		root string
		v    map[string]any
	}{{"spec", e.Spec}, {"metadata", e.Metadata}, {"", e.Extra}} {
		var path []any
		if tree.root != "" {
			path = []any{tree.root}
		}
		if at, found := findNUL(tree.v, path); found {
			p.add(fieldName(at...), line(at...), "must not contain NUL characters")
		}
	}
}

func checkText(p *problems, line lineFunc, path []any, s string, limit int, multiline bool) {
	field := fieldName(path...)
	if len(s) > limit {
		p.add(field, line(path...), "at most %d bytes, got %d", limit, len(s))
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r'))
	}); i >= 0 {
		what := "a single line without control characters"
		if multiline {
			what = "text without control characters other than tab and line breaks"
		}
		p.add(field, line(path...), "must be %s", what)
	}
}

// findNUL returns the path of the first key or string under v that holds
// a NUL character.
func findNUL(v any, path []any) ([]any, bool) {
	switch t := v.(type) {
	case string:
		return path, strings.IndexByte(t, 0) >= 0
	case map[string]any:
		for k, c := range t {
			at := append(path[:len(path):len(path)], k)
			if strings.IndexByte(k, 0) >= 0 {
				return at, true
			}
			if p, ok := findNUL(c, at); ok {
				return p, true
			}
		}
	case []any:
		for i, c := range t {
			if p, ok := findNUL(c, append(path[:len(path):len(path)], i)); ok {
				return p, true
			}
		}
	}
	return nil, false
}
