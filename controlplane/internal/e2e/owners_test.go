package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// mockGet reads a JSON document of the mock Bitbucket's control API.
func mockGet(t *testing.T, base, path string, v any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatalf("mock control GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mock control GET %s: %s: %s", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("mock control GET %s: %v", path, err)
	}
}

var catchAll = regexp.MustCompile(`(?m)^\* (@\S+)`)

// TestOwnerSuggestedFromCodeOwners follows an owner suggestion from the
// repository's CODEOWNERS file to the registered entity: syncs read the
// files of repositories recommended for Register (counted in the run's
// requests, as the mock counts them), the Discovered list proposes the
// mapped owner, a change to the file is read again after the push, and
// Register uses the suggestion unless --owner chooses another.
func TestOwnerSuggestedFromCodeOwners(t *testing.T) {
	s := startStack(t)
	c := s.cli
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	c.ok("integration", "create", "--name", integration, "--connector", "bb",
		"--owner-mapping", "@acme/payments=group:payments-team", "--owner-mapping", "@acme/*=group:*", "--owner-mapping", "@*=user:*")
	get := c.ok("integration", "get", integration)
	if !strings.Contains(get, "@acme/payments=group:payments-team") {
		t.Fatalf("integration get does not show the owner mapping:\n%s", get)
	}

	// The first sync discovers; the repositories it recommends for
	// Register have their CODEOWNERS read by the next one.
	syncWait(t, c)
	for _, d := range listAll(t, c, "discovered", "list", integration) {
		if d["owner"] != nil {
			t.Fatalf("%s has an owner suggestion before any CODEOWNERS was read: %v", d["slug"], d["owner"])
		}
	}
	run := syncWait(t, c)
	if run["code_owners_requests"] == nil || run["code_owners_requests"] == "0" {
		t.Fatalf("the second sync read no CODEOWNERS file: %v", run)
	}

	discovered := listAll(t, c, "discovered", "list", integration)
	var withFile, withoutFile map[string]any
	for _, d := range discovered {
		if d["recommended_action"] != "IMPORT_ACTION_REGISTER" {
			continue
		}
		var file struct{ Path, Content string }
		mockGet(t, s.controlURL, "/repos/"+d["slug"].(string)+"/codeowners", &file)
		o, _ := d["owner"].(map[string]any)
		if o == nil {
			var info struct{ Mainbranch string }
			mockGet(t, s.controlURL, "/repos/"+d["slug"].(string), &info)
			if info.Mainbranch != "" {
				t.Fatalf("%s: no owner suggestion after a sync", d["slug"])
			}
			continue
		}
		if o["path"] != file.Path {
			t.Fatalf("%s: suggestion read %v, the file is at %q", d["slug"], o["path"], file.Path)
		}
		if file.Path == "" {
			if o["owner"] != "" || !strings.Contains(asString(o["note"]), "no CODEOWNERS file") {
				t.Fatalf("%s has no CODEOWNERS file, yet: %v", d["slug"], o)
			}
			withoutFile = d
			continue
		}
		team := catchAll.FindStringSubmatch(file.Content)[1] // @acme/<project>
		want := "group:" + strings.TrimPrefix(team, "@acme/")
		if team == "@acme/payments" {
			want = "group:payments-team"
		}
		if o["owner"] != want || o["from"] != team {
			t.Fatalf("%s: suggested %v from %v, want %s from %s (file %s)", d["slug"], o["owner"], o["from"], want, team, file.Path)
		}
		withFile = d
	}
	if withFile == nil || withoutFile == nil {
		t.Fatalf("the workspace should have Register repositories with and without CODEOWNERS (with %v, without %v)", withFile, withoutFile)
	}

	// The table shows the suggestion in its OWNER column.
	header, rows := table(t, c.ok("discovered", "list", integration, "--search", withFile["slug"].(string)))
	col := -1
	for i, h := range header {
		if h == "OWNER" {
			col = i
		}
	}
	if col < 0 || len(rows) == 0 || rows[0][col] != path(withFile, "owner", "owner") {
		t.Fatalf("discovered list table: header %v rows %v; want OWNER %v", header, rows, path(withFile, "owner", "owner"))
	}

	// discovered get shows where the suggestion comes from.
	get = c.ok("discovered", "get", integration, withFile["slug"].(string))
	if !strings.Contains(get, asString(path(withFile, "owner", "owner"))+" (from "+asString(path(withFile, "owner", "from"))+")") ||
		!strings.Contains(get, asString(path(withFile, "owner", "path"))) {
		t.Fatalf("discovered get %s:\n%s", withFile["slug"], get)
	}

	// What every sync spent on CODEOWNERS is what the mock answered on /src.
	var runs map[string]any
	c.json(&runs, "runs", integration)
	spent := 0
	for _, r := range items(t, runs) {
		n, _ := strconv.Atoi(asString(r["code_owners_requests"]))
		spent += n
	}
	var counters struct {
		ByEndpoint map[string]int `json:"by_endpoint"`
	}
	mockGet(t, s.controlURL, "/counters", &counters)
	if spent == 0 || spent != counters.ByEndpoint["src"] {
		t.Fatalf("runs count %d CODEOWNERS requests, the mock answered %d", spent, counters.ByEndpoint["src"])
	}

	// A new CODEOWNERS file is a push: the next sync sees the repository
	// changed, and the one after reads the file again.
	slug := withoutFile["slug"].(string)
	req, _ := http.NewRequest(http.MethodPut, s.controlURL+"/repos/"+slug+"/files/.bitbucket/CODEOWNERS",
		strings.NewReader("# owners\n* @acme/payments @alice\nsrc/ @bob\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("setting CODEOWNERS of %s: %v %v", slug, resp, err)
	}
	resp.Body.Close()
	syncWait(t, c)
	syncWait(t, c)
	d := find(t, listAll(t, c, "discovered", "list", integration, "--search", slug), "slug", slug)
	if path(d, "owner", "owner") != "group:payments-team" || path(d, "owner", "path") != ".bitbucket/CODEOWNERS" {
		t.Fatalf("%s after its CODEOWNERS changed: %v", slug, d["owner"])
	}

	// Register takes the suggestion; --owner chooses another.
	c.ok("import", integration, slug)
	var e map[string]any
	c.json(&e, "entity", "get", strings.ReplaceAll(slug, "-", "_"))
	if e["owner"] != "group:payments-team" {
		t.Fatalf("registered %s has owner %v, want the suggested group:payments-team", slug, e["owner"])
	}
	other := withFile["slug"].(string)
	c.ok("import", integration, other, "--owner", "user:someone-else")
	c.json(&e, "entity", "get", strings.ReplaceAll(other, "-", "_"))
	if e["owner"] != "user:someone-else" {
		t.Fatalf("registered %s has owner %v, want the one given, user:someone-else", other, e["owner"])
	}
	if out := c.fails(2, "import", integration, "x", "--action", "merge", "--owner", "group:x"); !strings.Contains(out, "--owner applies to register") {
		t.Fatalf("--owner with merge: %s", out)
	}
}
