package bitbucketmock

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The conformance test validates responses against Bitbucket's Swagger 2.0
// definitions (JSON Schema draft 4 underneath) with a JSON Schema validator.
// allOf branches are checked one by one, as JSON Schema does, so a closed
// branch rejects fields it does not declare.
//
// Swagger 2.0 cannot say "nullable", yet the live API sends null for absent
// embedded objects (mainbranch, parent, merge_commit, closed_by); null is
// therefore accepted where the schema is an object or a $ref to one, and
// nowhere else.

type schemaSet struct {
	defs     map[string]map[string]any
	compiled map[string]*jsonschema.Schema
}

func loadSchemas(t testing.TB) *schemaSet {
	t.Helper()
	b, err := os.ReadFile("testdata/bitbucket-cloud-definitions.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	s := &schemaSet{defs: doc.Definitions, compiled: map[string]*jsonschema.Schema{}}
	s.allowLiveExtras(t)
	s.allowScpCloneLinks(t)
	s.allowNulls()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	defs := map[string]any{}
	for name, def := range s.defs {
		defs[name] = def
	}
	if err := c.AddResource(schemaURL, map[string]any{"definitions": defs}); err != nil {
		t.Fatal(err)
	}
	for name := range s.defs {
		sch, err := c.Compile(schemaURL + "#/definitions/" + name)
		if err != nil {
			t.Fatalf("definition %s: %v", name, err)
		}
		s.compiled[name] = sch
	}
	return s
}

const schemaURL = "https://api.bitbucket.org/swagger.json"

// liveExtras are fields the live API returns that the spec's closed objects
// (additionalProperties: false) do not declare. Each is in a recorded
// response of the live API published in Atlassian's documentation.
var liveExtras = []struct {
	def     string   // definition
	path    []string // property path inside the allOf branch that declares properties
	fields  []string // extra fields, each typed as in schema
	schema  map[string]any
	replace bool // the spec declares the field, with another type
}{
	{"repository", []string{"links"}, []string{"branches", "tags", "source"}, linkSchema(), false},
	{"pullrequest", []string{"links"}, []string{"request-changes", "statuses"}, linkSchema(), false},
	{"project", []string{"links"}, []string{"self"}, linkSchema(), false},
	{"pullrequest", []string{"summary"}, []string{"type"}, str(), false},
	{"base_commit", []string{"summary"}, []string{"type"}, str(), false},
	{"pullrequest", []string{"merge_commit"}, []string{"type"}, str(), false},
	{"pullrequest", []string{"merge_commit"}, []string{"links"}, anyObject(), false},
	{"pullrequest_endpoint", []string{"commit"}, []string{"type"}, str(), false},
	{"pullrequest_endpoint", []string{"commit"}, []string{"links"}, anyObject(), false},
	// 403 for a missing scope: detail is {"required": [...], "granted": [...]}
	// (backstage/backstage#22383), though the spec types detail as a string.
	{"error", []string{"error"}, []string{"detail"}, map[string]any{"type": "object", "properties": map[string]any{
		"required": map[string]any{"type": "array", "items": str()},
		"granted":  map[string]any{"type": "array", "items": str()},
	}, "additionalProperties": false}, true},
	// 400 for an invalid form: fields maps each field to its messages, as in
	// the standardized error response of the spec's own narrative.
	{"error", []string{"error"}, []string{"fields"}, map[string]any{"type": "object", "additionalProperties": true}, false},
}

func linkSchema() map[string]any { return map[string]any{"$ref": "#/definitions/link"} }
func str() map[string]any        { return map[string]any{"type": "string"} }
func anyObject() map[string]any {
	return map[string]any{"type": "object", "additionalProperties": true}
}

func (s *schemaSet) allowLiveExtras(t testing.TB) {
	for _, e := range liveExtras {
		def := s.defs[e.def]
		if def == nil {
			t.Fatalf("live extra: no definition %s", e.def)
		}
		props := declaringProperties(def)
		for _, p := range e.path {
			child, _ := props[p].(map[string]any)
			if child == nil {
				t.Fatalf("live extra: %s has no property %s", e.def, strings.Join(e.path, "."))
			}
			props, _ = child["properties"].(map[string]any)
		}
		for _, f := range e.fields {
			if (props[f] != nil) != e.replace {
				t.Fatalf("live extra %s.%s.%s: declared by the spec is %v, want %v", e.def, strings.Join(e.path, "."), f, props[f] != nil, e.replace)
			}
			props[f] = copySchema(t, e.schema) // allowNulls rewrites it in place
		}
	}
}

// allowScpCloneLinks drops format: uri from the href of a repository's
// clone links: the live API's ssh clone link is scp-style
// (git@bitbucket.org:acme/repo.git), which is no URI. Every other link
// keeps the format.
func (s *schemaSet) allowScpCloneLinks(t testing.TB) {
	node := any(declaringProperties(s.defs["repository"]))
	for _, k := range []string{"links", "properties", "clone", "items", "properties", "href"} {
		m, _ := node.(map[string]any)
		node = m[k]
	}
	href, _ := node.(map[string]any)
	if href["format"] != "uri" {
		t.Fatalf("repository links.clone[].href: the spec's schema is %v, want a string of format uri", href)
	}
	delete(href, "format")
}

// copySchema returns a deep copy of schema, so that tests running at once
// never share one.
func copySchema(t testing.TB, schema map[string]any) map[string]any {
	b, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// declaringProperties returns the properties of the (allOf branch of the)
// definition that declares them.
func declaringProperties(def map[string]any) map[string]any {
	if p, ok := def["properties"].(map[string]any); ok {
		return p
	}
	for _, b := range asSlice(def["allOf"]) {
		if p, ok := b.(map[string]any)["properties"].(map[string]any); ok {
			return p
		}
	}
	return nil
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// allowNulls lets every property or array item whose schema is an object,
// or a $ref to one, be null as well; and null in an enum be valid despite
// the enum's type, as Swagger 2.0 means it.
func (s *schemaSet) allowNulls() {
	nullable := func(schema any) any {
		m, ok := schema.(map[string]any)
		if !ok || !s.isObjectSchema(m) {
			return schema
		}
		return map[string]any{"anyOf": []any{map[string]any{"type": "null"}, m}}
	}
	var walk func(node any)
	walk = func(node any) {
		switch n := node.(type) {
		case map[string]any:
			if typ, ok := n["type"].(string); ok && slices.Contains(asSlice(n["enum"]), nil) {
				n["type"] = []any{typ, "null"}
			}
			if props, ok := n["properties"].(map[string]any); ok {
				for k, p := range props {
					walk(p)
					props[k] = nullable(p)
				}
			}
			if items, ok := n["items"]; ok {
				walk(items)
				n["items"] = nullable(items)
			}
			for _, b := range asSlice(n["allOf"]) {
				walk(b)
			}
			if ap, ok := n["additionalProperties"].(map[string]any); ok {
				walk(ap)
			}
		}
	}
	for _, def := range s.defs {
		walk(def)
	}
}

// isObjectSchema reports whether schema, through its $refs, is an object:
// typed so, or made of allOf branches.
func (s *schemaSet) isObjectSchema(schema map[string]any) bool {
	for range len(s.defs) + 1 {
		ref, ok := schema["$ref"].(string)
		if !ok {
			break
		}
		schema = s.defs[strings.TrimPrefix(ref, "#/definitions/")]
	}
	_, hasAllOf := schema["allOf"]
	return schema["type"] == "object" || hasAllOf
}

// validate checks doc (decoded with encoding/json) against definition name
// and returns every violation, each with its JSON pointer.
func (s *schemaSet) validate(name string, doc any) []string {
	sch := s.compiled[name]
	if sch == nil {
		return []string{"no definition " + name}
	}
	var ve *jsonschema.ValidationError
	if err := sch.Validate(doc); err == nil {
		return nil
	} else if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	var errs []string
	var leaves func(e *jsonschema.ValidationError)
	leaves = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			errs = append(errs, "/"+strings.Join(e.InstanceLocation, "/")+": "+e.ErrorKind.LocalizedString(english))
		}
		for _, c := range e.Causes {
			leaves(c)
		}
	}
	leaves(ve)
	return errs
}

var english = message.NewPrinter(language.English)

// The validator must be able to fail, or the conformance test proves nothing.
func TestSchemaValidatorCatchesViolations(t *testing.T) {
	t.Parallel()
	schemas := loadSchemas(t)
	run := Start(t, Config{Seed: 3, Repos: 3, PRsPerRepo: 2, CommitsPerRepo: 3})
	body := getJSON(t, run, "/repositories/acme?pagelen=1")
	if errs := schemas.validate("paginated_repositories", body); len(errs) > 0 {
		t.Fatalf("a real page must validate first: %v", errs)
	}
	repo := func() map[string]any {
		fresh := getJSON(t, run, "/repositories/acme?pagelen=1")
		return fresh["values"].([]any)[0].(map[string]any)
	}
	// What the live API sends and Swagger cannot say stays valid.
	r := repo()
	r["mainbranch"], r["parent"] = nil, nil
	if errs := schemas.validate("repository", r); len(errs) > 0 {
		t.Fatalf("a repository without main branch or parent must validate: %v", errs)
	}
	for _, tc := range []struct {
		name   string
		spoil  func(map[string]any)
		wantIn string
	}{
		{"wrong type", func(r map[string]any) { r["is_private"] = "yes" }, "/is_private: got string, want boolean"},
		{"integer as string", func(r map[string]any) { r["size"] = "12" }, "/size: got string, want integer"},
		{"fraction as integer", func(r map[string]any) { r["size"] = 1.5 }, "/size: got number, want integer"},
		{"unknown link", func(r map[string]any) { r["links"].(map[string]any)["bogus"] = map[string]any{} }, "/links: additional properties 'bogus' not allowed"},
		{"missing type", func(r map[string]any) { delete(r, "type") }, "/: missing property 'type'"},
		{"enum", func(r map[string]any) { r["scm"] = "hg" }, "/scm: value must be 'git'"},
		{"date-time", func(r map[string]any) { r["created_on"] = "yesterday" }, "/created_on: 'yesterday' is not valid date-time"},
		{"null string", func(r map[string]any) { r["name"] = nil }, "/name: got null, want string"},
		{"nested ref", func(r map[string]any) { r["project"].(map[string]any)["key"] = 7.0 }, "/project/key: got number, want string"},
		{"object where an array belongs", func(r map[string]any) { r["links"].(map[string]any)["clone"] = map[string]any{} }, "/links/clone: got object, want array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := repo()
			tc.spoil(r)
			errs := schemas.validate("repository", r)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tc.wantIn) }) {
				t.Fatalf("want a violation containing %q, got %v", tc.wantIn, errs)
			}
		})
	}
}
