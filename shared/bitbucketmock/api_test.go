package bitbucketmock

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// readOnly is a workspace the read-only tests share.
func readOnly(t *testing.T) *Running {
	return Start(t, Config{Seed: 11, Repos: 60, PRsPerRepo: 23, CommitsPerRepo: 75})
}

// firstFull is a non-empty repository.
func firstFull(t *testing.T, run *Running) RepoInfo {
	for _, r := range run.Repos() {
		if r.MainBranch != "" {
			return r
		}
	}
	t.Fatal("no non-empty repository")
	return RepoInfo{}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	run := readOnly(t)
	repo := firstFull(t, run)
	prs := "/repositories/acme/" + repo.Slug + "/pullrequests"
	for _, tc := range []struct {
		name, path string
		status     int
		message    string
	}{
		{"repositories default", "/repositories/acme", 200, ""},
		{"repositories max", "/repositories/acme?pagelen=100", 200, ""},
		{"repositories above max", "/repositories/acme?pagelen=101", 400, "Invalid pagelen"},
		{"pagelen not a number", "/repositories/acme?pagelen=ten", 400, "Invalid pagelen"},
		{"negative pagelen", "/repositories/acme?pagelen=-1", 400, "Invalid pagelen"},
		{"page zero", "/repositories/acme?page=0", 400, "Invalid page"},
		{"page not a number", "/repositories/acme?page=2%2F", 400, "Invalid page"},
		{"page past the end", "/repositories/acme?page=99", 400, "Invalid page"},
		{"pull requests max is 50", prs + "?pagelen=50", 200, ""},
		{"pull requests pagelen 100", prs + "?pagelen=100", 400, "Invalid pagelen"},
		{"pull requests pagelen 51", prs + "?pagelen=51", 400, "Invalid pagelen"},
		{"projects above max", "/workspaces/acme/projects?pagelen=101", 400, "Invalid pagelen"},
		{"commits above max", "/repositories/acme/" + repo.Slug + "/commits?pagelen=101", 400, "Invalid pagelen"},
		{"bad commit page token", "/repositories/acme/" + repo.Slug + "/commits?page=2", 400, "Invalid page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := get(t, run, tc.path)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.message != "" {
				if got := errorMessage(t, r); got != tc.message {
					t.Fatalf("message %q, want %q", got, tc.message)
				}
				if r.header.Get("Content-Type") != jsonType {
					t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
				}
			}
		})
	}

	t.Run("envelope and next carrying the query", func(t *testing.T) {
		t.Parallel()
		doc := getJSON(t, run, "/repositories/acme?pagelen=25&sort=name&q=is_private%3Dtrue")
		if doc["pagelen"] != 25.0 || doc["page"] != 1.0 || doc["size"] != float64(len(run.Repos())) {
			t.Fatalf("envelope: pagelen %v page %v size %v", doc["pagelen"], doc["page"], doc["size"])
		}
		next, err := url.Parse(doc["next"].(string))
		if err != nil {
			t.Fatal(err)
		}
		q := next.Query()
		if q.Get("page") != "2" || q.Get("pagelen") != "25" || q.Get("sort") != "name" || q.Get("q") != "is_private=true" {
			t.Fatalf("next does not carry the query: %s", next)
		}
		if !strings.HasPrefix(next.String(), run.URL+"/repositories/acme?") {
			t.Fatalf("next %s does not lead back to the mock", next)
		}
		if _, has := doc["previous"]; has {
			t.Fatal("first page has previous")
		}
		last := getJSON(t, run, "/repositories/acme?pagelen=25&sort=name&q=is_private%3Dtrue&page=3")
		if _, has := last["next"]; has {
			t.Fatal("last page has next")
		}
		if _, has := last["previous"]; !has {
			t.Fatal("page 3 lacks previous")
		}
	})

	t.Run("walking next visits every repository once", func(t *testing.T) {
		t.Parallel()
		var slugs []string
		for _, v := range walk(t, run, "/repositories/acme?pagelen=7") {
			slugs = append(slugs, v["slug"].(string))
		}
		var want []string
		for _, r := range run.Repos() {
			want = append(want, r.Slug)
		}
		if !slices.Equal(slugs, want) {
			t.Fatalf("walked %d repositories, want %d in order", len(slugs), len(want))
		}
	})

	t.Run("pagelen=0 means the default", func(t *testing.T) {
		t.Parallel()
		if n := len(values(getJSON(t, run, "/repositories/acme?pagelen=0"))); n != 10 {
			t.Fatalf("%d values", n)
		}
	})
}

