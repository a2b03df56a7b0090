package catalog

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Parse reads one entity from IDP 2.0 YAML and checks it. Every problem is
// reported at once, as a *ValidationError whose FieldErrors carry the field
// and its line; malformed YAML is reported the same way, with the line the
// YAML parser names. Parse never panics, whatever the input, and refuses
// a document past the limits of limits.go before expanding it.
//
// metadata.integration and metadata.integration_properties are read into
// Integrations and IngestedProperties, so that what YAML renders parses back
// to the same entity. Whether a user may change them is for the caller
// to decide; the catalog service keeps the stored ones.
func Parse(data []byte) (*Entity, error) {
	e, _, err := parse(data)
	return e, err
}

// parse is Parse, also returning the parser, which finds the line of a
// field.
func parse(data []byte) (*Entity, *parser, error) {
	if len(data) > MaxDocumentSize {
		return nil, nil, documentError(0, "document is %d bytes; at most %d are accepted", len(data), MaxDocumentSize)
	}
	root, err := parseDocument(data)
	if err != nil {
		return nil, nil, err
	}
	if _, err := shape(root); err != nil {
		return nil, nil, err
	}
	var raw any
	if err := root.Decode(&raw); err != nil {
		return nil, nil, yamlError(err)
	}
	v, err := normalize(raw)
	if err != nil {
		return nil, nil, documentError(root.Line, "%v", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, nil, documentError(root.Line, "must be a mapping of fields such as apiVersion, kind and identifier")
	}
	p := &parser{root: root}
	e := p.entity(doc)
	e.check(&p.problems, p.line)
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return e, p, nil
}

// parseDocument returns the root mapping of the only document in data.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, documentError(0, "document is empty")
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, documentError(next.Line, "a second YAML document starts here; submit one entity at a time")
	case !errors.Is(err, io.EOF):
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, documentError(0, "document is empty")
	}
	root := doc.Content[0]
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		return nil, documentError(root.Line, "document is empty")
	case root.Kind != yaml.MappingNode:
		return nil, documentError(root.Line, "must be a mapping of fields such as apiVersion, kind and identifier")
	}
	return root, nil
}

func documentError(line int, format string, args ...any) error {
	var p problems
	p.add("", line, format, args...)
	return p.err()
}

var (
	syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	decodeLine = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// yamlError turns the YAML library's errors, which carry the line only in
// their text, into a ValidationError with the line as a number.
func yamlError(err error) error {
	var p problems
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			line, rest := splitLine(decodeLine, msg)
			p.add("", line, "%s", rest)
		}
		return p.err()
	}
	msg := err.Error()
	line, rest := splitLine(syntaxLine, msg)
	if line == 0 {
		rest = strings.TrimPrefix(msg, "yaml: ")
	}
	p.add("", line, "malformed YAML: %s", rest)
	return p.err()
}

func splitLine(re *regexp.Regexp, msg string) (int, string) {
	m := re.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, msg
	}
	return n, m[2]
}

// parser turns the decoded document into an Entity, recording type errors
// with the line of the field that caused them.
type parser struct {
	root *yaml.Node
	problems
}

// line walks the node tree along path (keys and list indexes) and returns
// the line of the deepest field it reaches: a missing field is reported at
// its parent, which is where the user has to add it.
func (p *parser) line(path ...any) int {
	n := p.root
	line := n.Line
	for _, seg := range path {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch s := seg.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			if n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return line
			}
			n = n.Content[s]
			line = n.Line
		}
	}
	return line
}

func (p *parser) entity(doc map[string]any) *Entity {
	e := &Entity{}
	switch v := p.take(doc, "apiVersion"); v {
	case APIVersion:
	case "":
		p.add("apiVersion", p.line("apiVersion"), "required: %s", APIVersion)
	default:
		p.add("apiVersion", p.line("apiVersion"), "must be %s, not %q", APIVersion, v)
	}
	e.Kind = p.take(doc, "kind")
	if canon, ok := CanonicalKind(e.Kind); ok {
		e.Kind = canon
	}
	e.Type = p.take(doc, "type")
	e.Identifier = p.take(doc, "identifier")
	e.Name = p.take(doc, "name")
	if e.Name == "" {
		e.Name = e.Identifier
	}
	e.Owner = p.take(doc, "owner")
	e.Org = p.take(doc, "orgIdentifier")
	e.Project = p.take(doc, "projectIdentifier")
	if spec := p.mapping(doc, "spec"); spec != nil {
		e.Lifecycle = p.take(spec, "spec", "lifecycle")
		e.Spec = nonEmpty(spec)
	}
	if meta := p.mapping(doc, "metadata"); meta != nil {
		e.Description = p.take(meta, "metadata", "description")
		e.Tags = p.tags(meta)
		e.Integrations = p.links(meta)
		e.IngestedProperties = p.ingested(meta)
		e.Metadata = nonEmpty(meta)
	}
	e.Extra = nonEmpty(doc)
	return e
}

