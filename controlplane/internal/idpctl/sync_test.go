package idpctl

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

const (
	queued    = integrationv1.SyncStatus_SYNC_STATUS_QUEUED
	running   = integrationv1.SyncStatus_SYNC_STATUS_RUNNING
	succeeded = integrationv1.SyncStatus_SYNC_STATUS_SUCCESS
)

// runScript is a sync as GetSyncRun reports it, one step per poll, ending
// with end (and err, for a failed or partial run).
func runScript(end integrationv1.SyncStatus, err string) []*integrationv1.SyncRun {
	step := func(st integrationv1.SyncStatus, phase string, repos, done, prs, commits, requests, limited int64) *integrationv1.SyncRun {
		return &integrationv1.SyncRun{Id: "r-1", Status: st, Phase: phase, Repositories: repos, RepositoriesTotal: 120, RepositoriesDone: done,
			PullRequests: prs, Commits: commits, Requests: requests, RateLimited: limited, QueuedAt: ago(3 * time.Minute)}
	}
	last := step(end, "", 120, 120, 340, 560, 57, 2)
	last.StartedAt, last.FinishedAt, last.Error = ago(2*time.Minute+5*time.Second), ago(0), err
	return []*integrationv1.SyncRun{
		step(queued, "", 0, 0, 0, 0, 0, 0),
		step(running, "repositories", 50, 0, 0, 0, 1, 0),
		step(running, "repositories", 120, 0, 0, 0, 2, 0),
		step(running, "pull_requests", 120, 40, 200, 0, 30, 2),
		step(running, "commits", 120, 90, 340, 300, 50, 2),
		last,
	}
}

// tickingClock advances one second per reading, so elapsed times differ
// from line to line without sleeping.
func tickingClock() func() time.Time {
	t := testNow
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func TestSyncWaitPrintsALinePerPhaseOffATerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.now = tickingClock()
	h.fake.runScript = runScript(succeeded, "")
	r := h.mustRun(0, "sync", "acme", "--wait")
	golden(t, "sync-wait-progress", r.stderr)
	if want := "Run r-1 SUCCESS in 2m5s: 120 repositories, 340 pull requests, 560 commits; 57 Bitbucket requests, 2 rate-limited (429).\n"; r.stdout != want {
		t.Errorf("stdout = %q\nwant %q", r.stdout, want)
	}
	// Requests spent on CODEOWNERS files are named when there are any.
	h2 := newHarness(t)
	h2.now = tickingClock()
	h2.fake.runScript = runScript(succeeded, "")
	h2.fake.runScript[len(h2.fake.runScript)-1].CodeOwnersRequests = 12
	if want := "Run r-1 SUCCESS in 2m5s: 120 repositories, 340 pull requests, 560 commits; 57 Bitbucket requests (12 reading CODEOWNERS files), 2 rate-limited (429).\n"; h2.mustRun(0, "sync", "acme", "--wait").stdout != want {
		t.Errorf("with CODEOWNERS requests, want %q", want)
	}
	polls := h.fake.requests("GetSyncRun")
	if len(polls) != 5 {
		t.Errorf("polled %d times, want 5 (until the run ended)", len(polls))
	}
	if id := polls[0].(*integrationv1.GetSyncRunRequest).GetId(); id != "r-1" {
		t.Errorf("polled run %q", id)
	}
}

func TestSyncWaitRedrawsOneLineOnATerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.now = tickingClock()
	h.columns = 200
	h.fake.runScript = runScript(succeeded, "")
	r := h.mustRun(0, "sync", "acme", "--wait")
	frames := strings.Split(r.stderr, "\r")
	if frames[0] != "" || len(frames) != 7 {
		t.Fatalf("want 6 frames each starting with \\r, got %q", r.stderr)
	}
	if !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("want one newline, at the end: %q", r.stderr)
	}
	// A shorter frame pads out what is left of the longer one before it.
	long, short := frames[5], strings.TrimSuffix(frames[6], "\n")
	if len(short) < len(strings.TrimRight(long, " ")) {
		t.Errorf("frame %q does not cover %q", short, long)
	}
	if !strings.HasPrefix(frames[4], "run r-1 RUNNING phase=pull_requests repos=120/120 done=40/120 prs=200 commits=0 requests=30 429s=2 (") {
		t.Errorf("frame = %q", frames[4])
	}
}

func TestSyncWaitKeepsTheLineWithinTheTerminal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.columns = 40
	h.fake.runScript = runScript(succeeded, "")
	r := h.mustRun(0, "sync", "acme", "--wait")
	for _, frame := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\r")[1:] {
		if len(frame) >= 40 {
			t.Errorf("frame of %d columns on a 40-column terminal: %q", len(frame), frame)
		}
	}
}

func TestSyncWaitOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		end          integrationv1.SyncStatus
		err          string
		code         int
		stderrSuffix string
	}{
		{integrationv1.SyncStatus_SYNC_STATUS_PARTIAL, "2 repositories failed: 404", 0,
			"Warning: the run was partial: 2 repositories failed: 404. What synced is kept; the next sync retries the rest.\n"},
		{integrationv1.SyncStatus_SYNC_STATUS_FAILED, "token rejected (401)", 1,
			"Error: sync run r-1 failed: token rejected (401) (see idpctl events acme)\n"},
		{integrationv1.SyncStatus_SYNC_STATUS_CANCELLED, "integration suspended", 1,
			"Error: sync run r-1 was cancelled: integration suspended\n"},
	}
	for _, tc := range cases {
		h := newHarness(t)
		h.fake.runScript = runScript(tc.end, tc.err)
		r := h.mustRun(tc.code, "sync", "acme", "--wait", "-o", "json")
		if !strings.HasSuffix(r.stderr, tc.stderrSuffix) {
			t.Errorf("%v: stderr = %q\nwant suffix %q", tc.end, r.stderr, tc.stderrSuffix)
		}
		if !strings.Contains(r.stdout, `"status": "`+tc.end.String()+`"`) {
			t.Errorf("%v: stdout is not the final run: %s", tc.end, r.stdout)
		}
	}
}

func TestSyncWaitTimeoutAndTransientErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// Running from the start and never ending, so that the status the
	// timeout reports does not depend on how many polls fit in 30ms.
	h.fake.runScript = runScript(succeeded, "")[1:2]
	r := h.mustRun(1, "sync", "acme", "--wait", "--timeout", "30ms")
	if want := "Error: gave up waiting after 30ms (--timeout): run r-1 is still RUNNING and goes on (see idpctl runs acme)\n"; !strings.HasSuffix(r.stderr, want) {
		t.Errorf("stderr = %q\nwant suffix %q", r.stderr, want)
	}

	// A control plane that restarts during the wait does not end it.
	h = newHarness(t)
	h.fake.runScript = runScript(succeeded, "")
	h.fake.failNext("GetSyncRun", status.Error(codes.Unavailable, "connection refused"))
	h.fake.failNext("GetSyncRun", status.Error(codes.Unavailable, "connection refused"))
	h.mustRun(0, "sync", "acme", "--wait")
}

func TestSyncWithoutWait(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.runScript = runScript(succeeded, "")
	r := h.mustRun(0, "sync", "acme")
	if r.stdout != "Sync queued: run r-1.\n" || r.stderr != "Follow it: idpctl sync acme --wait\n" {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
	h.fake.runScript = runScript(succeeded, "")[2:]
	h.fake.syncJoined = true
	r = h.mustRun(0, "integration", "sync", "acme")
	if r.stdout != "A sync is already running: run r-1.\n" {
		t.Errorf("joined: stdout = %q", r.stdout)
	}
	if len(h.fake.requests("GetSyncRun")) != 0 {
		t.Error("polled without --wait")
	}
}

func TestRunsList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.runs = []*integrationv1.SyncRun{
		{Id: "r-3", Trigger: integrationv1.SyncTrigger_SYNC_TRIGGER_MANUAL, Status: running, Repositories: 80, Requests: 12,
			QueuedAt: ago(2 * time.Minute), StartedAt: ago(time.Minute)},
		{Id: "r-2", Trigger: integrationv1.SyncTrigger_SYNC_TRIGGER_SCHEDULED, Status: integrationv1.SyncStatus_SYNC_STATUS_PARTIAL,
			Repositories: 120, PullRequests: 340, Commits: 560, Requests: 420, RateLimited: 3, Error: "2 repositories failed: 404",
			QueuedAt: ago(3 * time.Hour), StartedAt: ago(3 * time.Hour), FinishedAt: ago(3*time.Hour - 4*time.Minute - 10*time.Second)},
		{Id: "r-1", Trigger: integrationv1.SyncTrigger_SYNC_TRIGGER_MANUAL, Status: succeeded, Repositories: 118, PullRequests: 5000, Commits: 5000,
			Requests: 1400, QueuedAt: ago(26 * time.Hour), StartedAt: ago(26 * time.Hour), FinishedAt: ago(25 * time.Hour)},
	}
	golden(t, "runs", h.mustRun(0, "runs", "acme").stdout)

	h.fake.runs = nil
	r := h.mustRun(0, "runs", "acme")
	if r.stdout != "" || r.stderr != "No sync runs yet. Start one with: idpctl sync acme --wait\n" {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
}
