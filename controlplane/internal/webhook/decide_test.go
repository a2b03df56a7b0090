package webhook

import (
	"strings"
	"testing"
	"time"
)

const repoJSON = `"repository":{"uuid":"{r1}","full_name":"acme/payments-api"}`

func pr(state string) string {
	return `{` + repoJSON + `,"pullrequest":{"id":7,"title":"Fix","state":"` + state + `","updated_on":"2026-12-01T10:00:00Z",
		"source":{"branch":{"name":"fix"}},"destination":{"branch":{"name":"main"}},"author":{"display_name":"Ann","uuid":"{a}"},
		"merge_commit":{"hash":"abc123def456"},"closed_by":{"display_name":"Bob"}}}`
}

func push(changes string) string {
	return `{` + repoJSON + `,"push":{"changes":[` + changes + `]}}`
}

const commit = `{"hash":"1111111111111111111111111111111111111111","date":"2026-12-01T09:00:00+00:00","message":"m",
	"author":{"raw":"Ann <a@x>"},"parents":[{"hash":"2222222222222222222222222222222222222222"}]}`

func TestDecide(t *testing.T) {
	tests := []struct {
		name, event, body string
		kind              Kind
		refreshMain       bool
		mainCommits       int
		err               string
	}{
		{"merged pull request", "pullrequest:fulfilled", pr("MERGED"), ApplyPullRequest, false, 0, ""},
		{"declined pull request", "pullrequest:rejected", pr("DECLINED"), ApplyPullRequest, false, 0, ""},
		{"approval", "pullrequest:approved", pr("OPEN"), ApplyPullRequest, false, 0, ""},
		{"pull request without id", "pullrequest:created", `{` + repoJSON + `,"pullrequest":{"updated_on":"2026-12-01T10:00:00Z"}}`, 0, false, 0, "positive id"},
		{"pull request without updated_on", "pullrequest:updated", `{` + repoJSON + `,"pullrequest":{"id":3}}`, 0, false, 0, "updated_on"},
		{"push on main, complete", "repo:push", push(`{"new":{"type":"branch","name":"main"},"old":{"type":"branch","name":"main"},"commits":[` + commit + `]}`), ApplyPush, false, 1, ""},
		{"push on main, truncated", "repo:push", push(`{"new":{"type":"branch","name":"main"},"old":{"type":"branch","name":"main"},"truncated":true,"commits":[` + commit + `]}`), ApplyPush, true, 1, ""},
		{"push on main, forced", "repo:push", push(`{"new":{"type":"branch","name":"main"},"old":{"type":"branch","name":"main"},"forced":true,"commits":[]}`), ApplyPush, true, 0, ""},
		{"main created", "repo:push", push(`{"new":{"type":"branch","name":"main"},"old":null,"created":true,"commits":[` + commit + `]}`), ApplyPush, true, 1, ""},
		{"push on another branch", "repo:push", push(`{"new":{"type":"branch","name":"dev"},"old":{"type":"branch","name":"dev"},"truncated":true,"commits":[` + commit + `]}`), ApplyPush, false, 0, ""},
		{"tag", "repo:push", push(`{"new":{"type":"tag","name":"v1"},"old":null,"created":true,"commits":[]}`), ApplyPush, false, 0, ""},
		{"branch deleted", "repo:push", push(`{"new":null,"old":{"type":"branch","name":"main"},"closed":true,"commits":[]}`), ApplyPush, false, 0, ""},
		{"commit without hash", "repo:push", push(`{"new":{"type":"branch","name":"main"},"old":{"type":"branch","name":"main"},"commits":[{"message":"x"}]}`), 0, false, 0, "without hash"},
		{"repository created", "repo:created", `{` + repoJSON + `}`, Refresh, false, 0, ""},
		{"repository updated", "repo:updated", `{` + repoJSON + `,"changes":{"name":{"new":"a","old":"b"}}}`, Refresh, false, 0, ""},
		{"repository transferred", "repo:transfer", `{` + repoJSON + `}`, Refresh, false, 0, ""},
		{"repository imported", "repo:imported", `{` + repoJSON + `}`, Refresh, false, 0, ""},
		{"repository deleted", "repo:deleted", `{` + repoJSON + `}`, Delete, false, 0, ""},
		{"fork is not subscribed", "repo:fork", `{` + repoJSON + `}`, Ignore, false, 0, ""},
		{"project event", "project:updated", `{}`, Ignore, false, 0, ""},
		{"not JSON", "repo:push", `{`, 0, false, 0, "payload of repo:push"},
		{"no repository", "repo:created", `{}`, 0, false, 0, "no repository uuid"},
		{"full_name without slug", "repo:created", `{"repository":{"uuid":"{r1}","full_name":"acme"}}`, 0, false, 0, "workspace/slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := Decide(tt.event, []byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Decide error = %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind != tt.kind {
				t.Fatalf("kind = %s, want %s", a.Kind, tt.kind)
			}
			if got := a.RefreshNeeded("main"); got != tt.refreshMain {
				t.Fatalf("RefreshNeeded(main) = %v, want %v", got, tt.refreshMain)
			}
			if got := len(a.MainCommits("main")); got != tt.mainCommits {
				t.Fatalf("MainCommits(main) = %d, want %d", got, tt.mainCommits)
			}
			if a.Kind != Ignore && (a.Repository.UUID != "{r1}" || a.Repository.Slug != "payments-api") {
				t.Fatalf("repository = %+v", a.Repository)
			}
		})
	}
}

func TestDecidePullRequestFields(t *testing.T) {
	a, err := Decide("pullrequest:fulfilled", []byte(pr("MERGED")))
	if err != nil {
		t.Fatal(err)
	}
	p := a.PullRequest
	if p.RepositoryUUID != "{r1}" || p.ID != 7 || p.State != "MERGED" || p.MergeCommit != "abc123def456" || p.ClosedBy != "Bob" ||
		p.Author != "Ann" || p.SourceBranch != "fix" || p.DestinationBranch != "main" ||
		!p.UpdatedOn.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("pull request = %+v", p)
	}
}