// take removes the scalar at path from m (the map holding its last key) and
// returns it as text; "" when absent or null.
func (p *parser) take(m map[string]any, path ...string) string {
	key := path[len(path)-1]
	v, ok := m[key]
	if !ok {
		return ""
	}
	delete(m, key)
	if v == nil {
		return ""
	}
	s, ok := scalarString(v)
	if !ok {
		at := anyPath(path)
		p.add(fieldName(at...), p.line(at...), "must be a single value, not a list or mapping")
	}
	return s
}

// mapping removes the mapping at key from the top level and returns it.
func (p *parser) mapping(doc map[string]any, key string) map[string]any {
	v, ok := doc[key]
	if !ok {
		return nil
	}
	delete(doc, key)
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.add(key, p.line(key), "must be a mapping")
	}
	return m
}

func (p *parser) tags(meta map[string]any) []string {
	v, ok := meta["tags"]
	if !ok {
		return nil
	}
	delete(meta, "tags")
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		p.add("metadata.tags", p.line("metadata", "tags"), "must be a list of strings")
		return nil
	}
	tags := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := scalarString(item)
		if !ok {
			p.add(fieldName("metadata", "tags", i), p.line("metadata", "tags", i), "must be a string")
			continue
		}
		tags = append(tags, s)
	}
	if len(tags) == 0 {
		return nil
	}
	return tags
}

// links reads metadata.integration: scope → integration id → record kind →
// {entity_uuid, entity_action, imported_at}.
func (p *parser) links(meta map[string]any) map[LinkKey]Link {
	v, ok := meta["integration"]
	if !ok {
		return nil
	}
	delete(meta, "integration")
	links := make(map[LinkKey]Link)
	for scope, ids := range p.children(v, "metadata", "integration") {
		for id, records := range p.children(ids, "metadata", "integration", scope) {
			for record, fields := range p.children(records, "metadata", "integration", scope, id) {
				path := []any{"metadata", "integration", scope, id, record}
				if l, ok := p.link(fields, path); ok {
					links[LinkKey{Scope: scope, IntegrationID: id, Record: record}] = l
				}
			}
		}
	}
	if len(links) == 0 {
		return nil
	}
	return links
}

// children returns v as a mapping, recording an error when it is not one.
func (p *parser) children(v any, path ...any) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.add(fieldName(path...), p.line(path...), "must be a mapping")
	}
	return m
}

func (p *parser) link(v any, path []any) (Link, bool) {
	m := p.children(v, path...)
	if m == nil {
		return Link{}, false
	}
	at := func(key string) []any { return append(path[:len(path):len(path)], key) }
	var l Link
	for key, val := range m {
		s, ok := scalarString(val)
		if !ok && val != nil {
			p.add(fieldName(at(key)...), p.line(at(key)...), "must be a single value")
			continue
		}
		switch key {
		case "entity_uuid":
			l.EntityUUID = s
		case "entity_action":
			l.Action = Action(s)
		case "imported_at":
			if t, ok := val.(time.Time); ok {
				l.ImportedAt = t.UTC()
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil && s != "" {
				p.add(fieldName(at(key)...), p.line(at(key)...), "must be an RFC 3339 time, not %q", s)
				continue
			}
			l.ImportedAt = t.UTC()
		default:
			p.add(fieldName(at(key)...), p.line(at(key)...), "unknown link field; want entity_uuid, entity_action, imported_at")
		}
	}
	return l, true
}

// ingested reads metadata.integration_properties: source → mapping.
func (p *parser) ingested(meta map[string]any) map[string]map[string]any {
	v, ok := meta["integration_properties"]
	if !ok {
		return nil
	}
	delete(meta, "integration_properties")
	out := make(map[string]map[string]any)
	for source, props := range p.children(v, "metadata", "integration_properties") {
		if m := p.children(props, "metadata", "integration_properties", source); len(m) > 0 {
			out[source] = m
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func nonEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}

func anyPath(path []string) []any {
	out := make([]any, len(path))
	for i, s := range path {
		out[i] = s
	}
	return out
}
