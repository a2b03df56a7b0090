package bitbucketmock

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// A validator for the subset of Swagger 2.0 schemas Bitbucket's definitions
// use: type, properties, items, allOf, $ref, additionalProperties, required,
// enum, pattern and format date-time. allOf branches are checked one by one,
// as JSON Schema does, so a closed branch rejects fields it does not declare.
//
// Swagger 2.0 cannot say "nullable", yet the live API sends null for absent
// embedded objects (mainbranch, parent, merge_commit, closed_by); null is
// therefore accepted where the schema is an object or a $ref to one, and
// nowhere else.

type schemaSet struct {
	defs map[string]map[string]any
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
	s := &schemaSet{defs: doc.Definitions}
	s.allowLiveExtras(t)
	return s
}

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
			props[f] = e.schema
		}
	}
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

// validate checks doc (decoded with encoding/json) against definition name
// and returns every violation, each with its JSON path.
func (s *schemaSet) validate(name string, doc any) []string {
	var errs []string
	s.check(map[string]any{"$ref": "#/definitions/" + name}, doc, "$", &errs)
	return errs
}

func (s *schemaSet) resolve(schema map[string]any) map[string]any {
	for {
		ref, ok := schema["$ref"].(string)
		if !ok {
			return schema
		}
		schema = s.defs[strings.TrimPrefix(ref, "#/definitions/")]
		if schema == nil {
			panic("unknown $ref " + ref)
		}
	}
}

func (s *schemaSet) isObjectSchema(schema map[string]any) bool {
	schema = s.resolve(schema)
	if schema["type"] == "object" {
		return true
	}
	_, hasAllOf := schema["allOf"]
	return hasAllOf
}

func (s *schemaSet) check(schema map[string]any, v any, path string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if v == nil {
		if s.isObjectSchema(schema) {
			return
		}
		if enum := asSlice(s.resolve(schema)["enum"]); slices.Contains(enum, nil) {
			return
		}
		fail("null where the schema wants %v", s.resolve(schema)["type"])
		return
	}
	schema = s.resolve(schema)
	for _, b := range asSlice(schema["allOf"]) {
		s.check(b.(map[string]any), v, path, errs)
	}
	switch schema["type"] {
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			fail("want an object, got %T", v)
			return
		}
		props, _ := schema["properties"].(map[string]any)
		keys := make([]string, 0, len(o))
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				s.check(ps, o[k], path+"."+k, errs)
			} else if schema["additionalProperties"] == false {
				fail("field %q is not in the schema", k)
			}
		}
		for _, r := range asSlice(schema["required"]) {
			if _, ok := o[r.(string)]; !ok {
				fail("required field %q missing", r)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("want an array, got %T", v)
			return
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				s.check(items, e, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("want a string, got %T", v)
			return
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				fail("not a date-time: %q", str)
			}
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			fail("%q does not match %s", str, p)
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			fail("want an integer, got %v", v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			fail("want a number, got %T", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %T", v)
		}
	}
	if enum := asSlice(schema["enum"]); enum != nil && !slices.Contains(enum, v) {
		fail("%v is not one of %v", v, enum)
	}
}

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
	for _, tc := range []struct {
		name   string
		spoil  func(map[string]any)
		wantIn string
	}{
		{"wrong type", func(r map[string]any) { r["is_private"] = "yes" }, "$.is_private: want a boolean"},
		{"integer as string", func(r map[string]any) { r["size"] = "12" }, "$.size: want an integer"},
		{"unknown link", func(r map[string]any) { r["links"].(map[string]any)["bogus"] = map[string]any{} }, `field "bogus" is not in the schema`},
		{"missing type", func(r map[string]any) { delete(r, "type") }, `required field "type" missing`},
		{"enum", func(r map[string]any) { r["scm"] = "hg" }, "hg is not one of"},
		{"date-time", func(r map[string]any) { r["created_on"] = "yesterday" }, "not a date-time"},
		{"null string", func(r map[string]any) { r["name"] = nil }, "$.name: null"},
		{"nested ref", func(r map[string]any) { r["project"].(map[string]any)["key"] = 7.0 }, "$.project.key: want a string"},
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
