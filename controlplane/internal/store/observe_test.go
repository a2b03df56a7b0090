package store_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func TestCountActiveTasksLeavesFinishedOut(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		newFixture(t, db, "globex")
		count := func() []store.TaskCount {
			t.Helper()
			c, err := db.CountActiveTasks(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if diff := cmp.Diff([]store.TaskCount{{Type: tasks.Sync, State: tasks.Queued, Count: 2}}, count()); diff != "" {
			t.Fatalf("two accounts' first syncs queued (-want +got):\n%s", diff)
		}
		task := f.mustAcquire(t, t0)
		got := count()
		want := []store.TaskCount{{Type: tasks.Sync, State: tasks.Leased, Count: 1}, {Type: tasks.Sync, State: tasks.Queued, Count: 1}}
		if diff := cmp.Diff(want, got, sortCounts); diff != "" {
			t.Fatalf("one leased (-want +got):\n%s", diff)
		}
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]store.TaskCount{{Type: tasks.Sync, State: tasks.Queued, Count: 1}}, count()); diff != "" {
			t.Fatalf("the finished task is not counted (-want +got):\n%s", diff)
		}
	})
}

var sortCounts = cmp.Transformer("sort", func(in []store.TaskCount) map[string]int64 {
	out := map[string]int64{}
	for _, c := range in {
		out[string(c.Type)+"/"+string(c.State)] = c.Count
	}
	return out
})

func TestDelegatesSeenByPollsAndRenewals(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		for _, id := range []string{"d1", "d2"} {
			if _, _, err := db.RegisterDelegate(f.ctx, store.Delegate{ID: id, AccountID: f.acct, Name: "delegate-" + id, Concurrency: 1,
				RegisteredAt: t0, LastSeenAt: t0}, 5); err != nil {
				t.Fatal(err)
			}
		}
		seen := func(since time.Time) int64 {
			t.Helper()
			n, err := db.DelegatesSeenSince(f.ctx, since)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := seen(t0); n != 2 {
			t.Fatalf("seen since registering: %d, want 2", n)
		}
		later := t0.Add(5 * time.Minute)
		if n := seen(later.Add(-time.Minute)); n != 0 {
			t.Fatalf("seen in the last minute before any call: %d, want 0", n)
		}
		// d1 polls and takes the task; d2 is silent.
		if err := db.DelegateSeen(f.ctx, f.acct, "d1", later); err != nil {
			t.Fatal(err)
		}
		task := f.mustAcquire(t, later)
		if n := seen(later.Add(-time.Minute)); n != 1 {
			t.Fatalf("after d1 polled: %d, want 1", n)
		}
		// Busy, d1 only renews: that keeps it seen.
		renewed := later.Add(5 * time.Minute)
		if err := db.TaskDelegateSeen(f.ctx, f.acct, task.ID, renewed); err != nil {
			t.Fatal(err)
		}
		if n := seen(renewed.Add(-time.Second)); n != 1 {
			t.Fatalf("after d1 renewed: %d, want 1", n)
		}
		// Another account's task id does not touch the delegate.
		if err := db.TaskDelegateSeen(f.ctx, "globex", task.ID, renewed.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n := seen(renewed.Add(time.Minute)); n != 0 {
			t.Fatalf("touched through another account: %d seen, want 0", n)
		}
	})
}

// The progress a batch carries is stored by the statement that counts the
// batch's records: it costs no extra round trip.
func TestBatchProgressCostsNoStatement(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	db := storetest.SQLite(t, store.CountStatements(&n))
	f := newFixture(t, db, "acme")
	task := f.mustAcquire(t, t0)
	apply := func(seq int64, p *tasks.Progress) int64 {
		t.Helper()
		before := n.Load()
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken, Sequence: seq,
			Records: []record.Record{{Repository: repo(int(seq))}}, Progress: p, Now: t0}); err != nil {
			t.Fatal(err)
		}
		return n.Load() - before
	}
	without := apply(1, nil)
	with := apply(2, &tasks.Progress{Phase: "repositories", Requests: 9, RateLimited: 2})
	if with != without {
		t.Errorf("a batch with progress took %d statements, without %d", with, without)
	}
	run, err := db.GetSyncRun(f.ctx, f.acct, task.RunID)
	if err != nil || run.Progress.Requests != 9 || run.Progress.RateLimited != 2 || run.Progress.Repositories != 2 {
		t.Fatalf("run after the batches: %+v, %v", run.Progress, err)
	}
}
