package synctask_test

import (
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/google/go-cmp/cmp"
)

func startMock(t *testing.T, cfg bitbucketmock.Config) *bitbucketmock.Running {
	t.Helper()
	cfg.Tokens = []bitbucketmock.Token{{Name: "delegate", Value: testenv.BitbucketToken}}
	return bitbucketmock.Start(t, cfg)
}

func startControl(t *testing.T) *fakecontrol.Server { return startControlB(t) }

func startControlB(t testing.TB) *fakecontrol.Server {
	return fakecontrol.New(t, fakecontrol.Options{Token: testenv.DelegateToken, Account: testenv.Account})
}

// startOneAttemptControl is a fake control plane whose leases outlive any
// stall of a loaded machine, for tests that count the requests of one
// attempt: a lost lease would start another.
func startOneAttemptControl(t *testing.T) *fakecontrol.Server {
	return fakecontrol.New(t, fakecontrol.Options{Token: testenv.DelegateToken, Account: testenv.Account, LeaseDuration: time.Minute})
}

// truth is what the mock holds that a sync should deliver, by kind.
func truth(t *testing.T, m *bitbucketmock.Running) map[string]int {
	t.Helper()
	want := map[string]int{"listing_complete": 1}
	for _, r := range m.Repos() {
		want["repository"]++
		want["cursor"]++
		want["commit"] += r.Commits
		prs, err := m.PullRequests(r.Slug)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range prs {
			if pr.State != "SUPERSEDED" {
				want["pull_request"]++
			}
		}
	}
	return want
}

func kinds(recs map[string]*pb.Record) map[string]int {
	out := map[string]int{}
	for id := range recs {
		out[strings.SplitN(id, ":", 2)[0]]++
	}
	return out
}

func nonEmpty(m *bitbucketmock.Running) int {
	n := 0
	for _, r := range m.Repos() {
		if r.MainBranch != "" {
			n++
		}
	}
	return n
}

func TestFullSyncThenOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 42, Repos: 14, PRsPerRepo: 12, CommitsPerRepo: 30})
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{})

	_, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("first sync: %v %s", done.GetOutcome(), done.GetError())
	}
	if diff := cmp.Diff(truth(t, m), cp.Count()); diff != "" {
		t.Errorf("first sync records by kind (-want +got):\n%s", diff)
	}
	c := m.Counters()
	wantReq := map[string]int{"repositories": 1, "pullrequests": 14, "commits": nonEmpty(m)}
	if diff := cmp.Diff(wantReq, c.ByEndpoint); diff != "" {
		t.Errorf("first sync requests by endpoint (-want +got):\n%s", diff)
	}
	if got := done.GetProgress().GetRequests(); got != int64(c.Requests) {
		t.Errorf("progress reports %d requests, mock counted %d", got, c.Requests)
	}

	// Change a few things.
	repos := m.Repos()
	var open []bitbucketmock.RepoInfo
	for _, r := range repos {
		if r.MainBranch != "" {
			open = append(open, r)
		}
	}
	if _, err := m.PushCommits(open[0].Slug, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenPR(open[1].Slug, bitbucketmock.PRSpec{Title: "new work"}); err != nil {
		t.Fatal(err)
	}
	prs, _ := m.PullRequests(open[2].Slug)
	merged := false
	for _, pr := range prs {
		if pr.State == "OPEN" {
			if _, err := m.MergePR(open[2].Slug, pr.ID); err != nil {
				t.Fatal(err)
			}
			merged = true
			break
		}
	}
	if !merged {
		t.Fatal("seed has no open pull request to merge; pick another repository")
	}
	if _, err := m.AddRepo(bitbucketmock.RepoSpec{Name: "brand-new", Commits: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.RenameRepo(open[3].Slug, "renamed-service"); err != nil {
		t.Fatal(err)
	}
	m.ResetCounters()

	id, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, cp.Cursors(), time.Time{}), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("second sync: %v %s", done.GetOutcome(), done.GetError())
	}
	got := kinds(testenv.SyncedSince(cp, id))
	want := map[string]int{
		"repository":       15,    // the listing is always complete
		"pull_request":     1 + 1, // the new one and the merged one
		"commit":           3 + 1 + 5,
		"cursor":           5, // pushed, new PR, merged, renamed, new repository
		"listing_complete": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("second sync uploads (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(truth(t, m), cp.Count()); diff != "" {
		t.Errorf("after the second sync, stored records by kind (-want +got):\n%s", diff)
	}
	// One listing page; one "anything new?" query per repository for pull
	// requests; commits only where updated_on moved (push, merge, rename)
	// plus the new repository's first fetch.
	c = m.Counters()
	wantReq = map[string]int{"repositories": 1, "pullrequests": 15, "commits": 4}
	if diff := cmp.Diff(wantReq, c.ByEndpoint); diff != "" {
		t.Errorf("second sync requests by endpoint (-want +got):\n%s", diff)
	}
}

func TestCapsAndSnapshotBackfillOverSeveralSyncs(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 7, Repos: 8, PRsPerRepo: 30, CommitsPerRepo: 40})
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{Workers: 3})
	limits := &pb.SyncLimits{FirstSyncPerRepository: 10, MaxPullRequestsPerSync: 60, MaxCommitsPerSync: 70}

	want := truth(t, m)
	var cursors []*pb.RepositoryCursor
	for sync := 1; ; sync++ {
		if sync > 12 {
			t.Fatalf("not converged after %d syncs: have %v, want %v", sync-1, cp.Count(), want)
		}
		id, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), limits, cursors, time.Time{}), 30*time.Second)
		if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
			t.Fatalf("sync %d: %v %s", sync, done.GetOutcome(), done.GetError())
		}
		got := kinds(testenv.SyncedSince(cp, id))
		if got["pull_request"] > 60 || got["commit"] > 70 {
			t.Fatalf("sync %d exceeded a cap: %v", sync, got)
		}
		if sync == 1 {
			// First sync: at most 10 of each per repository, and caps bind.
			if got["pull_request"] != 60 || got["commit"] != 70 {
				t.Errorf("first sync should fill both caps, got %v", got)
			}
		}
		cursors = cp.Cursors()
		if cmp.Equal(want, cp.Count()) {
			break
		}
	}
	for _, c := range cursors {
		if !c.GetCommitsBackfilled() || !c.GetPullRequestsBackfilled() {
			t.Errorf("cursor of %s not backfilled after convergence: %v", c.GetRepositoryUuid(), c)
		}
	}
}

