package synctask_test

import (
	"slices"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// projects returns the mock's project keys, sorted, and the repositories of each.
func projects(m *bitbucketmock.Running) ([]string, map[string][]bitbucketmock.RepoInfo) {
	by := map[string][]bitbucketmock.RepoInfo{}
	for _, r := range m.Repos() {
		by[r.ProjectKey] = append(by[r.ProjectKey], r)
	}
	var keys []string
	for k := range by {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, by
}

func filteredTask(m *bitbucketmock.Running, f *pb.RepositoryFilter) *pb.Task {
	t := testenv.SyncTask(m.URL, m.Workspace(), &pb.SyncLimits{MaxPullRequestsPerSync: 1 << 30, MaxCommitsPerSync: 1 << 30}, nil, time.Time{})
	t.Sync.Filter = f
	return t
}

// A filter's project part is applied by Bitbucket: repositories of other
// projects are never listed and cost nothing. Listed repositories the rest
// of the filter leaves out are sent (so they are not taken as deleted) but
// their pull requests and commits are not fetched. The end-of-listing
// marker says which filter the listing used.
func TestFilteredSync(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 77, Repos: 40, Projects: 4, PRsPerRepo: 3, CommitsPerRepo: 4})
	keys, by := projects(m)
	if len(keys) != 4 {
		t.Fatalf("projects %v", keys)
	}
	kept := append(slices.Clone(by[keys[0]]), by[keys[1]]...)
	dropped := kept[0] // left out by name, on the delegate
	cp := startOneAttemptControl(t)
	testenv.Start(t, cp, testenv.Options{Budget: unlimited})
	f := &pb.RepositoryFilter{IncludeProjects: []string{keys[0], keys[1]}, ExcludeNames: []string{dropped.Slug}}
	id, done := testenv.Run(t, cp, filteredTask(m, f), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	repos := map[string]bool{}
	secondaries := map[string]int{}
	var complete *pb.ListingComplete
	for _, batch := range cp.Task(id).Batches {
		for _, r := range batch {
			switch {
			case r.GetRepository() != nil:
				repos[r.GetRepository().GetUuid()] = true
			case r.GetPullRequest() != nil:
				secondaries[r.GetPullRequest().GetRepositoryUuid()]++
			case r.GetCommit() != nil:
				secondaries[r.GetCommit().GetRepositoryUuid()]++
			case r.GetListingComplete() != nil:
				complete = r.GetListingComplete()
			}
		}
	}
	if len(repos) != len(kept) {
		t.Fatalf("repositories sent %d, want the %d of projects %s and %s", len(repos), len(kept), keys[0], keys[1])
	}
	for _, r := range kept {
		switch {
		case !repos[r.UUID]:
			t.Errorf("repository %s of an included project not sent", r.Slug)
		case r.UUID == dropped.UUID && secondaries[r.UUID] > 0:
			t.Errorf("pull requests or commits of %s fetched although the filter leaves it out", r.Slug)
		case r.UUID != dropped.UUID && r.MainBranch != "" && secondaries[r.UUID] == 0:
			t.Errorf("nothing fetched for kept repository %s", r.Slug)
		}
	}
	if complete == nil || !slices.Equal(complete.GetListedWith().GetIncludeProjects(), []string{keys[0], keys[1]}) ||
		len(complete.GetListedWith().GetExcludeNames()) != 0 {
		t.Fatalf("listing complete %v: want listed_with the server part (projects only)", complete)
	}
	c := m.Counters()
	// One listing page (20 repositories fit in one of 100), then one pull
	// request page and one commit page per kept non-empty repository.
	want := 1
	for _, r := range kept {
		if r.UUID != dropped.UUID {
			want++
			if r.MainBranch != "" {
				want++
			}
		}
	}
	if c.Requests != want {
		t.Fatalf("requests %d, want %d (%v)", c.Requests, want, c.ByEndpoint)
	}
}

// BenchmarkFilteredSyncRequests prints the requests a first sync makes when
// the filter leaves out half the repositories (one of two projects):
// unfiltered, with the project excluded by Bitbucket (q=project.key ...),
// and with the same repositories left out on the delegate only (by name),
// which saves their pull requests and commits but not their listing pages.
func BenchmarkFilteredSyncRequests(b *testing.B) {
	m := startMockB(b, bitbucketmock.Config{Seed: 31, Repos: 1000, Projects: 2, PRsPerRepo: 20, CommitsPerRepo: 30})
	keys, by := projects(m)
	var names []string
	for _, r := range by[keys[1]] {
		names = append(names, r.Slug)
	}
	run := func(f *pb.RepositoryFilter) int {
		cp := startControlB(b)
		testenv.Start(b, cp, testenv.Options{Budget: unlimited})
		m.ResetCounters()
		t := testenv.SyncTask(m.URL, m.Workspace(), &pb.SyncLimits{MaxPullRequestsPerSync: 1 << 30, MaxCommitsPerSync: 1 << 30}, nil, time.Time{})
		t.Sync.Filter = f
		_, done := testenv.Run(b, cp, t, 5*time.Minute)
		if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
			b.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
		}
		return m.Counters().Requests
	}
	for b.Loop() {
		all := run(nil)
		server := run(&pb.RepositoryFilter{ExcludeProjects: []string{keys[1]}})
		client := run(&pb.RepositoryFilter{ExcludeNames: names})
		excluded := len(by[keys[1]])
		b.ReportMetric(float64(len(m.Repos())), "repositories")
		b.ReportMetric(float64(excluded), "excluded")
		b.ReportMetric(float64(all), "requests-unfiltered")
		b.ReportMetric(float64(server), "requests-server-filter")
		b.ReportMetric(float64(client), "requests-client-filter")
		b.ReportMetric(float64(all-server), "saved-server")
		b.ReportMetric(float64(all-server)/float64(all)*100, "saved-server-%")
		b.Logf("%d repositories, %d excluded by project: %d requests unfiltered, %d with the filter in q (%d saved, %.1f%%), %d with the filter on the delegate only",
			len(m.Repos()), excluded, all, server, all-server, float64(all-server)/float64(all)*100, client)
	}
}
