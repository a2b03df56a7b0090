package bitbucketmock

import "testing"

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
