package bitbucketmock

import (
	"net/url"
	"testing"
)

// TestHostileInput sends malformed parameters everywhere: the server must
// answer each with a 4xx in Bitbucket's error shape, never fail or panic.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 3, Repos: 12, PRsPerRepo: 3, CommitsPerRepo: 4})
	repo := "/repositories/acme/" + firstFull(t, run).Slug
	for _, path := range []string{
		"/repositories/acme?page=9223372036854775807",
		"/repositories/acme?pagelen=9223372036854775807",
		"/repositories/acme?pagelen=99999999999999999999999",
		"/repositories/acme?q=" + url.QueryEscape(`((((`),
		"/repositories/acme?q=" + url.QueryEscape(`name = "unterminated`),
		"/repositories/acme?q=" + url.QueryEscape(`name IN (`),
		"/repositories/acme?q=" + url.QueryEscape(`name IN ("a",`),
		"/repositories/acme?q=" + url.QueryEscape(`name NOT "a"`),
		"/repositories/acme?q=" + url.QueryEscape(`name ! "a"`),
		"/repositories/acme?q=" + url.QueryEscape(`AND AND`),
		"/repositories/acme?sort=" + url.QueryEscape(`--name`),
		"/repositories/acme?sort=" + url.QueryEscape(`name,slug`),
		"/repositories/acme?fields=" + url.QueryEscape(`values..name`),
		"/repositories/acme?fields=" + url.QueryEscape(`-`),
		repo + "/commits?page=" + url.QueryEscape("!!!"),
		repo + "/commits?page=AAAAAAAAAAA",
		repo + "/commits/" + url.PathEscape("../../etc"),
		repo + "/commit/ZZZZZZZ",
		repo + "/pullrequests/-1",
		repo + "/pullrequests/99999999999999999999",
		repo + "/pullrequests?state=",
		"/repositories/" + url.PathEscape("{not-a-uuid}") + "/x",
		"/repositories/%7B%7D/slug-with-empty-workspace",
		"/workspaces/acme/projects/" + url.PathEscape("ünï"),
	} {
		r := get(t, run, path)
		if r.status < 400 || r.status >= 500 {
			t.Errorf("GET %s: status %d: %s", path, r.status, r.body)
			continue
		}
		errorMessage(t, r)
	}
}
