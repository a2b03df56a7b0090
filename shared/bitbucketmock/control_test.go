package bitbucketmock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// control sends a control API request and decodes the JSON answer into out.
func control(t *testing.T, run *Running, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, run.ControlURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestControlAPI(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 2, 3, 4, 5, 6, 789_000, time.UTC))
	run := Start(t, Config{Seed: 9, Repos: 12, PRsPerRepo: 5, CommitsPerRepo: 10, Clock: clock.Now})
	target := firstFull(t, run)
	enc := url.PathEscape

	t.Run("push moves updated_on", func(t *testing.T) {
		var info RepoInfo
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/commits", `{"count": 4}`, &info); s != 200 {
			t.Fatalf("status %d", s)
		}
		if info.Commits != target.Commits+4 || !info.UpdatedOn.Equal(clock.Now()) {
			t.Fatalf("after push: %+v", info)
		}
		r := getJSON(t, run, "/repositories/acme/"+target.Slug)
		if r["updated_on"] != "2026-02-03T04:05:06.000789+00:00" {
			t.Fatalf("updated_on %v", r["updated_on"])
		}
		head := values(getJSON(t, run, "/repositories/acme/"+target.Slug+"/commits/"+target.MainBranch))[0]
		if head["date"] != "2026-02-03T04:05:06+00:00" {
			t.Fatalf("pushed commit date %v", head["date"])
		}
		newer := getJSON(t, run, "/repositories/acme?q="+url.QueryEscape("updated_on > 2026-01-01T00:00:00"))
		if newer["size"] != 1.0 || values(newer)[0]["slug"] != target.Slug {
			t.Fatalf("incremental listing after push: %v", newer["size"])
		}
	})

	t.Run("pull request lifecycle", func(t *testing.T) {
		clock.Advance(time.Hour)
		var opened PRInfo
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/pullrequests", `{"title": "Ajoute l'export ✓", "source_branch": "feature/export"}`, &opened); s != 200 {
			t.Fatalf("open: %d", s)
		}
		if opened.ID != 6 || opened.State != "OPEN" {
			t.Fatalf("opened %+v", opened)
		}
		base := "/repositories/acme/" + target.Slug
		pr := getJSON(t, run, base+"/pullrequests/6")
		if pr["title"] != "Ajoute l'export ✓" || pr["source"].(map[string]any)["branch"].(map[string]any)["name"] != "feature/export" {
			t.Fatalf("opened pull request %v", pr["title"])
		}
		branch := getJSON(t, run, base+"/commits/"+enc("feature/export"))
		if values(branch)[0]["message"] != "Ajoute l'export ✓" {
			t.Fatal("the source branch's head is not the pull request's commit")
		}
		clock.Advance(time.Hour)
		var merged PRInfo
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/pullrequests/6/merge", "", &merged); s != 200 || merged.State != "MERGED" {
			t.Fatalf("merge: %d %+v", s, merged)
		}
		pr = getJSON(t, run, base+"/pullrequests/6")
		head := values(getJSON(t, run, base+"/commits/"+target.MainBranch+"?pagelen=1"))[0]["hash"].(string)
		if pr["state"] != "MERGED" || pr["merge_commit"].(map[string]any)["hash"] != head[:12] {
			t.Fatalf("merged pull request: state %v merge_commit %v, head %s", pr["state"], pr["merge_commit"], head)
		}
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/pullrequests/6/decline", "", nil); s != 409 {
			t.Fatalf("declining a merged pull request: %d", s)
		}
		var second PRInfo
		control(t, run, "POST", "/repos/"+target.Slug+"/pullrequests", `{"title": "second"}`, &second)
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/pullrequests/7/decline", "", nil); s != 200 {
			t.Fatalf("decline: %d", s)
		}
		if got := getJSON(t, run, base+"/pullrequests/7")["state"]; got != "DECLINED" {
			t.Fatalf("state %v", got)
		}
	})

	t.Run("rename keeps the uuid", func(t *testing.T) {
		var info RepoInfo
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/rename", `{"name": "Café Renamed"}`, &info); s != 200 {
			t.Fatalf("rename: %d", s)
		}
		if info.Slug != "cafe-renamed" || info.UUID != target.UUID {
			t.Fatalf("renamed %+v", info)
		}
		if r := get(t, run, "/repositories/acme/"+target.Slug); r.status != 404 {
			t.Fatalf("old slug: %d", r.status)
		}
		if got := getJSON(t, run, "/repositories/acme/"+enc(target.UUID))["name"]; got != "Café Renamed" {
			t.Fatalf("name %v", got)
		}
		target.Slug = info.Slug
	})

	t.Run("move", func(t *testing.T) {
		if s := control(t, run, "POST", "/projects", `{"key": "MOVED", "name": "Moved here"}`, nil); s != 200 {
			t.Fatalf("add project: %d", s)
		}
		if s := control(t, run, "POST", "/repos/"+target.Slug+"/move", `{"project_key": "MOVED"}`, nil); s != 200 {
			t.Fatalf("move: %d", s)
		}
		in := getJSON(t, run, "/repositories/acme?q="+url.QueryEscape(`project.key = "MOVED"`))
		if in["size"] != 1.0 {
			t.Fatalf("%v repositories in MOVED", in["size"])
		}
	})

	t.Run("add and delete", func(t *testing.T) {
		var info RepoInfo
		if s := control(t, run, "POST", "/repos", `{"name": "brand-new", "project_key": "MOVED", "commits": 2}`, &info); s != 200 {
			t.Fatalf("add: %d", s)
		}
		if info.Commits != 2 || info.MainBranch != "main" || info.FullName != "acme/brand-new" {
			t.Fatalf("added %+v", info)
		}
		before := getJSON(t, run, "/repositories/acme")["size"].(float64)
		if s := control(t, run, "DELETE", "/repos/brand-new", "", nil); s != 200 {
			t.Fatalf("delete: %d", s)
		}
		r := get(t, run, "/repositories/acme/brand-new")
		if r.status != 404 || errorMessage(t, r) != "Repository acme/brand-new not found" {
			t.Fatalf("deleted repository: %d %s", r.status, r.body)
		}
		if after := getJSON(t, run, "/repositories/acme")["size"].(float64); after != before-1 {
			t.Fatalf("size %v after deleting from %v", after, before)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			status             int
		}{
			{"POST", "/repos", `{"name": "brand-new", "bogus": 1}`, 400},
			{"POST", "/repos", `{"name": "` + run.Repos()[1].Slug + `"}`, 409},
			{"POST", "/repos", `{"name": "x", "project_key": "NOPE"}`, 404},
			{"POST", "/repos", `{}`, 400},
			{"POST", "/repos/nope/commits", `{"count": 1}`, 404},
			{"POST", "/repos/" + target.Slug + "/commits", `{"count": 0}`, 400},
			{"POST", "/repos/" + target.Slug + "/pullrequests/abc/merge", ``, 400},
			{"POST", "/repos/" + target.Slug + "/pullrequests/999/merge", ``, 404},
			{"POST", "/projects", `{"key": "lower"}`, 400},
			{"PUT", "/faults", `{"rate": 2}`, 400},
			{"PUT", "/faults", `{"rate": 0.1, "delay": "soon"}`, 400},
			{"PUT", "/rate-limit", `{"limit": "fast"}`, 400},
			{"POST", "/faults/next", `{"kinds": ["418"]}`, 400},
		} {
			var body map[string]string
			if s := control(t, run, tc.method, tc.path, tc.body, &body); s != tc.status || body["error"] == "" {
				t.Fatalf("%s %s %s: %d %v, want %d", tc.method, tc.path, tc.body, s, body, tc.status)
			}
		}
	})

	t.Run("counters, faults and rate limit", func(t *testing.T) {
		if s := control(t, run, "POST", "/counters/reset", "", nil); s != 200 {
			t.Fatalf("reset: %d", s)
		}
		get(t, run, "/repositories/acme")
		get(t, run, "/repositories/acme/"+target.Slug+"/pullrequests?pagelen=100")
		request(t, run, "/repositories/acme", "")
		var c Counters
		control(t, run, "GET", "/counters", "", &c)
		if c.Requests != 3 || c.ByEndpoint["repositories"] != 2 || c.ByEndpointStatus["pullrequests"][400] != 1 ||
			c.ByCredential["default"] != 2 || c.ByCredential["anonymous"] != 1 || c.ByStatus[200] != 2 {
			t.Fatalf("counters %+v", c)
		}
		var rate map[string]string
		control(t, run, "PUT", "/rate-limit", `{"limit": "50/10s"}`, &rate)
		if rate["limit"] != "50/10s" || run.RateLimit() != (Rate{50, 10 * time.Second}) {
			t.Fatalf("rate %v", rate)
		}
		var f faultsWire
		control(t, run, "PUT", "/faults", `{"rate": 0.25, "kinds": ["503", "reset"], "delay": "1s"}`, &f)
		if got := run.Faults(); got.Rate != 0.25 || got.Delay != time.Second || len(got.Kinds) != 2 {
			t.Fatalf("faults %+v", got)
		}
		control(t, run, "PUT", "/faults", `{"rate": 0}`, nil)
		control(t, run, "POST", "/faults/next", `{"kinds": ["503"]}`, nil)
		if r := get(t, run, "/repositories/acme"); r.status != 503 {
			t.Fatalf("after faults/next: %d", r.status)
		}
		var index bytes.Buffer
		resp, err := http.Get(run.ControlURL + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = index.ReadFrom(resp.Body)
		resp.Body.Close()
		if !strings.Contains(index.String(), "POST   /_mock/repos/{repo}/rename") {
			t.Fatalf("control index %s", index.String())
		}
	})
}
