package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDroppedDeliveryIsCaughtByTheSweep: with every webhook delivery
// dropped (whether or not a webhook is registered), a merge and a pull
// request edit made in Bitbucket reach the catalog through the scheduled
// syncs alone, on the control plane's clock moved forward one update
// interval at a time: the merge (it moves the repository's updated_on) at
// the first scheduled sync, the edit (it does not) within the sweep
// window of a repository with open pull requests. No sync is started by
// hand, and a scheduled sync fetches the pull requests of only its share
// of the repositories.
func TestDroppedDeliveryIsCaughtByTheSweep(t *testing.T) {
	offsetFile := filepath.Join(t.TempDir(), "clock-offset")
	setOffset := func(d time.Duration) {
		if err := os.WriteFile(offsetFile, []byte(d.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setOffset(0)
	t.Setenv("IDP_TEST_CLOCK_OFFSET_FILE", offsetFile)
	s := startStack(t)
	c := s.cli

	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	// Windows of 24h with a webhook and 12h without: a repository with
	// open pull requests is swept at least every 6h (12h with a webhook).
	c.ok("integration", "create", "--name", integration, "--connector", "bb",
		"--pr-sweep-window", "24h", "--pr-sweep-window-without-webhook", "12h")
	syncWait(t, c) // joins the first sync, which lists and confirms everything

	var in map[string]any
	c.json(&in, "integration", "get", integration)
	f, _ := in["freshness"].(map[string]any)
	if fmt.Sprint(f["repositories"]) != itoa(repoCount) || fmt.Sprint(f["pull_requests_overdue"]) != "0" || f["pull_requests_oldest_confirmed_at"] == nil {
		t.Fatalf("freshness after the first sync: %v; want %d repositories, none overdue, an oldest confirmation", f, repoCount)
	}

	// Two repositories with an open pull request each, imported so that
	// their activity shows.
	var merged, edited mockRepo
	var mergedPR, editedPR int
	for _, r := range listMockRepos(t, s.controlURL) {
		if open := r.openPullRequest(t, s.controlURL); open != 0 {
			switch {
			case mergedPR == 0:
				merged, mergedPR = r, open
			case editedPR == 0:
				edited, editedPR = r, open
			}
		}
	}
	if editedPR == 0 {
		t.Fatal("the generated workspace has fewer than two repositories with an open pull request; pick another seed")
	}
	c.ok("import", integration, merged.Slug, edited.Slug)

	mockControl(t, s.controlURL, "PUT", "/deliveries", `{"drop": 1}`)
	mockControl(t, s.controlURL, "POST", fmt.Sprintf("/repos/%s/pullrequests/%d/merge", merged.Slug, mergedPR), "")
	const title = "edited while deliveries were dropped"
	mockControl(t, s.controlURL, "POST", fmt.Sprintf("/repos/%s/pullrequests/%d/update", edited.Slug, editedPR), `{"title": "`+title+`"}`)

	interval := 3*time.Hour + time.Minute
	caughtEdit := 0
	for n := 1; n <= 6 && caughtEdit == 0; n++ {
		setOffset(time.Duration(n) * interval)
		run := waitScheduledRun(t, c, n)
		if n == 1 {
			if got := prState(t, c, identifier(merged.Slug), mergedPR); got != "MERGED" {
				t.Fatalf("after the first scheduled sync the merged pull request is %q, want MERGED", got)
			}
			if requests := atoi(t, run["requests"]); requests >= repoCount {
				t.Errorf("the first scheduled sync made %d Bitbucket requests, want fewer than one per repository (%d)", requests, repoCount)
			}
		}
		if prTitle(t, c, identifier(edited.Slug), editedPR) == title {
			caughtEdit = n
		}
	}
	if caughtEdit == 0 {
		t.Fatal("the edited pull request was not caught by six scheduled syncs (18h)")
	}
	t.Logf("merge caught by scheduled sync 1, pull request edit by scheduled sync %d", caughtEdit)
	var runs map[string]any
	c.json(&runs, "runs", integration)
	for _, r := range items(t, runs) {
		if r["trigger"] != "SYNC_TRIGGER_SCHEDULED" && r["trigger"] != "SYNC_TRIGGER_CREATED" {
			t.Errorf("a run was started by %v; only the schedule may start them here", r["trigger"])
		}
	}
}

// listMockRepos lists the mock's repositories through its control API.
func listMockRepos(t *testing.T, base string) []mockRepo {
	t.Helper()
	var out []mockRepo
	mockGet(t, base, "/repos", &out)
	return out
}

// openPullRequest is the id of one of the repository's open pull
// requests, 0 when it has none.
func (r mockRepo) openPullRequest(t *testing.T, base string) int {
	t.Helper()
	var prs []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
	}
	mockGet(t, base, "/repos/"+r.Slug+"/pullrequests", &prs)
	for _, pr := range prs {
		if pr.State == "OPEN" {
			return pr.ID
		}
	}
	return 0
}

// identifier is the catalog identifier a registered repository gets.
func identifier(slug string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' {
			return r
		}
		return '_'
	}, slug)
}

// waitScheduledRun waits until the n-th scheduled run has ended and
// returns it.
func waitScheduledRun(t *testing.T, c cli, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var runs map[string]any
		c.json(&runs, "runs", integration)
		var scheduled []map[string]any
		for _, r := range items(t, runs) {
			if r["trigger"] == "SYNC_TRIGGER_SCHEDULED" {
				scheduled = append(scheduled, r)
			}
		}
		if len(scheduled) >= n {
			r := scheduled[len(scheduled)-n] // newest first
			switch r["status"] {
			case "SYNC_STATUS_SUCCESS":
				return r
			case "SYNC_STATUS_QUEUED", "SYNC_STATUS_RUNNING":
			default:
				t.Fatalf("scheduled sync %d ended %v: %v", n, r["status"], r)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("scheduled sync %d did not end within 2m", n)
	return nil
}

func pullRequest(t *testing.T, c cli, entity string, id int) map[string]any {
	t.Helper()
	var act map[string]any
	c.json(&act, "entity", "activity", entity, "--limit", "100")
	prs, _ := act["recent_pull_requests"].([]any)
	for _, p := range prs {
		pr := p.(map[string]any)
		if fmt.Sprint(pr["id"]) == itoa(id) {
			return pr
		}
	}
	t.Fatalf("pull request %d not in the activity of %s: %v", id, entity, act)
	return nil
}

func prState(t *testing.T, c cli, entity string, id int) string {
	s, _ := pullRequest(t, c, entity, id)["state"].(string)
	return s
}

func prTitle(t *testing.T, c cli, entity string, id int) string {
	s, _ := pullRequest(t, c, entity, id)["title"].(string)
	return s
}

func atoi(t *testing.T, v any) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(fmt.Sprint(v), &n); err != nil {
		t.Fatalf("%v is not a number", v)
	}
	return n
}