func TestStartDateBoundsSecondaryKinds(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 3, Repos: 5, PRsPerRepo: 20, CommitsPerRepo: 40})
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{})
	start := m.BaseTime().Add(-200 * 24 * time.Hour)

	_, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, start), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	var old []string
	for id, r := range cp.Records() {
		if pr := r.GetPullRequest(); pr != nil && pr.GetUpdatedOn().AsTime().Before(start) {
			old = append(old, id)
		}
		if c := r.GetCommit(); c != nil && c.GetDate().AsTime().Before(start) {
			old = append(old, id)
		}
	}
	sort.Strings(old)
	if len(old) > 0 {
		t.Errorf("records older than the start date: %v", old)
	}
	if cp.Count()["repository"] != 5 {
		t.Errorf("the start date must not filter repositories: %v", cp.Count())
	}
}

func TestFaultsStillDeliverTheSameRecords(t *testing.T) {
	t.Parallel()
	cfg := bitbucketmock.Config{Seed: 11, Repos: 12, PRsPerRepo: 8, CommitsPerRepo: 15}
	faulty := cfg
	// The limiter's window counts requests, not real time: of any 16 in a
	// row, at most 15 go through, however slowly a loaded machine sends
	// them, so 429s happen on every run.
	faulty.Clock = perRequest(500 * time.Millisecond / 16)
	m := startMock(t, faulty)
	cp := startOneAttemptControl(t) // progress counts the 429s of one attempt
	testenv.Start(t, cp, testenv.Options{Budget: bitbucket.BudgetLimit{Requests: 1000, Window: time.Second}})
	if err := m.SetFaults(bitbucketmock.Faults{Rate: 0.25, Kinds: []bitbucketmock.FaultKind{
		bitbucketmock.Fault500, bitbucketmock.Fault502, bitbucketmock.Fault503, bitbucketmock.FaultReset,
		bitbucketmock.FaultTruncate, bitbucketmock.FaultMalformed,
	}}); err != nil {
		t.Fatal(err)
	}
	// A rate limit the budget does not know about: 429s happen and are
	// retried with backoff.
	if err := m.SetRateLimit(bitbucketmock.Rate{N: 15, Per: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	_, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}), 60*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	c := m.Counters()
	if c.RateLimited == 0 || len(c.Faults) == 0 {
		t.Errorf("the test did not exercise 429s and faults: %d 429s, faults %v", c.RateLimited, c.Faults)
	}
	if got := done.GetProgress().GetRateLimited(); got != int64(c.RateLimited) {
		t.Errorf("progress reports %d 429s, mock sent %d", got, c.RateLimited)
	}

	// The same workspace synced without faults gives the same records.
	clean := startMock(t, cfg)
	cp2 := startControl(t)
	testenv.Start(t, cp2, testenv.Options{})
	if _, done := testenv.Run(t, cp2, testenv.SyncTask(clean.URL, clean.Workspace(), nil, nil, time.Time{}), 30*time.Second); done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("clean sync: %v %s", done.GetOutcome(), done.GetError())
	}
	if diff := cmp.Diff(ids(cp2.Records()), ids(cp.Records())); diff != "" {
		t.Errorf("records with faults differ from a clean run (-clean +faulty):\n%s", diff)
	}
	if diff := cmp.Diff(truth(t, m), cp.Count()); diff != "" {
		t.Errorf("records by kind (-want +got):\n%s", diff)
	}
}

