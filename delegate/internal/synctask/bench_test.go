package synctask_test

import (
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// unlimited lifts the request budget: the mock has no rate limit, and the
// default 1,000/h would turn a benchmark into an hour-long wait.
var unlimited = bitbucket.BudgetLimit{Requests: 1 << 30, Window: time.Hour}

// minimumRequests is the fewest requests any client needs for a first
// sync with the 50-per-repository snapshot: every listing page, one pull
// request page per repository (50 fit in one), one commit page per
// non-empty repository (50 fit in one of 100).
func minimumRequests(m *bitbucketmock.Running) int {
	n := len(m.Repos())
	return (n+99)/100 + n + nonEmpty(m)
}

// BenchmarkFirstSyncRequests reports requests made per first sync against
// the minimum possible (ratio 1.00 is optimal).
func BenchmarkFirstSyncRequests(b *testing.B) {
	m := startMockB(b, bitbucketmock.Config{Seed: 21, Repos: 1000, PRsPerRepo: 80, CommitsPerRepo: 120})
	limits := &pb.SyncLimits{MaxPullRequestsPerSync: 1 << 30, MaxCommitsPerSync: 1 << 30}
	for b.Loop() {
		cp := startControlB(b)
		testenv.Start(b, cp, testenv.Options{Budget: unlimited})
		m.ResetCounters()
		testenv.Run(b, cp, testenv.SyncTask(m.URL, m.Workspace(), limits, nil, time.Time{}), 5*time.Minute)
		got := m.Counters().Requests
		b.ReportMetric(float64(got), "requests/sync")
		b.ReportMetric(float64(minimumRequests(m)), "minimum/sync")
		b.ReportMetric(float64(got)/float64(minimumRequests(m)), "ratio")
	}
}

// BenchmarkIncrementalSyncRequests reports the requests of a sync after
// nothing changed, once every repository is backfilled: one listing page
// per 100 repositories and one "anything new?" pull request query per
// repository (Bitbucket has no cheaper way to learn that); commits are
// skipped because updated_on did not move.
func BenchmarkIncrementalSyncRequests(b *testing.B) {
	m := startMockB(b, bitbucketmock.Config{Seed: 22, Repos: 1000, PRsPerRepo: 20, CommitsPerRepo: 30})
	cp := startControlB(b)
	testenv.Start(b, cp, testenv.Options{Budget: unlimited})
	limits := &pb.SyncLimits{MaxPullRequestsPerSync: 1 << 30, MaxCommitsPerSync: 1 << 30}
	testenv.Run(b, cp, testenv.SyncTask(m.URL, m.Workspace(), limits, nil, time.Time{}), 5*time.Minute)
	n := len(m.Repos())
	for b.Loop() {
		m.ResetCounters()
		testenv.Run(b, cp, testenv.SyncTask(m.URL, m.Workspace(), limits, cp.Cursors(), time.Time{}), 5*time.Minute)
		got := m.Counters().Requests
		b.ReportMetric(float64(got), "requests/sync")
		b.ReportMetric(float64((n+99)/100+n), "minimum/sync")
		b.ReportMetric(float64(got)/float64((n+99)/100+n), "ratio")
	}
}

// BenchmarkRecordsPerSecond measures end-to-end throughput: mock Bitbucket
// (no latency) → delegate → fake control plane, over loopback sockets.
func BenchmarkRecordsPerSecond(b *testing.B) {
	m := startMockB(b, bitbucketmock.Config{Seed: 23, Repos: 2000, PRsPerRepo: 40, CommitsPerRepo: 40})
	limits := &pb.SyncLimits{MaxPullRequestsPerSync: 1 << 30, MaxCommitsPerSync: 1 << 30}
	for b.Loop() {
		cp := startControlB(b)
		testenv.Start(b, cp, testenv.Options{Workers: 8, Budget: unlimited})
		start := time.Now()
		id, _ := testenv.Run(b, cp, testenv.SyncTask(m.URL, m.Workspace(), limits, nil, time.Time{}), 10*time.Minute)
		took := time.Since(start)
		records := 0
		for _, batch := range cp.Task(id).Batches {
			records += len(batch)
		}
		b.ReportMetric(float64(records), "records/sync")
		b.ReportMetric(float64(records)/took.Seconds(), "records/s")
	}
}

func startMockB(b *testing.B, cfg bitbucketmock.Config) *bitbucketmock.Running {
	b.Helper()
	cfg.Tokens = []bitbucketmock.Token{{Name: "delegate", Value: testenv.BitbucketToken}}
	return bitbucketmock.Start(b, cfg)
}

// BenchmarkCodeOwnersRequestsPer1000 reports what owner suggestions cost:
// the requests a sync spends reading the CODEOWNERS files of 1,000
// repositories about to be registered, against the mock's mix of files
// (.bitbucket/CODEOWNERS, the root, docs/, none), with the cap lifted. A
// repository costs one request per location probed up to the one that
// has the file, three when it has none; the listing is not counted.
func BenchmarkCodeOwnersRequestsPer1000(b *testing.B) {
	m := startMockB(b, bitbucketmock.Config{Seed: 24, Repos: 1100, CommitsPerRepo: 2})
	var asked []string
	expected := 0
	for _, r := range m.Repos() {
		if r.MainBranch == "" || len(asked) == 1000 {
			continue
		}
		path, _, err := m.CodeOwners(r.Slug)
		if err != nil {
			b.Fatal(err)
		}
		asked = append(asked, r.UUID)
		expected += probesFor(path)
	}
	if len(asked) != 1000 {
		b.Fatalf("only %d non-empty repositories", len(asked))
	}
	for b.Loop() {
		cp := startControlB(b)
		testenv.Start(b, cp, testenv.Options{Budget: unlimited})
		m.ResetCounters()
		task := codeOwnersTask(m, asked, 1<<30)
		_, done := testenv.Run(b, cp, task, 5*time.Minute)
		src := m.Counters().ByEndpoint["src"]
		if src != expected || done.GetProgress().GetCodeOwnersRequests() != int64(src) {
			b.Fatalf("%d src requests (progress says %d), want %d", src, done.GetProgress().GetCodeOwnersRequests(), expected)
		}
		b.ReportMetric(float64(src), "requests/1000-repos")
		b.ReportMetric(float64(src)/1000, "requests/repo")
		b.ReportMetric(300*1000/float64(src), "repos/sync-at-default-cap")
	}
}
