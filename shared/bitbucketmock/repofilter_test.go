package bitbucketmock

import (
	"net/url"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// The mock answers the q expressions of a repository filter the way
// Bitbucket does: it lists exactly the repositories the filter's server
// part keeps, and its size counts only those.
func TestRepositoryFilterQueries(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 5, Repos: 90, Projects: 4, PRsPerRepo: 1, CommitsPerRepo: 2})
	repos := run.Repos()
	keys := map[string]bool{}
	for _, r := range repos {
		keys[r.ProjectKey] = true
	}
	var all []string
	for k := range keys {
		all = append(all, k)
	}
	if len(all) < 3 {
		t.Fatalf("want at least 3 projects, got %v", all)
	}
	since := repos[len(repos)/2].UpdatedOn.Truncate(time.Second)
	for _, f := range []repofilter.Filter{
		{IncludeProjects: []string{all[0]}},
		{IncludeProjects: []string{all[0], all[1]}},
		{ExcludeProjects: []string{all[2]}},
		{IncludeProjects: []string{all[0], all[1]}, Visibility: repofilter.PrivateOnly},
		{Visibility: repofilter.PublicOnly},
		{UpdatedSince: since},
		{ExcludeProjects: []string{all[0]}, UpdatedSince: since},
	} {
		want := map[string]bool{}
		for _, r := range repos {
			if f.Evaluate(repofilter.Repository{ProjectKey: r.ProjectKey, Slug: r.Slug, Name: r.Name, IsPrivate: r.Private, UpdatedOn: r.UpdatedOn}).Included {
				want[r.UUID] = true
			}
		}
		q := f.Query()
		got := map[string]bool{}
		path := "/repositories/acme?pagelen=100&" + url.Values{"q": {q}}.Encode()
		for path != "" {
			body := getJSON(t, run, path)
			if int(body["size"].(float64)) != len(want) {
				t.Fatalf("q=%s: size %v, want %d", q, body["size"], len(want))
			}
			for _, v := range body["values"].([]any) {
				got[v.(map[string]any)["uuid"].(string)] = true
			}
			path = ""
			if next, ok := body["next"].(string); ok {
				path = next[len(run.URL):]
			}
		}
		if len(got) != len(want) {
			t.Fatalf("q=%s: listed %d repositories, want %d", q, len(got), len(want))
		}
		for u := range want {
			if !got[u] {
				t.Fatalf("q=%s: %s missing", q, u)
			}
		}
	}
}
