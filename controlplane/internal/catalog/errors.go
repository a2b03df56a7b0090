package catalog

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one broken rule, shaped so that the API layer can turn it
// into a BadRequest field violation without parsing text.
type FieldError struct {
	// Field is the dotted path of the field, with list indexes in brackets:
	// "spec.lifecycle", "metadata.tags[2]". It is empty when the problem
	// concerns the document as a whole (malformed YAML, an empty document).
	Field string
	// Line is the 1-based line in the submitted YAML, or 0 when unknown
	// (entities built in code, problems found without a position).
	Line int
	// Rule says what is wrong, for a person to read.
	Rule string
}

func (e FieldError) String() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Rule)
	return b.String()
}

// ValidationError lists every rule an entity breaks, in line order, so that
// a user fixes their YAML in one round rather than one error at a time.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.String()
	}
	return "invalid catalog entity: " + strings.Join(parts, "; ")
}

// problems collects field errors while an entity is checked. Only the first
// problem of a field, or of the field holding it, is kept: a spec that is not
// a mapping need not also be reported as lacking spec.lifecycle.
type problems struct {
	list []FieldError
}

func (p *problems) add(field string, line int, format string, args ...any) {
	if field != "" {
		for _, fe := range p.list {
			if fe.Field != "" && within(field, fe.Field) {
				return
			}
		}
	}
	p.list = append(p.list, FieldError{Field: field, Line: line, Rule: fmt.Sprintf(format, args...)})
}

// within reports whether field is outer or lies inside it.
func within(field, outer string) bool {
	rest, ok := strings.CutPrefix(field, outer)
	return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Field, b.Field))
	})
	return &ValidationError{Errors: list}
}

// fieldName renders a path of keys (string) and list indexes (int) the way
// FieldError.Field is documented.
func fieldName(path ...any) string {
	var b strings.Builder
	for _, seg := range path {
		switch s := seg.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s))
			b.WriteByte(']')
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}
