package synctask_test

import (
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
)

// commitsOnly syncs commits and no pull requests.
func commitsOnly(tk *pb.Task) *pb.Task {
	tk.Sync.SecondaryKinds = []pb.SecondaryKind{pb.SecondaryKind_SECONDARY_KIND_COMMITS}
	return tk
}

// syncUntilConverged syncs until the commits stored match the mock's,
// failing if that takes more than maxSyncs.
func syncUntilConverged(t *testing.T, m *bitbucketmock.Running, cp *fakecontrol.Server, limits *pb.SyncLimits, cursors []*pb.RepositoryCursor, maxSyncs int) {
	t.Helper()
	want := truth(t, m)["commit"]
	for sync := 1; ; sync++ {
		if got := cp.Count()["commit"]; got == want {
			return
		}
		if sync > maxSyncs {
			t.Fatalf("commits not converged after %d syncs: have %d, want %d", maxSyncs, cp.Count()["commit"], want)
		}
		_, done := testenv.Run(t, cp, commitsOnly(testenv.SyncTask(m.URL, m.Workspace(), limits, cursors, time.Time{})), 30*time.Second)
		if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
			t.Fatalf("sync %d: %v %s", sync, done.GetOutcome(), done.GetError())
		}
		cursors = cp.Cursors()
	}
}

// The newest-commit walk makes durable progress whatever stops it short of
// the newest commit fetched before: a burst of pushes larger than the cap,
// or a force-push that removed that commit from the branch.
func TestNewCommitsBeyondTheCapOrAForcePushConverge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		push  int
		lose  bool // forget the newest hash, as a force-push would
		syncs int
	}{
		// 250 pushed, at most 100 a sync, then the 100 stored below them
		// once more (the price of the gap) and the 150 never fetched.
		{"burst beyond the cap", 250, false, 6},
		{"force-push", 0, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := startMock(t, bitbucketmock.Config{Seed: 31, Repos: 1, CommitsPerRepo: 250})
			if m.Repos()[0].MainBranch == "" {
				t.Fatal("the seed gives an empty repository; pick another")
			}
			cp := startControl(t)
			testenv.Start(t, cp, testenv.Options{})
			limits := &pb.SyncLimits{FirstSyncPerRepository: 20, MaxCommitsPerSync: 100}
			testenv.Run(t, cp, commitsOnly(testenv.SyncTask(m.URL, m.Workspace(), limits, nil, time.Time{})), 30*time.Second)
			cursors := cp.Cursors()
			if tt.push > 0 {
				if _, err := m.PushCommits(m.Repos()[0].Slug, tt.push); err != nil {
					t.Fatal(err)
				}
			}
			if tt.lose {
				c := proto.Clone(cursors[0]).(*pb.RepositoryCursor)
				c.NewestCommitHash = "0000000000000000000000000000000000000000"
				c.CommitsCheckedAtUpdatedOn = nil
				cp.SetCursor(c)
				cursors = cp.Cursors()
			}
			// Without durable progress every sync refetches the same
			// newest 100 and never gets further.
			syncUntilConverged(t, m, cp, limits, cursors, tt.syncs)
			final := cp.Cursors()[0]
			if !final.GetCommitsBackfilled() {
				t.Errorf("converged but the cursor is not backfilled: %v", final)
			}
		})
	}
}

// New commits of every repository come before any repository's backfill:
// one repository's long history does not take the cap another one's new
// commits need.
func TestNewCommitsOfEveryRepositoryComeBeforeBackfill(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 32, Repos: 2, CommitsPerRepo: 300})
	repos := m.Repos()
	for _, r := range repos {
		if r.MainBranch == "" {
			t.Fatal("the seed gives an empty repository; pick another")
		}
	}
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{Workers: 1}) // one repository after the other, in listing order
	limits := &pb.SyncLimits{FirstSyncPerRepository: 10, MaxCommitsPerSync: 50}
	testenv.Run(t, cp, commitsOnly(testenv.SyncTask(m.URL, m.Workspace(), limits, nil, time.Time{})), 30*time.Second)
	for _, r := range repos {
		if _, err := m.PushCommits(r.Slug, 20); err != nil {
			t.Fatal(err)
		}
	}
	id, done := testenv.Run(t, cp, commitsOnly(testenv.SyncTask(m.URL, m.Workspace(), limits, cp.Cursors(), time.Time{})), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	// Without the two passes the first repository's backfill takes what
	// is left of the cap after its new commits, and the second gets none.
	uploaded := map[string]int{}
	for _, b := range cp.Task(id).Batches {
		for _, rec := range b {
			if c := rec.GetCommit(); c != nil {
				uploaded[c.GetRepositoryUuid()]++
			}
		}
	}
	got := map[string]bool{}
	for _, r := range repos {
		got[r.Slug] = uploaded[r.UUID] >= 20
	}
	if diff := cmp.Diff(map[string]bool{repos[0].Slug: true, repos[1].Slug: true}, got); diff != "" {
		t.Errorf("repositories with their 20 new commits fetched (-want +got):\n%s\nuploaded per repository: %v", diff, uploaded)
	}
}

// After a merge or a rebase, a commit dated before the start date can sit
// above newer ones on the branch: it is skipped, and the walk goes on to
// the commits below it that are within the start date.
func TestOlderDatedCommitsAboveNewerOnesDoNotEndTheWalk(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	cfg := bitbucketmock.Config{Seed: 33, Repos: 1, CommitsPerRepo: 40, Clock: func() time.Time { return time.Unix(0, now.Load()) }}
	m := startMock(t, cfg)
	slug := m.Repos()[0].Slug
	longAgo := m.BaseTime().AddDate(-20, 0, 0)
	now.Store(longAgo.UnixNano())
	if _, err := m.PushCommits(slug, 5); err != nil { // rebased in, authored long ago
		t.Fatal(err)
	}
	now.Store(m.BaseTime().Add(time.Hour).UnixNano())
	if _, err := m.PushCommits(slug, 3); err != nil {
		t.Fatal(err)
	}

	// The start date: halfway through the generated history.
	all := startControl(t)
	testenv.Start(t, all, testenv.Options{})
	testenv.Run(t, all, commitsOnly(testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{})), 30*time.Second)
	var dates []time.Time
	for _, r := range all.Records() {
		if c := r.GetCommit(); c != nil && c.GetDate().AsTime().After(longAgo) {
			dates = append(dates, c.GetDate().AsTime())
		}
	}
	sort.Slice(dates, func(i, j int) bool { return dates[i].Before(dates[j]) })
	start := dates[len(dates)/2]
	var want []string
	for id, r := range all.Records() {
		if c := r.GetCommit(); c != nil && !c.GetDate().AsTime().Before(start) {
			want = append(want, id)
		}
	}

	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{})
	_, done := testenv.Run(t, cp, commitsOnly(testenv.SyncTask(m.URL, m.Workspace(), nil, nil, start)), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	var got []string
	for id, r := range cp.Records() {
		if r.GetCommit() != nil {
			got = append(got, id)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commits from the start date on (-want +got):\n%s", diff)
	}
}
