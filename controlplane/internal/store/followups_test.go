package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// TestEveryRunEndRecordsItsFollowUp ends a run in every way one ends and
// finds its follow-up written with it.
func TestEveryRunEndRecordsItsFollowUp(t *testing.T) {
	t.Parallel()
	end := map[string]func(t *testing.T, f *fixture) (time.Time, tasks.RunStatus){
		"completed": func(t *testing.T, f *fixture) (time.Time, tasks.RunStatus) {
			task := f.mustAcquire(t, t0)
			if _, err := f.db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
				Outcome: tasks.Succeeded, Now: t0}); err != nil {
				t.Fatal(err)
			}
			return t0, tasks.RunSuccess
		},
		"lease expired for the last time": func(t *testing.T, f *fixture) (time.Time, tasks.RunStatus) {
			f.mustAcquire(t, t0)
			if _, err := f.db.ExpireLeases(f.ctx, t0.Add(leaseFor), 1); err != nil {
				t.Fatal(err)
			}
			return t0.Add(leaseFor), tasks.RunFailed
		},
		"reclaimed for the last time": func(t *testing.T, f *fixture) (time.Time, tasks.RunStatus) {
			f.mustAcquire(t, t0)
			f.register(t, t0, 1)
			return t0, tasks.RunFailed
		},
		"cancelled by a suspend": func(t *testing.T, f *fixture) (time.Time, tasks.RunStatus) {
			if _, err := f.db.SuspendIntegration(f.ctx, f.acct, f.integ.ID, "test", t0); err != nil {
				t.Fatal(err)
			}
			return t0, tasks.RunCancelled
		},
	}
	for name, ending := range end {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, "acme")
				at, status := ending(t, f)
				got, ok, err := db.ClaimFollowUp(f.ctx, "", at, time.Minute)
				if err != nil || !ok || got.RunID != f.run.ID || got.RunStatus != status || got.IntegrationID != f.integ.ID || got.Attempts != 1 {
					t.Fatalf("follow-up: %+v, %v, %v", got, ok, err)
				}
			})
		})
	}
}

func TestFollowUpClaimsAndRetries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0}); err != nil {
			t.Fatal(err)
		}
		// Replicas claiming at once: exactly one gets it.
		var wg sync.WaitGroup
		var won atomic.Int32
		var first store.FollowUp
		for range 4 {
			wg.Go(func() {
				got, ok, err := db.ClaimFollowUp(f.ctx, "", t0, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
					first = got
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || first.RunID != f.run.ID {
			t.Fatalf("%d claims won, follow-up %+v", won.Load(), first)
		}
		if _, ok, _ := db.ClaimFollowUp(f.ctx, f.run.ID, t0.Add(time.Minute-time.Second), time.Minute); ok {
			t.Fatal("claimed a follow-up another holds")
		}
		// The holder died: the claim runs out and another takes it over.
		again, ok, err := db.ClaimFollowUp(f.ctx, f.run.ID, t0.Add(time.Minute), time.Minute)
		if err != nil || !ok || again.ID != first.ID || again.Attempts != 2 {
			t.Fatalf("takeover: %+v, %v, %v", again, ok, err)
		}
		failedAt := t0.Add(90 * time.Second)
		retryAt := failedAt.Add(20 * time.Second)
		if err := db.FailFollowUp(f.ctx, again, retryAt, store.Event{Time: failedAt, Actor: "control plane", Message: "retrying", Error: "db down"}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := db.ClaimFollowUp(f.ctx, "", retryAt.Add(-time.Second), time.Minute); ok {
			t.Fatal("claimed a failed follow-up before its retry time")
		}
		third, ok, err := db.ClaimFollowUp(f.ctx, "", retryAt, time.Minute)
		if err != nil || !ok || third.Attempts != 3 || third.LastError != "db down" {
			t.Fatalf("retry: %+v, %v, %v", third, ok, err)
		}
		events, _, err := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{})
		if err != nil || events[0].Type != store.EventFollowUpFailed || events[0].RunID != f.run.ID || events[0].Error != "db down" {
			t.Fatalf("events: %+v, %v", events, err)
		}
		if err := db.FinishFollowUp(f.ctx, third.ID); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := db.ClaimFollowUp(f.ctx, "", t0.Add(24*time.Hour), time.Minute); ok {
			t.Fatalf("a finished follow-up came back: %+v", got)
		}
		// Given up: deleted, with its event.
		next, _, err := db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		task = f.mustAcquire(t, t0)
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Failed, Now: t0}); err != nil {
			t.Fatal(err)
		}
		last, ok, err := db.ClaimFollowUp(f.ctx, next.ID, t0, time.Minute)
		if err != nil || !ok {
			t.Fatalf("claim: %v, %v", ok, err)
		}
		if err := db.FailFollowUp(f.ctx, last, time.Time{}, store.Event{Time: t0, Message: "given up", Error: "db down"}); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := db.ClaimFollowUp(f.ctx, "", t0.Add(24*time.Hour), time.Minute); ok {
			t.Fatalf("a follow-up given up came back: %+v", got)
		}
	})
}
