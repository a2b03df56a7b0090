package synctask_test

import (
	"slices"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/codeowners"
)

// codeOwnersTask asks for the CODEOWNERS files of repos and nothing else
// but the listing.
func codeOwnersTask(m *bitbucketmock.Running, repos []string, capRequests int32) *pb.Task {
	task := testenv.SyncTask(m.URL, m.Workspace(), &pb.SyncLimits{MaxCodeOwnersRequestsPerSync: capRequests}, nil, time.Time{})
	task.Sync.SecondaryKinds = nil
	task.Sync.CodeOwnersRepositories = repos
	return task
}

// probesFor is what reading a repository's CODEOWNERS file costs: one
// request per location up to the one that has it, all of them when none.
func probesFor(path string) int {
	if i := slices.Index(codeowners.Locations, path); i >= 0 {
		return i + 1
	}
	return len(codeowners.Locations)
}

func TestCodeOwnersReadForTheRepositoriesAskedOnly(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 5, Repos: 40, CommitsPerRepo: 2})
	cp := startOneAttemptControl(t)
	testenv.Start(t, cp, testenv.Options{Workers: 3})

	var asked []string
	wantPaths := map[string]string{}
	probes := 0
	for i, r := range m.Repos() {
		if i%2 == 1 || r.MainBranch == "" {
			continue
		}
		path, _, err := m.CodeOwners(r.Slug)
		if err != nil {
			t.Fatal(err)
		}
		asked = append(asked, r.UUID)
		wantPaths[r.UUID] = path
		probes += probesFor(path)
	}
	m.ResetCounters()
	id, done := testenv.Run(t, cp, codeOwnersTask(m, asked, 1000), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("%v %s", done.GetOutcome(), done.GetError())
	}
	got := map[string]*pb.CodeOwners{}
	for _, rec := range testenv.SyncedSince(cp, id) {
		if co := rec.GetCodeOwners(); co != nil {
			got[co.GetRepositoryUuid()] = co
		}
	}
	if len(got) != len(asked) {
		t.Fatalf("%d CODEOWNERS records, want %d", len(got), len(asked))
	}
	for uuid, path := range wantPaths {
		co := got[uuid]
		if co.GetPath() != path {
			t.Errorf("%s: path %q, want %q", uuid, co.GetPath(), path)
		}
		if path != "" && (!co.GetCoversRepository() || len(co.GetOwners()) == 0 || co.GetRevision() == "" || co.GetRepositoryUpdatedOn() == nil) {
			t.Errorf("%s: %v", uuid, co)
		}
	}
	c := m.Counters()
	if c.ByEndpoint["src"] != probes || done.GetProgress().GetCodeOwnersRequests() != int64(probes) {
		t.Fatalf("src requests: mock %d, progress %d, want %d", c.ByEndpoint["src"], done.GetProgress().GetCodeOwnersRequests(), probes)
	}
	if done.GetProgress().GetRequests() != int64(c.Requests) {
		t.Fatalf("progress counts %d requests, the mock answered %d", done.GetProgress().GetRequests(), c.Requests)
	}
}

func TestCodeOwnersCapLeavesTheRestForTheNextSync(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 9, Repos: 30, CommitsPerRepo: 2})
	cp := startOneAttemptControl(t)
	testenv.Start(t, cp, testenv.Options{Workers: 2})
	var asked []string
	for _, r := range m.Repos() {
		if r.MainBranch != "" {
			asked = append(asked, r.UUID)
		}
	}
	m.ResetCounters()
	const capRequests = 10
	id, done := testenv.Run(t, cp, codeOwnersTask(m, asked, capRequests), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("%v %s", done.GetOutcome(), done.GetError())
	}
	if n := m.Counters().ByEndpoint["src"]; n != capRequests {
		t.Fatalf("%d src requests, want the cap %d", n, capRequests)
	}
	records := 0
	for _, rec := range testenv.SyncedSince(cp, id) {
		if rec.GetCodeOwners() != nil {
			records++
		}
	}
	if records == 0 || records >= len(asked) {
		t.Fatalf("%d CODEOWNERS records for %d repositories under a cap of %d requests", records, len(asked), capRequests)
	}
}
