package synctask_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/google/go-cmp/cmp"
)

// pullRequestsOnly syncs pull requests and no commits.
func pullRequestsOnly(tk *pb.Task) *pb.Task {
	tk.Sync.SecondaryKinds = []pb.SecondaryKind{pb.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS}
	return tk
}

// Pull requests updated at the same instant are all fetched, even when a
// cap cuts between them; and once they are, a sync with nothing new
// uploads nothing.
func TestPullRequestsSharingUpdatedOnSurviveACap(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	m := startMock(t, bitbucketmock.Config{Seed: 34, Repos: 1, Clock: func() time.Time { return time.Unix(0, now.Load()) }})
	now.Store(m.BaseTime().UnixNano())
	repo, err := m.AddRepo(bitbucketmock.RepoSpec{Name: "twins", Commits: 3})
	if err != nil {
		t.Fatal(err)
	}
	slug := repo.Slug
	if _, err := m.OpenPR(slug, bitbucketmock.PRSpec{Title: "before"}); err != nil {
		t.Fatal(err)
	}
	cp := startControl(t)
	testenv.Start(t, cp, testenv.Options{})
	limits := &pb.SyncLimits{MaxPullRequestsPerSync: 2, FirstSyncPerRepository: 2}
	sync := func() map[string]int {
		t.Helper()
		id, done := testenv.Run(t, cp, pullRequestsOnly(testenv.SyncTask(m.URL, m.Workspace(), limits, cp.Cursors(), time.Time{})), 30*time.Second)
		if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
			t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
		}
		return kinds(testenv.SyncedSince(cp, id))
	}
	sync()

	// One pull request, then two at one instant: a cap of 2 cuts between
	// the two.
	at := m.BaseTime().Add(time.Hour)
	for i, title := range []string{"first", "twin a", "twin b"} {
		now.Store(at.Add(time.Duration(min(i, 1)) * time.Minute).UnixNano())
		if _, err := m.OpenPR(slug, bitbucketmock.PRSpec{Title: title}); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	sync()
	if diff := cmp.Diff(truth(t, m)["pull_request"], cp.Count()["pull_request"]); diff != "" {
		t.Errorf("pull requests stored after the cut (-want +got):\n%s", diff)
	}
	if got := sync(); got["pull_request"] != 0 || got["cursor"] != 0 {
		t.Errorf("a sync with nothing new uploaded %v", got)
	}
}
