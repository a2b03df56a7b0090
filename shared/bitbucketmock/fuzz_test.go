package bitbucketmock

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// The query and fields languages come straight from clients: whatever they
// hold, parsing and applying them must not panic.

func fuzzSample() obj {
	return obj{{"name", "ünï"}, {"size", 3}, {"ok", true}, {"none", nil},
		{"project", obj{{"key", "PLAT"}}}, {"list", []any{obj{{"a", "b"}}, "x"}}}
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{`name = "a"`, `updated_on >= 2025-01-01T00:00:00+00:00 AND x IN ("a", 1, null)`,
		`(a ~ "b" OR c != true) AND d NOT IN (1.5)`, `list.a = "b"`, `"`, `((`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if q, err := parseQuery(s); err == nil {
			q.match(fuzzSample())
			queryPaths(q)
		}
		if sp, err := parseSort(s); err == nil {
			sp.value(fuzzSample())
		}
	})
}

func FuzzFields(f *testing.F) {
	for _, s := range []string{"-links", "+values.reviewers", "values.id,values.state", "-*,+foo", "list.*", "-list.a", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sample := fuzzSample()
		if out, err := selectFields(sample, sample, s); err == nil {
			encodeJSON(nil, out)
		}
	})
}

// A hook form comes straight from clients too: whatever it holds, applying
// it must not panic, an invalid form must change nothing, and a valid one
// must leave a hook that can be delivered to.
func FuzzHookForm(f *testing.F) {
	for _, s := range []string{`{"url": "https://r.example/x", "events": ["repo:push"]}`, `{"secret": null}`,
		`{"url": 1, "events": [1]}`, `{"events": []}`, `{"active": null, "description": 3}`, `{"url": "http://[::1]:80/x"}`} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, create bool) {
		var form hookForm
		if json.Unmarshal([]byte(body), &form) != nil {
			return
		}
		h := hook{url: "https://before.example/", events: []string{"repo:push"}, active: true}
		before := h
		if errs := applyHookForm(&h, form, create); len(errs) > 0 {
			if !reflect.DeepEqual(h, before) {
				t.Fatalf("an invalid form changed the hook: %+v", h)
			}
			return
		}
		if !validHookURL(h.url) || len(h.events) == 0 || len([]rune(h.secret)) > maxHookSecret {
			t.Fatalf("a valid form left %+v", h)
		}
		for _, e := range h.events {
			if !slices.Contains(hookEvents, e) {
				t.Fatalf("event %q accepted", e)
			}
		}
	})
}
