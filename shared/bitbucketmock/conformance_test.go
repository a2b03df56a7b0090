package bitbucketmock

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConformance validates every kind of response the mock gives against
// the response schema of the official spec (testdata/, extracted by
// extract_definitions.py), over a workspace that also holds the results of
// every control operation.
func TestConformance(t *testing.T) {
	t.Parallel()
	schemas := loadSchemas(t)
	clock := newFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 7, Repos: 40, PRsPerRepo: 6, CommitsPerRepo: 25, Clock: clock.Now,
		Tokens: []Token{{Value: testToken}, {Name: "admin", Value: "admin-token", Scopes: []string{"account", "project", "pullrequest"}},
			hookToken, {Name: "member", Value: "member-token", Scopes: hookToken.Scopes, NotOwner: true}}})
	mutateEverything(t, run, clock)

	check := func(def, path string) map[string]any {
		t.Helper()
		doc := getJSON(t, run, path)
		for _, e := range schemas.validate(def, doc) {
			t.Errorf("GET %s (%s): %s", path, def, e)
		}
		return doc
	}
	ws := "/repositories/acme"
	for next := ws + "?pagelen=100"; next != ""; {
		doc := check("paginated_repositories", next)
		next, _ = doc["next"].(string)
	}
	check("paginated_repositories", ws+"?pagelen=7&page=2")
	check("paginated_projects", "/workspaces/acme/projects")
	check("project", "/workspaces/acme/projects/PLAT")
	check("workspace", "/workspaces/acme")

	user := request(t, run, "/user", "Bearer admin-token")
	for _, e := range schemas.validate("user", decodeBody(t, user.body)) {
		t.Errorf("GET /user: %s", e)
	}

	for _, info := range run.Repos() {
		base := ws + "/" + url.PathEscape(info.Slug)
		check("repository", base)
		check("repository", "/repositories/acme/"+url.PathEscape(info.UUID))
		prs := check("paginated_pullrequests", base+"/pullrequests?pagelen=50&state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED")
		for _, pr := range values(prs) {
			id := jsonInt(pr["id"])
			check("pullrequest", base+"/pullrequests/"+id)
			check("paginated_changeset", base+"/pullrequests/"+id+"/commits")
		}
		commits := check("paginated_changeset", base+"/commits")
		check("paginated_branches", base+"/refs/branches")
		check("paginated_tags", base+"/refs/tags?pagelen=100")
		if info.MainBranch != "" {
			check("paginated_changeset", base+"/commits/"+info.MainBranch+"?pagelen=100")
			hash := values(commits)[0]["hash"].(string)
			check("commit", base+"/commit/"+hash)
		}
	}

	hook := createHook(t, run, `{"url": "https://r.example/x", "description": "catalog", "secret": "s", "events": ["repo:push", "pullrequest:fulfilled"]}`)
	for _, e := range schemas.validate("webhook_subscription", hook) {
		t.Errorf("POST hooks: %s", e)
	}
	createHook(t, run, `{"url": "https://r.example/y", "events": ["repo:created"], "active": false}`)
	for _, path := range []string{"/workspaces/acme/hooks", "/workspaces/acme/hooks/" + url.PathEscape(hook["uuid"].(string))} {
		def := map[bool]string{true: "paginated_webhook_subscriptions", false: "webhook_subscription"}[strings.HasSuffix(path, "hooks")]
		doc := decodeBody(t, request(t, run, path, "Bearer "+hookToken.Value).body)
		for _, e := range schemas.validate(def, doc) {
			t.Errorf("GET %s (%s): %s", path, def, e)
		}
	}
	for _, tc := range []struct{ method, token, body string }{
		{"POST", hookToken.Value, `{"url": "nope", "events": ["nope"]}`},
		{"POST", hookToken.Value, `[]`},
		{"POST", testToken, `{"url": "https://r.example/z", "events": ["repo:push"]}`},
		{"GET", "member-token", ""},
	} {
		r := send(t, run, tc.method, "/workspaces/acme/hooks", "Bearer "+tc.token, tc.body)
		if r.status/100 != 4 {
			t.Errorf("%s hooks as %s: status %d", tc.method, tc.token, r.status)
		}
		for _, e := range schemas.validate("error", decodeBody(t, r.body)) {
			t.Errorf("%s hooks as %s (error): %s", tc.method, tc.token, e)
		}
	}

	for _, tc := range []struct {
		path, auth string
		status     int
	}{
		{ws + "?pagelen=101", "Bearer " + testToken, http.StatusBadRequest},
		{ws, "Bearer wrong", http.StatusUnauthorized},
		{"/user", "Bearer " + testToken, http.StatusForbidden},
		{ws + "/nope", "Bearer " + testToken, http.StatusNotFound},
		{ws + "/" + run.Repos()[0].Slug, "", http.StatusForbidden},
	} {
		r := request(t, run, tc.path, tc.auth)
		if r.status != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, r.status, tc.status)
		}
		for _, e := range schemas.validate("error", decodeBody(t, r.body)) {
			t.Errorf("GET %s (error): %s", tc.path, e)
		}
	}
}

// mutateEverything runs each control operation once, so conformance also
// covers objects that were added or changed.
func mutateEverything(t *testing.T, run *Running, clock *fakeClock) {
	t.Helper()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := run.AddProject("NEW", "New project ✨"); err != nil {
		t.Fatal(err)
	}
	must(run.AddRepo(RepoSpec{Name: "Ünïcode repo", ProjectKey: "NEW", Description: "añadido 🚀", Commits: 3}))
	must(run.AddRepo(RepoSpec{Name: "public-empty", Public: true}))
	slug := run.Repos()[1].Slug
	clock.Advance(time.Minute)
	must(run.PushCommits(slug, 2))
	pr, err := run.OpenPR(slug, PRSpec{Title: "Ajoute la recherche", SourceBranch: "feature/recherche"})
	if err != nil {
		t.Fatal(err)
	}
	must(run.MergePR(slug, pr.ID))
	pr2, err := run.OpenPR(slug, PRSpec{Title: "Draft", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	must(run.DeclinePR(slug, pr2.ID))
	must(run.OpenPR(slug, PRSpec{Title: "still open"}))
	must(run.RenameRepo(run.Repos()[2].Slug, "Renamed – repo"))
	must(run.MoveRepo(run.Repos()[3].Slug, "NEW"))
	if err := run.DeleteRepo(run.Repos()[4].Slug); err != nil {
		t.Fatal(err)
	}
}

func jsonInt(v any) string { return strconv.Itoa(int(v.(float64))) }