func TestCommitIteratorPagination(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 5, Repos: 3, PRsPerRepo: 4, CommitsPerRepo: 75, Clock: clock.Now})
	repo := firstFull(t, run)
	path := "/repositories/acme/" + repo.Slug + "/commits/" + repo.MainBranch

	first := getJSON(t, run, path)
	if first["pagelen"] != 30.0 || len(values(first)) != 30 {
		t.Fatalf("default pagelen: %v with %d values", first["pagelen"], len(values(first)))
	}
	for _, absent := range []string{"size", "page", "previous"} {
		if _, has := first[absent]; has {
			t.Fatalf("commit page has %q", absent)
		}
	}
	next, _ := url.Parse(first["next"].(string))
	if tok := next.Query().Get("page"); tok == "" || regexp.MustCompile(`^\d+$`).MatchString(tok) {
		t.Fatalf("next token %q is not opaque", tok)
	}

	// Commits pushed between pages must neither repeat nor hide older ones.
	var hashes []string
	for i, n := 0, path+"?pagelen=20"; n != ""; i++ {
		doc := getJSON(t, run, n)
		for _, c := range values(doc) {
			hashes = append(hashes, c["hash"].(string))
		}
		if i == 0 {
			clock.Advance(time.Hour)
			if _, err := run.PushCommits(repo.Slug, 3); err != nil {
				t.Fatal(err)
			}
		}
		n, _ = doc["next"].(string)
	}
	if len(hashes) != 75 || len(slices.Compact(slices.Sorted(slices.Values(hashes)))) != 75 {
		t.Fatalf("walked %d commits (%d distinct), want the 75 that existed", len(hashes), len(slices.Compact(slices.Sorted(slices.Values(hashes)))))
	}
	all := values(getJSON(t, run, path+"?pagelen=100"))
	if len(all) != 78 {
		t.Fatalf("after the push the branch has %d commits, want 78", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1]["date"].(string) < all[i]["date"].(string) {
			t.Fatalf("not newest first at %d", i)
		}
		if parents := all[i-1]["parents"].([]any); parents[0].(map[string]any)["hash"] != all[i]["hash"] {
			t.Fatalf("commit %d's parent is not the next commit", i-1)
		}
	}
	// A forged token is refused.
	forged := base64.RawURLEncoding.EncodeToString([]byte{0, 0, 0, 5, 1, 2, 3, 4})
	if r := get(t, run, path+"?page="+forged); r.status != 400 {
		t.Fatalf("forged token: status %d", r.status)
	}
}