// perRequest is a clock for the mock that moves step every time it is
// read. The mock reads it once for each request its rate limiter sees, so a
// window of Per holds Per/step requests whatever their real timing.
func perRequest(step time.Duration) func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * step) }
}

func ids(recs map[string]*pb.Record) []string {
	var out []string
	for id := range recs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// syncOnLockstep syncs a workspace from a mock limited to 20 requests a
// second, with the delegate's budget set to budget, both on one lockstep
// clock. It returns how the sync ended, the mock's counters and the fake
// time the sync took.
func syncOnLockstep(t *testing.T, budget bitbucket.BudgetLimit) (*pb.CompleteTaskRequest, bitbucketmock.Counters, time.Duration) {
	t.Helper()
	clk := newLockstep()
	m := startMock(t, bitbucketmock.Config{Seed: 5, Repos: 30, PRsPerRepo: 3, CommitsPerRepo: 5,
		RateLimit: bitbucketmock.Rate{N: 20, Per: time.Second}, Clock: clk.Now})
	cp := startOneAttemptControl(t) // a lost lease abandons requests on their way
	d := testenv.Start(t, cp, testenv.Options{Budget: budget, Workers: 8, Clock: clk})
	startLockstep(t, clk, d.Budgets.Granted, returned(d.Metrics))
	start := clk.Now()
	_, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}), 60*time.Second)
	return done, m.Counters(), clk.Now().Sub(start)
}

func TestBudgetMatchedToTheLimitMeansNo429(t *testing.T) {
	t.Parallel()
	done, c, took := syncOnLockstep(t, bitbucket.BudgetLimit{Requests: 20, Window: time.Second})
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	if c.RateLimited != 0 {
		t.Errorf("%d of %d responses were 429 with the budget matched to the limit", c.RateLimited, c.Requests)
	}
	// The budget, not luck, kept us under: the sync needed more than one
	// window's worth of requests, and requests waited a window for it
	// (only the budget waits on this clock).
	if c.Requests <= 20 || took < time.Second {
		t.Errorf("test too small to exercise pacing: %d requests in %v", c.Requests, took)
	}
}

// The same harness catches a budget that does not match the limit, so the
// test above passes because of the budget and not because 429s cannot
// happen on the lockstep clock. How the sync ends is beside the point: the
// mock's window clears only as the lockstep clock moves, and it moves only
// while the budget makes requests wait, not while retries back off.
func TestBudgetAboveTheLimitGets429(t *testing.T) {
	t.Parallel()
	_, c, _ := syncOnLockstep(t, bitbucket.BudgetLimit{Requests: 1000, Window: time.Second})
	if c.RateLimited == 0 {
		t.Errorf("no 429 in %d requests with a budget of 1000/s against a limit of 20/s", c.Requests)
	}
}

// A record too large to upload ends the sync as partial, naming the
// record, instead of a batch the control plane refuses over and over; no
// listing-complete marker is sent, so no repository is taken as deleted.
func TestARecordTooLargeToUploadEndsThePartialSyncNamingIt(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 35, Repos: 3, PRsPerRepo: 2, CommitsPerRepo: 2})
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{Upload: upload.Options{MaxBytes: 900}})
	_, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_FAILED && done.GetOutcome() != pb.Outcome_OUTCOME_PARTIAL {
		t.Fatalf("outcome %v: %s", done.GetOutcome(), done.GetError())
	}
	if !strings.Contains(done.GetError(), "bytes encoded, more than the 900 a record batch may carry") || !strings.Contains(done.GetError(), "repository "+m.Workspace()+"/") {
		t.Errorf("error %q does not name the record and the limit", done.GetError())
	}
	if n := cp.Count()["listing_complete"]; n != 0 {
		t.Error("a listing-complete marker was sent though a repository was not")
	}
}

// Every batch carries the sync's progress as it stood when the batch was
// closed, so the control plane's run counters move with the records: the
// Bitbucket requests made so far only grow from batch to batch, and the
// last batch knows every repository.
func TestEveryBatchCarriesTheProgress(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 7, Repos: 12, PRsPerRepo: 6, CommitsPerRepo: 10})
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{Upload: upload.Options{MaxRecords: 20}})

	id, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	task := cp.Task(id)
	if len(task.Batches) < 5 {
		t.Fatalf("%d batches; the test needs several", len(task.Batches))
	}
	var requests int64
	for seq := int64(1); seq <= int64(len(task.Batches)); seq++ {
		p := task.BatchProgress[seq]
		if p == nil {
			t.Fatalf("batch %d carried no progress", seq)
		}
		if p.GetRequests() <= 0 || p.GetRequests() < requests {
			t.Errorf("batch %d: %d requests after %d in the batch before; want a positive, growing count", seq, p.GetRequests(), requests)
		}
		requests = p.GetRequests()
	}
	if requests > done.GetProgress().GetRequests() {
		t.Errorf("batches reported %d requests, the completion %d", requests, done.GetProgress().GetRequests())
	}
}
