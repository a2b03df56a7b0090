package synctask_test

import (
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// mockClock is the mock's "now", moved by the test.
type mockClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *mockClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *mockClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A planned sync lists only what moved since the watermark, fetches the
// pull requests of what moved and of what the plan sweeps (by uuid, even
// unlisted), commits only where updated_on moved, and confirms what it
// fetched as of the plan's time; a pull request change elsewhere waits
// for its turn.
func TestSweepPlan(t *testing.T) {
	t.Parallel()
	clock := &mockClock{now: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	m := startMock(t, bitbucketmock.Config{Seed: 5, Repos: 12, PRsPerRepo: 4, CommitsPerRepo: 6, Clock: clock.Now})
	cp := startOneAttemptControl(t)
	testenv.Start(t, cp, testenv.Options{})

	first := clock.Now()
	tk := testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{})
	tk.Sync.Sweep = &pb.SweepPlan{Listing: pb.ListingMode_LISTING_MODE_FULL, AsOf: timestamppb.New(first), AllPullRequests: true}
	if _, done := testenv.Run(t, cp, tk, 30*time.Second); done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("first sync: %v %s", done.GetOutcome(), done.GetError())
	}
	for _, c := range cp.Cursors() {
		if !c.GetPullRequestsConfirmedAt().AsTime().Equal(first) {
			t.Fatalf("after the first sync, %s confirmed at %v, want %v", c.GetRepositoryUuid(), c.GetPullRequestsConfirmedAt().AsTime(), first)
		}
	}

	var full []bitbucketmock.RepoInfo
	for _, r := range m.Repos() {
		if r.MainBranch != "" && r.PullRequests > 0 {
			full = append(full, r)
		}
	}
	pushed, planned, waiting := full[0], full[1], full[2]
	clock.Advance(time.Hour)
	if _, err := m.PushCommits(pushed.Slug, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CommentPR(planned.Slug, 1, "seen by the sweep"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CommentPR(waiting.Slug, 1, "seen later"); err != nil {
		t.Fatal(err)
	}
	m.ResetCounters()

	second := clock.Now().Add(time.Minute)
	tk = testenv.SyncTask(m.URL, m.Workspace(), nil, cp.Cursors(), time.Time{})
	tk.Sync.Sweep = &pb.SweepPlan{Listing: pb.ListingMode_LISTING_MODE_WATERMARK, Since: timestamppb.New(first.Add(-15 * time.Minute)),
		AsOf: timestamppb.New(second), PullRequestRepositories: []string{planned.UUID}}
	id, done := testenv.Run(t, cp, tk, 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("planned sync: %v %s", done.GetOutcome(), done.GetError())
	}
	wantReq := map[string]int{"repositories": 1, "pullrequests": 2, "commits": 1}
	if diff := cmp.Diff(wantReq, m.Counters().ByEndpoint); diff != "" {
		t.Errorf("planned sync requests by endpoint (-want +got):\n%s", diff)
	}
	got := kinds(testenv.SyncedSince(cp, id))
	want := map[string]int{"repository": 1, "pull_request": 1, "commit": 2, "cursor": 2, "listing_complete": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planned sync uploads (-want +got):\n%s", diff)
	}
	cursors := map[string]*pb.RepositoryCursor{}
	for _, c := range cp.Cursors() {
		cursors[c.GetRepositoryUuid()] = c
	}
	for _, tc := range []struct {
		repo      bitbucketmock.RepoInfo
		confirmed time.Time
	}{{pushed, second}, {planned, second}, {waiting, first}} {
		c := cursors[tc.repo.UUID]
		if !c.GetPullRequestsConfirmedAt().AsTime().Equal(tc.confirmed) {
			t.Errorf("%s confirmed at %v, want %v", tc.repo.Slug, c.GetPullRequestsConfirmedAt().AsTime(), tc.confirmed)
		}
	}
	now, _ := m.Repo(pushed.Slug)
	if c := cursors[pushed.UUID]; !c.GetPullRequestsCheckedAtUpdatedOn().AsTime().Equal(now.UpdatedOn) {
		t.Errorf("pushed repository's pull requests checked at updated_on %v, want %v", c.GetPullRequestsCheckedAtUpdatedOn().AsTime(), now.UpdatedOn)
	}
}