func TestPayloadShapes(t *testing.T) {
	t.Parallel()
	run := readOnly(t)
	repo := firstFull(t, run)
	base := "/repositories/acme/" + repo.Slug
	uuidRe := regexp.MustCompile(`^\{[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$`)
	stampRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)
	commitDateRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)

	t.Run("repository", func(t *testing.T) {
		t.Parallel()
		r := getJSON(t, run, base)
		if r["type"] != "repository" || !uuidRe.MatchString(r["uuid"].(string)) {
			t.Fatalf("type %v uuid %v", r["type"], r["uuid"])
		}
		for _, f := range []string{"created_on", "updated_on"} {
			if !stampRe.MatchString(r[f].(string)) {
				t.Fatalf("%s = %v", f, r[f])
			}
		}
		clone := r["links"].(map[string]any)["clone"].([]any)
		https := clone[0].(map[string]any)
		if https["name"] != "https" || https["href"] != "https://x-token-auth@bitbucket.org/acme/"+repo.Slug+".git" {
			t.Fatalf("https clone link %v", https)
		}
		basic := request(t, run, base, "Basic "+base64.StdEncoding.EncodeToString([]byte("jane.doe@example.com:"+testToken)))
		if !strings.Contains(string(basic.body), `"https://jane.doe@bitbucket.org/acme/`+repo.Slug+`.git"`) {
			t.Fatal("https clone link does not embed the Basic user")
		}
	})

	t.Run("empty repository has a null mainbranch", func(t *testing.T) {
		t.Parallel()
		var empty *RepoInfo
		for _, r := range run.Repos() {
			if r.MainBranch == "" {
				empty = &r
				break
			}
		}
		if empty == nil {
			t.Fatal("the generator made no empty repository")
		}
		r := getJSON(t, run, "/repositories/acme/"+empty.Slug)
		if mb, has := r["mainbranch"]; !has || mb != nil {
			t.Fatalf("mainbranch = %v (present %v)", mb, has)
		}
		if n := len(values(getJSON(t, run, "/repositories/acme/"+empty.Slug+"/commits"))); n != 0 {
			t.Fatalf("%d commits", n)
		}
	})

	t.Run("unicode names", func(t *testing.T) {
		t.Parallel()
		nonASCII := 0
		for _, v := range walk(t, run, "/repositories/acme?pagelen=100&fields=values.name,values.description,next") {
			name := v["name"].(string)
			if !utf8.ValidString(name) {
				t.Fatalf("invalid UTF-8 %q", name)
			}
			if strings.IndexFunc(name, func(r rune) bool { return r > 127 }) >= 0 {
				nonASCII++
			}
		}
		if nonASCII == 0 {
			t.Fatal("no non-ASCII repository name")
		}
	})

	t.Run("pull requests", func(t *testing.T) {
		t.Parallel()
		list := values(getJSON(t, run, base+"/pullrequests?state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED&pagelen=50"))
		if len(list) != 23 {
			t.Fatalf("%d pull requests, want 23", len(list))
		}
		merged := 0
		for _, pr := range list {
			if _, has := pr["reviewers"]; has {
				t.Fatal("list items include reviewers")
			}
			if _, has := pr["participants"]; has {
				t.Fatal("list items include participants")
			}
			for _, side := range []string{"source", "destination"} {
				if h := pr[side].(map[string]any)["commit"].(map[string]any)["hash"].(string); len(h) != 12 {
					t.Fatalf("%s hash %q is not 12 characters", side, h)
				}
			}
			if mc, ok := pr["merge_commit"].(map[string]any); ok {
				merged++
				if len(mc["hash"].(string)) != 12 {
					t.Fatalf("merge hash %v", mc["hash"])
				}
			}
			if !stampRe.MatchString(pr["updated_on"].(string)) {
				t.Fatalf("updated_on %v", pr["updated_on"])
			}
		}
		if merged == 0 {
			t.Fatal("no merged pull request to check")
		}
		one := getJSON(t, run, base+"/pullrequests/1")
		if _, has := one["reviewers"]; !has {
			t.Fatal("a single pull request lacks reviewers")
		}
	})

	t.Run("commits", func(t *testing.T) {
		t.Parallel()
		withoutUser := 0
		for _, c := range values(getJSON(t, run, base+"/commits?pagelen=100")) {
			if len(c["hash"].(string)) != 40 || c["type"] != "commit" {
				t.Fatalf("hash %v type %v", c["hash"], c["type"])
			}
			if !commitDateRe.MatchString(c["date"].(string)) {
				t.Fatalf("commit date %v", c["date"])
			}
			author := c["author"].(map[string]any)
			if author["type"] != "author" || author["raw"] == "" {
				t.Fatalf("author %v", author)
			}
			if _, has := author["user"]; !has {
				withoutUser++
			}
		}
		if withoutUser == 0 {
			t.Fatal("every commit author is a user; some should be raw only")
		}
	})

	t.Run("tags: lexical by default, natural with sort=name", func(t *testing.T) {
		t.Parallel()
		run := Start(t, Config{Seed: 4, Repos: 1, CommitsPerRepo: 120})
		base := "/repositories/acme/" + run.Repos()[0].Slug + "/refs/tags?pagelen=100"
		names := func(path string) string {
			var out []string
			for _, v := range values(getJSON(t, run, path)) {
				out = append(out, strings.TrimSuffix(strings.TrimPrefix(v["name"].(string), "v1."), ".0"))
			}
			return strings.Join(out, " ")
		}
		if got := names(base); got != "1 10 11 12 2 3 4 5 6 7 8 9" {
			t.Fatalf("default order %s", got)
		}
		if got := names(base + "&sort=name"); got != "1 2 3 4 5 6 7 8 9 10 11 12" {
			t.Fatalf("sort=name %s", got)
		}
		if got := names(base + "&sort=-name"); got != "12 11 10 9 8 7 6 5 4 3 2 1" {
			t.Fatalf("sort=-name %s", got)
		}
	})

	t.Run("uuid addressing", func(t *testing.T) {
		t.Parallel()
		ws := getJSON(t, run, "/workspaces/acme")["uuid"].(string)
		for _, path := range []string{
			"/repositories/" + url.PathEscape(ws) + "/" + url.PathEscape(repo.UUID),
			"/repositories/acme/" + url.PathEscape(repo.UUID),
			"/repositories/%7B%7D/" + url.PathEscape(repo.UUID),
		} {
			if got := getJSON(t, run, path)["slug"]; got != repo.Slug {
				t.Fatalf("%s: slug %v", path, got)
			}
		}
		if r := get(t, run, "/repositories/%7B%7D/"+repo.Slug); r.status != 404 {
			t.Fatalf("empty workspace with a slug: status %d", r.status)
		}
	})

	t.Run("trailing slash", func(t *testing.T) {
		t.Parallel()
		with := getJSON(t, run, base+"/pullrequests/?state=MERGED")
		without := getJSON(t, run, base+"/pullrequests?state=MERGED")
		if with["size"] != without["size"] || len(values(with)) == 0 {
			t.Fatalf("trailing slash: size %v, without %v", with["size"], without["size"])
		}
		if getJSON(t, run, base+"/")["slug"] != repo.Slug {
			t.Fatal("repository with a trailing slash")
		}
	})

	t.Run("not found bodies", func(t *testing.T) {
		t.Parallel()
		for path, msg := range map[string]string{
			"/repositories/acme/dev-null":    "Repository acme/dev-null not found",
			"/repositories/nobody":           "No workspace with identifier 'nobody'.",
			base + "/pullrequests/9999":      "Pull request 9999 not found",
			base + "/commits/no-such-branch": "Commit not found: no-such-branch",
			"/workspaces/acme/projects/NOPE": "Project NOPE not found",
			"/2.0/whatever":                  "Resource not found",
		} {
			r := get(t, run, path)
			if r.status != 404 || errorMessage(t, r) != msg {
				t.Fatalf("GET %s: %d %s", path, r.status, r.body)
			}
		}
	})
}

