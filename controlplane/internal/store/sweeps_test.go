package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// A sync's plan is decided once, from the store's facts, and kept for
// every attempt; a complete watermark listing moves the watermark and
// deletes nothing, a complete full listing also records itself and marks
// what it did not list deleted; freshness counts confirmations.
func TestSweepPlansListingsAndFreshness(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		run := func(now time.Time, mode sweep.Mode, records []record.Record) store.SweepFacts {
			t.Helper()
			task := f.mustAcquire(t, now)
			var facts store.SweepFacts
			want := sweep.Plan{AsOf: now, Mode: mode, PullRequests: []string{repoUUID(1)}}
			plan, err := db.PlanSync(f.ctx, "acme", task.ID, task.LeaseToken, func(sf store.SweepFacts) sweep.Plan { facts = sf; return want })
			if err != nil || !cmp.Equal(plan, want) {
				t.Fatalf("plan %+v, %v; want %+v", plan, err, want)
			}
			again, err := db.PlanSync(f.ctx, "acme", task.ID, task.LeaseToken, func(store.SweepFacts) sweep.Plan {
				t.Fatal("a plan was decided twice for one task")
				return sweep.Plan{}
			})
			if err != nil || !cmp.Equal(again, want) {
				t.Fatalf("stored plan %+v, %v; want %+v", again, err, want)
			}
			if _, err := db.PlanSync(f.ctx, "acme", task.ID, "stale", nil); !errors.Is(err, tasks.ErrLeaseLost) {
				t.Fatalf("a stale lease token planned: %v", err)
			}
			if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: 1, Records: records, Now: now}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
				Outcome: tasks.Succeeded, Now: now}); err != nil {
				t.Fatal(err)
			}
			return facts
		}
		done := record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: 3}}
		first := append(repoRecords(0, 3),
			record.Record{PullRequest: &record.PullRequest{RepositoryUUID: repoUUID(0), ID: 1, Title: "open", State: "OPEN", UpdatedOn: t0}},
			record.Record{Cursor: &record.Cursor{RepositoryUUID: repoUUID(0), PullRequestsConfirmedAt: t0, PullRequestsCheckedAtUpdatedOn: repo(0).UpdatedOn}},
			record.Record{Cursor: &record.Cursor{RepositoryUUID: repoUUID(1), PullRequestsConfirmedAt: t0.Add(-time.Hour)}},
			done)
		facts := run(t0, sweep.Watermark, first)
		if facts.Trigger != tasks.Manual || len(facts.Repositories) != 0 || !facts.ListedAsOf.IsZero() {
			t.Fatalf("facts of the first sync: %+v", facts)
		}
		fr, err := db.Freshness(f.ctx, f.integ.ID, t0.Add(-30*time.Minute))
		want := store.Freshness{Repositories: 3, Overdue: 2, ListedAsOf: t0}
		if err != nil || !cmp.Equal(fr, want) {
			t.Fatalf("freshness %+v, %v; want %+v (one never confirmed, one before the cutoff)", fr, err, want)
		}
		cursors, err := db.ListCursors(f.ctx, f.integ.ID)
		if err != nil || len(cursors) != 2 || !cursors[0].PullRequestsConfirmedAt.Equal(t0) || !cursors[0].PullRequestsCheckedAtUpdatedOn.Equal(repo(0).UpdatedOn) {
			t.Fatalf("cursors %+v, %v", cursors, err)
		}

		// A full listing of repositories 0 and 1 only.
		if _, _, err := db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.ID, Trigger: tasks.Scheduled, Now: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(2 * time.Hour)
		facts = run(later, sweep.Full, append(repoRecords(0, 2), done))
		wantFacts := store.SweepFacts{Trigger: tasks.Scheduled, ListedAsOf: t0, Repositories: []sweep.Repository{
			{UUID: repoUUID(0), ConfirmedAt: t0, OpenPullRequests: true, UpdatedOn: repo(0).UpdatedOn},
			{UUID: repoUUID(1), ConfirmedAt: t0.Add(-time.Hour), UpdatedOn: repo(1).UpdatedOn},
			{UUID: repoUUID(2), UpdatedOn: repo(2).UpdatedOn},
		}}
		if diff := cmp.Diff(wantFacts, facts); diff != "" {
			t.Fatalf("facts of the second sync (-want +got):\n%s", diff)
		}
		fr, err = db.Freshness(f.ctx, f.integ.ID, t0.Add(-30*time.Minute))
		want = store.Freshness{Repositories: 2, OldestConfirmed: t0.Add(-time.Hour), Overdue: 1, ListedAsOf: later, LastFullListing: later}
		if err != nil || !cmp.Equal(fr, want) {
			t.Fatalf("freshness after the full listing %+v, %v; want %+v", fr, err, want)
		}
	})
}
