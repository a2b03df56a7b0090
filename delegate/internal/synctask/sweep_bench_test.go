package synctask_test

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// BenchmarkRequestsPerDayToKeepFresh counts the Bitbucket requests of one
// simulated day keeping a 20,000-repository workspace fresh while 1 % of
// its repositories change (200 changes a day, spread over the day, half
// pushes and half new pull requests, which Bitbucket does not show in a
// repository's updated_on). Every sync is the real delegate code against
// the mock Bitbucket, counted by the mock; the plan of each scheduled sync
// comes from the real planner (shared/sweep.Decide) on a simulated clock,
// fed the facts the control plane keeps (confirmations and cursors, open
// pull requests, updated_on, the last listings), as it does at lease time.
//
//   - today: a sync every 3 h lists every repository and asks every
//     repository for pull requests (no plan). Such a sync costs the same
//     whatever changed, so two of the day's eight are run and their mean
//     is counted eight times (-sweep.full-day runs all eight);
//   - sweep, no webhook: a sync every 3 h with the default sweep settings
//     and the window without a webhook (6 h);
//   - sweep, webhook: the same with a working webhook (window 24 h); the
//     webhook's own deliveries cost no request (pull request events carry
//     the pull request; pushes carry their commits).
func BenchmarkRequestsPerDayToKeepFresh(b *testing.B) {
	for _, sc := range []struct {
		name    string
		planned bool
		webhook bool
	}{{"today-every-3h", false, false}, {"sweep-without-webhook", true, false}, {"sweep-with-webhook", true, true}} {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				runs := runsPerDay
				if !sc.planned && !*fullDay {
					runs = 2
				}
				perDay, oldest := simulateDay(b, sc.planned, sc.webhook, runs)
				b.ReportMetric(float64(perDay), "requests/day")
				b.ReportMetric(float64(perDay)/float64(runsPerDay), "requests/sync")
				b.ReportMetric(oldest.Hours(), "oldest-PR-confirmation-h")
			}
		})
	}
}

const (
	simRepos    = 20000
	simInterval = 3 * time.Hour
	runsPerDay  = int(24 * time.Hour / simInterval)
)

var fullDay = flag.Bool("sweep.full-day", false, "run every sync of the simulated day of the today-every-3h case")

// simulateDay runs a first sync, then runs of the day's scheduled syncs
// with changes in between, and returns the requests of the day (scaled
// from the runs made) and the age of the oldest pull request
// confirmation at the end.
func simulateDay(b *testing.B, planned, webhook bool, runs int) (int, time.Duration) {
	clock := &mockClock{now: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	m := startMockB(b, bitbucketmock.Config{Seed: 31, Repos: simRepos, PRsPerRepo: 2, CommitsPerRepo: 2, Clock: clock.Now})
	cp := fakecontrol.New(b, fakecontrol.Options{Token: testenv.DelegateToken, Account: testenv.Account, LeaseDuration: 10 * time.Minute})
	testenv.Start(b, cp, testenv.Options{Workers: 8, Budget: unlimited})
	var changeable []string
	for _, r := range m.Repos() {
		if r.MainBranch != "" && r.PullRequests > 0 {
			changeable = append(changeable, r.Slug)
		}
	}
	st := &simState{}
	st.sync(b, m, cp, planned, &sweep.Plan{AsOf: clock.Now(), Mode: sweep.Full, AllPullRequests: true})

	rng := rand.New(rand.NewPCG(31, 1))
	changesPerRun := simRepos / 100 / runsPerDay
	requests := 0
	for range runs {
		for i := range changesPerRun {
			clock.Advance(simInterval / time.Duration(changesPerRun+1))
			slug := changeable[rng.IntN(len(changeable))]
			var err error
			if i%2 == 0 {
				_, err = m.PushCommits(slug, 1)
			} else {
				_, err = m.OpenPR(slug, bitbucketmock.PRSpec{Title: "work in progress"})
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		clock.Advance(simInterval / time.Duration(changesPerRun+1))
		var plan *sweep.Plan
		if planned {
			p := sweep.Decide(sweep.DefaultSettings, st.facts(cp, clock.Now(), webhook))
			plan = &p
		}
		m.ResetCounters()
		st.sync(b, m, cp, planned, plan)
		requests += m.Counters().Requests
	}
	oldest := time.Duration(0)
	for _, c := range cp.Cursors() {
		if c.GetPullRequestsConfirmedAt() == nil {
			continue
		}
		oldest = max(oldest, clock.Now().Sub(c.GetPullRequestsConfirmedAt().AsTime()))
	}
	if !planned {
		oldest = simInterval // every sync confirms every repository
	}
	return requests * runsPerDay / runs, oldest
}

// simState is what the control plane keeps between syncs that the plan
// needs besides the records: the plan times of the last complete
// listings.
type simState struct {
	listedAsOf, lastFull time.Time
}

func (s *simState) sync(b *testing.B, m *bitbucketmock.Running, cp *fakecontrol.Server, planned bool, plan *sweep.Plan) {
	b.Helper()
	limits := &pb.SyncLimits{MaxPullRequestsPerSync: 1 << 30, MaxCommitsPerSync: 1 << 30}
	tk := testenv.SyncTask(m.URL, m.Workspace(), limits, cp.Cursors(), time.Time{})
	if planned {
		tk.Sync.Sweep = planToWire(plan)
	}
	id, done := testenv.Run(b, cp, tk, 10*time.Minute)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		b.Fatalf("sync: %v %s", done.GetOutcome(), done.GetError())
	}
	if plan != nil && kinds(testenv.SyncedSince(cp, id))["listing_complete"] == 1 {
		s.listedAsOf = plan.AsOf
		if plan.Mode == sweep.Full {
			s.lastFull = plan.AsOf
		}
	}
}

// facts are what the control plane's store answers for a plan.
func (s *simState) facts(cp *fakecontrol.Server, now time.Time, webhook bool) sweep.Facts {
	confirmed := map[string]time.Time{}
	for _, c := range cp.Cursors() {
		if t := c.GetPullRequestsConfirmedAt(); t != nil {
			confirmed[c.GetRepositoryUuid()] = t.AsTime()
		}
	}
	open := map[string]bool{}
	var repos []sweep.Repository
	records := cp.Records()
	for _, r := range records {
		if pr := r.GetPullRequest(); pr != nil && pr.GetState() == "OPEN" {
			open[pr.GetRepositoryUuid()] = true
		}
	}
	for _, r := range records {
		if repo := r.GetRepository(); repo != nil {
			repos = append(repos, sweep.Repository{UUID: repo.GetUuid(), ConfirmedAt: confirmed[repo.GetUuid()],
				OpenPullRequests: open[repo.GetUuid()], UpdatedOn: repo.GetUpdatedOn().AsTime()})
		}
	}
	return sweep.Facts{Now: now, Interval: simInterval, Webhook: webhook, PullRequests: true,
		LastFullListing: s.lastFull, ListedAsOf: s.listedAsOf, Repositories: repos}
}

func planToWire(p *sweep.Plan) *pb.SweepPlan {
	out := &pb.SweepPlan{Listing: pb.ListingMode_LISTING_MODE_FULL, AsOf: timestamppb.New(p.AsOf),
		AllPullRequests: p.AllPullRequests, PullRequestRepositories: p.PullRequests}
	if p.Mode == sweep.Watermark {
		out.Listing, out.Since = pb.ListingMode_LISTING_MODE_WATERMARK, timestamppb.New(p.Since)
	}
	return out
}