func TestFiltering(t *testing.T) {
	t.Parallel()
	run := readOnly(t)
	repo := firstFull(t, run)
	repos := run.Repos()
	watermark := repos[len(repos)/2].UpdatedOn
	wm := watermark.UTC().Format("2006-01-02T15:04:05.000000") + "%2B00:00"
	countNewer := func(strict bool) int {
		n := 0
		for _, r := range repos {
			if r.UpdatedOn.After(watermark) || (!strict && r.UpdatedOn.Equal(watermark)) {
				n++
			}
		}
		return n
	}
	size := func(path string) int {
		return int(getJSON(t, run, path)["size"].(float64))
	}
	for _, tc := range []struct {
		name, q string
		want    int
	}{
		{"updated_on > unquoted", "updated_on > " + wm, countNewer(true)},
		{"updated_on >= unquoted", "updated_on >= " + wm, countNewer(false)},
		{"updated_on < unquoted", "updated_on < " + wm, len(repos) - countNewer(false)},
		{"quoted datetime", `updated_on >= "` + wm + `"`, countNewer(false)},
		{"date only", "updated_on > 1990-01-01", len(repos)},
		{"equality", `slug = "` + repo.Slug + `"`, 1},
		{"contains ignores case", `slug ~ "` + strings.ToUpper(repo.Slug) + `"`, countContaining(repos, repo.Slug)},
		{"IN", `slug IN ("` + repo.Slug + `", "nope")`, 1},
		{"NOT IN", `slug NOT IN ("` + repo.Slug + `")`, len(repos) - 1},
		{"AND with parentheses", `(slug = "` + repo.Slug + `" OR slug = "x") AND is_private = true`, 1},
		{"null", "mainbranch = null", countEmpty(repos)},
		{"nested field", `project.key = "` + repo.ProjectKey + `"`, countProject(repos, repo.ProjectKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := size("/repositories/acme?q=" + strings.ReplaceAll(url.QueryEscape(tc.q), "%252B", "%2B")); got != tc.want {
				t.Fatalf("q=%s: size %d, want %d", tc.q, got, tc.want)
			}
		})
	}

	t.Run("bad queries are 400", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{`name =`, `name = unquoted`, `(slug = "a"`, `nosuchfield = 1`, `slug IN "a"`, `= "a"`, `"name" = "a"`} {
			r := get(t, run, "/repositories/acme?q="+url.QueryEscape(q))
			if r.status != 400 || !strings.HasPrefix(errorMessage(t, r), "Invalid query") {
				t.Fatalf("q=%s: %d %s", q, r.status, r.body)
			}
		}
		if r := get(t, run, "/repositories/acme?sort=-nosuch"); r.status != 400 {
			t.Fatalf("bad sort: %d", r.status)
		}
	})

	t.Run("sort", func(t *testing.T) {
		t.Parallel()
		var got []string
		for _, v := range walk(t, run, "/repositories/acme?sort=-updated_on&pagelen=100&fields=values.updated_on,next") {
			got = append(got, v["updated_on"].(string))
		}
		if len(got) != len(repos) || !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Fatal("not sorted by updated_on descending")
		}
	})

	t.Run("pull request state", func(t *testing.T) {
		t.Parallel()
		infos, err := run.PullRequests(repo.Slug)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, p := range infos {
			count[p.State]++
		}
		base := "/repositories/acme/" + repo.Slug + "/pullrequests?pagelen=50"
		for query, want := range map[string]int{
			"":                             count["OPEN"],
			"&state=MERGED":                count["MERGED"],
			"&state=merged&state=DECLINED": count["MERGED"] + count["DECLINED"],
			"&state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED": len(infos),
		} {
			if got := len(values(getJSON(t, run, base+query))); got != want {
				t.Fatalf("%q: %d pull requests, want %d", query, got, want)
			}
		}
		if r := get(t, run, base+"&state=DRAFT"); r.status != 400 {
			t.Fatalf("state=DRAFT: %d", r.status)
		}
		// A typical incremental sync: every state, newest first, since a watermark.
		since := infos[len(infos)/2].UpdatedOn
		want := 0
		for _, p := range infos {
			if !p.UpdatedOn.Before(since) {
				want++
			}
		}
		q := url.QueryEscape(`updated_on >= "` + since.Format(time.RFC3339Nano) + `"`)
		got := values(getJSON(t, run, base+"&state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED&sort=-updated_on&q="+q))
		if len(got) != want {
			t.Fatalf("%d pull requests since %v, want %d", len(got), since, want)
		}
		if !slices.IsSortedFunc(got, func(a, b map[string]any) int {
			return strings.Compare(b["updated_on"].(string), a["updated_on"].(string))
		}) {
			t.Fatal("pull requests not sorted by -updated_on")
		}
	})
}

func countContaining(repos []RepoInfo, part string) int {
	n := 0
	for _, r := range repos {
		if strings.Contains(r.Slug, part) {
			n++
		}
	}
	return n
}

func countEmpty(repos []RepoInfo) int {
	n := 0
	for _, r := range repos {
		if r.MainBranch == "" {
			n++
		}
	}
	return n
}

func countProject(repos []RepoInfo, key string) int {
	n := 0
	for _, r := range repos {
		if r.ProjectKey == key {
			n++
		}
	}
	return n
}

func TestPartialResponses(t *testing.T) {
	t.Parallel()
	run := readOnly(t)
	repo := firstFull(t, run)
	prs := "/repositories/acme/" + repo.Slug + "/pullrequests?state=MERGED&pagelen=3"

	noLinks := getJSON(t, run, "/repositories/acme/"+repo.Slug+"?fields=-links")
	if _, has := noLinks["links"]; has || noLinks["slug"] != repo.Slug {
		t.Fatal("-links kept links or lost the rest")
	}
	emptied := getJSON(t, run, "/repositories/acme/"+repo.Slug+"?fields=-links.*")
	if l, ok := emptied["links"].(map[string]any); !ok || len(l) != 0 {
		t.Fatalf("-links.* left %v", emptied["links"])
	}
	added := values(getJSON(t, run, prs+"&fields=%2Bvalues.reviewers,%2Bvalues.participants"))
	if _, has := added[0]["reviewers"]; !has {
		t.Fatal("+values.reviewers did not add reviewers")
	}
	if _, has := added[0]["title"]; !has {
		t.Fatal("+ dropped the default fields")
	}
	explicit := getJSON(t, run, prs+"&fields=values.id,values.state,values.reviewers.nickname")
	if len(explicit) != 1 {
		t.Fatalf("explicit fields kept envelope fields: %v", keys(explicit))
	}
	for _, v := range values(explicit) {
		if len(v) > 3 || v["state"] != "MERGED" {
			t.Fatalf("item %v", v)
		}
		for _, r := range v["reviewers"].([]any) {
			if len(r.(map[string]any)) != 1 {
				t.Fatalf("reviewer %v", r)
			}
		}
	}
	withNext := getJSON(t, run, prs+"&fields=values.id,next")
	if _, has := withNext["next"]; !has && countState(t, run, repo.Slug, "MERGED") > 3 {
		t.Fatal("fields=...,next lost next")
	}
	rootOnly := getJSON(t, run, "/repositories/acme/"+repo.Slug+"?fields=-*,%2Bslug,%2Bproject.key")
	if len(rootOnly) != 2 || rootOnly["project"].(map[string]any)["key"] != repo.ProjectKey {
		t.Fatalf("-*,+slug,+project.key gave %v", rootOnly)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func countState(t *testing.T, run *Running, slug, state string) int {
	infos, err := run.PullRequests(slug)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range infos {
		if p.State == state {
			n++
		}
	}
	return n
}

func TestAuth(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 2, Repos: 4, PRsPerRepo: 2, CommitsPerRepo: 3, Tokens: []Token{
		{Name: "full", Value: "tok-full"},
		{Name: "repo-only", Value: "tok-repo", Scopes: []string{"repository"}},
		{Name: "project-only", Value: "tok-project", Scopes: []string{"project"}},
		{Name: "api-token", Value: "tok-api", Scopes: []string{"read:repository:bitbucket"}},
	}})
	if _, err := run.AddRepo(RepoSpec{Name: "open-source", Public: true, Commits: 2}); err != nil {
		t.Fatal(err)
	}
	private := firstFull(t, run).Slug
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	repoPath := "/repositories/acme/" + private
	for _, tc := range []struct {
		name, path, auth string
		status           int
		message          string
		required         string
	}{
		{"bearer", repoPath, "Bearer tok-full", 200, "", ""},
		{"basic x-token-auth", repoPath, basic("x-token-auth", "tok-full"), 200, "", ""},
		{"basic email", repoPath, basic("someone@example.com", "tok-full"), 200, "", ""},
		{"access_token parameter", repoPath + "?access_token=tok-full", "", 200, "", ""},
		{"basic other user", repoPath, basic("someone", "tok-full"), 401, msgBadToken, ""},
		{"wrong token", repoPath, "Bearer nope", 401, msgBadToken, ""},
		{"wrong basic password", repoPath, basic("x-token-auth", "nope"), 401, msgBadToken, ""},
		{"garbled basic", repoPath, "Basic %%%", 401, msgBadToken, ""},
		{"unknown scheme", repoPath, "Token tok-full", 401, msgBadToken, ""},
		{"project implies repository", repoPath, "Bearer tok-project", 200, "", ""},
		{"repository lacks pullrequest", repoPath + "/pullrequests", "Bearer tok-repo", 403, msgMissingScope, "pullrequest"},
		{"repository lacks project", "/workspaces/acme/projects", "Bearer tok-repo", 403, msgMissingScope, "project"},
		{"api token scope", repoPath, "Bearer tok-api", 200, "", ""},
		{"api token missing scope", repoPath + "/pullrequests", "Bearer tok-api", 403, msgMissingScope, "read:pullrequest:bitbucket"},
		{"user needs account", "/user", "Bearer tok-full", 403, msgMissingScope, "account"},
		{"anonymous private repository", repoPath, "", 403, msgAccessDenied, ""},
		{"anonymous private pull requests", repoPath + "/pullrequests", "", 401, msgAccessDenied, ""},
		{"anonymous public repository", "/repositories/acme/open-source", "", 200, "", ""},
		{"anonymous public commits", "/repositories/acme/open-source/commits", "", 200, "", ""},
		{"anonymous user", "/user", "", 401, msgAccessDenied, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t, run, tc.path, tc.auth)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.message != "" && errorMessage(t, r) != tc.message {
				t.Fatalf("message %q", errorMessage(t, r))
			}
			if tc.required != "" {
				detail := decodeBody(t, r.body)["error"].(map[string]any)["detail"].(map[string]any)
				if req := detail["required"].([]any); len(req) != 1 || req[0] != tc.required {
					t.Fatalf("detail.required %v, want [%s]", req, tc.required)
				}
				if g := detail["granted"].([]any); len(g) == 0 {
					t.Fatal("detail.granted is empty")
				}
			}
		})
	}
	t.Run("anonymous listing shows public repositories only", func(t *testing.T) {
		t.Parallel()
		var slugs []string
		for _, v := range values(decodeBody(t, request(t, run, "/repositories/acme", "").body)) {
			slugs = append(slugs, v["slug"].(string))
		}
		if !slices.Equal(slugs, []string{"open-source"}) {
			t.Fatalf("anonymous sees %v", slugs)
		}
	})
}

func TestRoleParameter(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 2, Repos: 4})
	for role, status := range map[string]int{"member": 200, "admin": 200, "contributor": 200, "owner": 200, "boss": 400} {
		if r := get(t, run, "/repositories/acme?role="+role); r.status != status {
			t.Fatalf("role=%s: %d", role, r.status)
		}
	}
	if r := get(t, run, "/repositories/acme?role=member"); len(values(decodeBody(t, r.body))) != 4 {
		t.Fatal("role=member hides repositories from a token with access to all")
	}
}
