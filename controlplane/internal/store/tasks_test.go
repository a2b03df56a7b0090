package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

func TestAcquireRespectsSelectorsAndAccounts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		g := newFixture(t, db, "globex")
		picky := f.conn
		picky.ID, picky.Name, picky.DelegateSelectors = ids.New("con"), "picky", []string{"eu", "prod"}
		if err := db.CreateConnector(f.ctx, picky); err != nil {
			t.Fatal(err)
		}
		test, err := db.QueueTestConnection(f.ctx, picky, t0.Add(-time.Hour)) // older than the sync
		if err != nil {
			t.Fatal(err)
		}
		// A delegate with only one of the selectors gets the sync, not the test.
		got := f.mustAcquire(t, t0, "eu")
		if got.ID != f.run.TaskID || got.Attempt != 1 || got.LeaseToken == "" || !got.LeaseExpiresAt.Equal(t0.Add(leaseFor)) {
			t.Fatalf("acquired %+v, want the sync task", got)
		}
		if _, ok := f.acquire(t, t0, "eu"); ok {
			t.Fatal("acquired a task whose selectors the delegate lacks")
		}
		got = f.mustAcquire(t, t0, "eu", "prod", "extra")
		if got.ID != test.ID || got.Type != tasks.TestConnection {
			t.Fatalf("acquired %+v, want the test task", got)
		}
		// globex's task is untouched by acme's delegates and vice versa.
		other := g.mustAcquire(t, t0)
		if other.ID != g.run.TaskID || other.AccountID != "globex" {
			t.Fatalf("globex acquired %+v", other)
		}
		if _, err := db.GetTask(f.ctx, "acme", other.ID); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("globex task visible to acme: %v", err)
		}
		_, err = db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: other.ID, LeaseToken: other.LeaseToken, Now: t0, LeaseFor: leaseFor})
		if !errors.Is(err, tasks.ErrLeaseLost) {
			t.Fatalf("renew of another account's task: %v", err)
		}
		run, err := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if err != nil || run.Status != tasks.RunRunning || !run.StartedAt.Equal(t0) || run.Delegate != "delegate-1" || run.Attempt != 1 {
			t.Fatalf("run after lease: %+v, %v", run, err)
		}
	})
}

func TestLeaseExpiryHandsCheckpointToNextAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		first := f.mustAcquire(t, t0)
		renewAt := t0.Add(30 * time.Second)
		res, err := db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken,
			Now: renewAt, LeaseFor: leaseFor, Checkpoint: []byte("page=7"),
			Progress: &tasks.Progress{Phase: "repositories", Requests: 7, RateLimited: 1, RepositoriesTotal: 700}})
		if err != nil || !res.ExpiresAt.Equal(renewAt.Add(leaseFor)) || res.CancelRequested {
			t.Fatalf("renew: %+v, %v", res, err)
		}
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken,
			Sequence: 1, Records: repoRecords(0, 3), Now: renewAt}); err != nil {
			t.Fatal(err)
		}
		// Not yet expired: nothing to take over.
		if exp, err := db.ExpireLeases(f.ctx, renewAt.Add(leaseFor-time.Second), 5); err != nil || len(exp) != 0 {
			t.Fatalf("expired early: %+v, %v", exp, err)
		}
		expiredAt := renewAt.Add(leaseFor)
		exp, err := db.ExpireLeases(f.ctx, expiredAt, 5)
		if err != nil || len(exp) != 1 || !exp[0].Requeued {
			t.Fatalf("expire: %+v, %v", exp, err)
		}
		second := f.mustAcquire(t, expiredAt)
		if second.ID != first.ID || second.Attempt != 2 || string(second.Checkpoint) != "page=7" || second.NextSequence() != 2 ||
			second.LeaseToken == first.LeaseToken {
			t.Fatalf("takeover: %+v", second)
		}
		// The lost delegate is fenced off everywhere.
		stale := []error{}
		_, err = db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Now: expiredAt, LeaseFor: leaseFor})
		stale = append(stale, err)
		_, err = db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Sequence: 2, Now: expiredAt})
		stale = append(stale, err)
		_, err = db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Outcome: tasks.Succeeded, Now: expiredAt})
		stale = append(stale, err)
		for i, err := range stale {
			if !errors.Is(err, tasks.ErrLeaseLost) {
				t.Errorf("stale call %d: %v, want LEASE_LOST", i, err)
			}
		}
		run, _ := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if run.Attempt != 2 || run.Status != tasks.RunRunning || !run.StartedAt.Equal(t0) || run.Progress.Requests != 7 || run.Progress.Repositories != 3 {
			t.Fatalf("run after takeover: %+v", run)
		}
	})
}

// register registers the fixture's delegate (id d1, as acquire uses) at
// now, returning what it reclaimed.
func (f *fixture) register(t testing.TB, now time.Time, maxAttempts int) []store.Expiry {
	t.Helper()
	d, reclaimed, err := f.db.RegisterDelegate(f.ctx, store.Delegate{ID: "d1", AccountID: f.acct, Name: "delegate-1",
		Version: "1", Concurrency: 1, RegisteredAt: now, LastSeenAt: now}, maxAttempts)
	if err != nil || d.ID != "d1" {
		t.Fatalf("register: %+v, %v", d, err)
	}
	return reclaimed
}

func TestRegisterAgainReclaimsLeases(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		if got := f.register(t, t0, 5); len(got) != 0 {
			t.Fatalf("first registration reclaimed %+v", got)
		}
		// Another delegate's lease is not touched by d1's registration.
		other, err := db.QueueTestConnection(f.ctx, f.conn, t0.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		first := f.mustAcquire(t, t0)
		otherLease, ok, err := db.AcquireTask(f.ctx, store.AcquireRequest{AccountID: "acme", DelegateID: "d2", Delegate: "delegate-2",
			Now: t0, LeaseFor: leaseFor})
		if err != nil || !ok || otherLease.ID != other.ID {
			t.Fatalf("d2 acquired %+v, %v, %v", otherLease, ok, err)
		}
		at := t0.Add(20 * time.Second)
		if _, err := db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken,
			Now: at, LeaseFor: leaseFor, Checkpoint: []byte("page=2")}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken,
			Sequence: 1, Records: repoRecords(0, 3), Now: at}); err != nil {
			t.Fatal(err)
		}
		// The process restarts well before the lease ends.
		restart := at.Add(5 * time.Second)
		reclaimed := f.register(t, restart, 5)
		if len(reclaimed) != 1 || reclaimed[0].Task.ID != first.ID || !reclaimed[0].Requeued {
			t.Fatalf("reclaimed %+v, want the sync task requeued", reclaimed)
		}
		second := f.mustAcquire(t, restart)
		if second.ID != first.ID || second.Attempt != 2 || string(second.Checkpoint) != "page=2" || second.NextSequence() != 2 ||
			second.LeaseToken == first.LeaseToken || !second.LeaseExpiresAt.Equal(restart.Add(leaseFor)) {
			t.Fatalf("resumed lease: %+v", second)
		}
		// The old process is fenced off everywhere.
		stale := []error{}
		_, err = db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Now: restart, LeaseFor: leaseFor})
		stale = append(stale, err)
		_, err = db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Sequence: 2,
			Records: repoRecords(3, 4), Now: restart})
		stale = append(stale, err)
		_, err = db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Outcome: tasks.Succeeded, Now: restart})
		stale = append(stale, err)
		_, err = db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Outcome: tasks.Released, Now: restart})
		stale = append(stale, err)
		for i, err := range stale {
			if !errors.Is(err, tasks.ErrLeaseLost) {
				t.Errorf("call %d with the old token: %v, want LEASE_LOST", i, err)
			}
		}
		if _, err := db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: second.ID, LeaseToken: second.LeaseToken, Now: restart, LeaseFor: leaseFor}); err != nil {
			t.Fatalf("renew with the new token: %v", err)
		}
		still, err := db.GetTask(f.ctx, "acme", other.ID)
		if err != nil || still.State != tasks.Leased || still.LeaseToken != otherLease.LeaseToken {
			t.Fatalf("d2's lease after d1 registered again: %+v, %v", still, err)
		}
		run, _ := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if run.Attempt != 2 || run.Status != tasks.RunRunning || run.Progress.Repositories != 3 {
			t.Fatalf("run after reclaim: %+v", run)
		}
	})
}

func TestRegisterAgainGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		now := t0
		for attempt := 1; attempt <= 2; attempt++ {
			if task := f.mustAcquire(t, now); task.Attempt != attempt {
				t.Fatalf("attempt %d, want %d", task.Attempt, attempt)
			}
			now = now.Add(time.Second)
			reclaimed := f.register(t, now, 2)
			if len(reclaimed) != 1 || reclaimed[0].Requeued != (attempt < 2) {
				t.Fatalf("attempt %d reclaimed %+v", attempt, reclaimed)
			}
		}
		run, err := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if err != nil || run.Status != tasks.RunFailed || !strings.Contains(run.Error, "stopped during the task 2 times") {
			t.Fatalf("run: %+v, %v", run, err)
		}
		if _, ok := f.acquire(t, now); ok {
			t.Fatal("a task that gave up was leased again")
		}
	})
}

func TestLeaseExpiryGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		now := t0
		for attempt := 1; attempt <= 3; attempt++ {
			task := f.mustAcquire(t, now)
			if task.Attempt != attempt {
				t.Fatalf("attempt %d, want %d", task.Attempt, attempt)
			}
			now = now.Add(leaseFor)
			exp, err := db.ExpireLeases(f.ctx, now, 3)
			if err != nil || len(exp) != 1 {
				t.Fatalf("expire: %+v, %v", exp, err)
			}
			if attempt < 3 != exp[0].Requeued {
				t.Fatalf("attempt %d requeued=%v", attempt, exp[0].Requeued)
			}
		}
		if _, ok := f.acquire(t, now); ok {
			t.Fatal("a task that exhausted its attempts was handed out")
		}
		run, _ := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if run.Status != tasks.RunFailed || run.Error == "" || run.FinishedAt.IsZero() {
			t.Fatalf("run: %+v", run)
		}
	})
}

func TestCompleteIsIdempotentAndReleaseRequeues(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		first := f.mustAcquire(t, t0)
		rel := store.CompleteRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken, Outcome: tasks.Released,
			Checkpoint: []byte("cp-1"), Now: t0.Add(time.Second)}
		for range 2 {
			if _, err := db.CompleteTask(f.ctx, rel); err != nil {
				t.Fatalf("release: %v", err)
			}
		}
		if run, _ := db.GetSyncRun(f.ctx, "acme", f.run.ID); run.Status != tasks.RunQueued {
			t.Fatalf("run after release: %s", run.Status)
		}
		second := f.mustAcquire(t, t0.Add(2*time.Second))
		if second.Attempt != 2 || string(second.Checkpoint) != "cp-1" {
			t.Fatalf("after release: %+v", second)
		}
		done := store.CompleteRequest{AccountID: "acme", TaskID: second.ID, LeaseToken: second.LeaseToken, Outcome: tasks.Partial,
			Error: "repository x: 403", Progress: &tasks.Progress{Requests: 12, RateLimited: 2}, Now: t0.Add(time.Minute)}
		res, err := db.CompleteTask(f.ctx, done)
		if err != nil || res.Repeated || res.Run == nil || res.Run.Status != tasks.RunPartial || res.Run.Progress.RateLimited != 2 {
			t.Fatalf("complete: %+v, %v", res, err)
		}
		again, err := db.CompleteTask(f.ctx, done)
		if err != nil || !again.Repeated {
			t.Fatalf("repeated complete: %+v, %v", again, err)
		}
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: second.ID, LeaseToken: first.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0}); !errors.Is(err, tasks.ErrLeaseLost) {
			t.Fatalf("complete with the first attempt's token: %v", err)
		}
		events, _, _ := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{})
		if len(events) != 2 || events[0].Type != store.EventSync || events[0].Error != "repository x: 403" || events[0].RunID != f.run.ID {
			t.Fatalf("events: %+v", events)
		}
		// A new sync may be queued now that the run ended.
		run, joined, err := db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: t0.Add(time.Hour)})
		if err != nil || joined || run.ID == f.run.ID {
			t.Fatalf("sync after completion: %+v joined=%v %v", run, joined, err)
		}
	})
}

func TestReleaseOfATaskAskedToStopCancelsIt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		if _, err := db.SuspendIntegration(f.ctx, "acme", f.integ.ID, "", t0); err != nil {
			t.Fatal(err)
		}
		rel := store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken, Outcome: tasks.Released,
			Checkpoint: []byte("cp-1"), Now: t0.Add(time.Second)}
		res, err := db.CompleteTask(f.ctx, rel)
		if err != nil || res.Run == nil || res.Run.Status != tasks.RunCancelled || res.Task.State != tasks.Done {
			t.Fatalf("release after suspend: %+v, %v; want the run cancelled", res, err)
		}
		if res.Run.Error != "cancelled: the integration was suspended" {
			t.Fatalf("run error %q, want the suspend named", res.Run.Error)
		}
		if again, err := db.CompleteTask(f.ctx, rel); err != nil || !again.Repeated {
			t.Fatalf("repeated release: %+v, %v", again, err)
		}
		if _, ok := f.acquire(t, t0.Add(time.Minute)); ok {
			t.Fatal("a task asked to stop was handed out again")
		}
	})
}

func TestReturnedLeaseDoesNotCountAsAnAttempt(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		undelivered := f.mustAcquire(t, t0)
		if err := db.ReturnLease(f.ctx, "acme", undelivered.ID, undelivered.LeaseToken); err != nil {
			t.Fatalf("return: %v", err)
		}
		if err := db.ReturnLease(f.ctx, "acme", undelivered.ID, undelivered.LeaseToken); !errors.Is(err, tasks.ErrLeaseLost) {
			t.Fatalf("second return: %v, want lease lost", err)
		}
		run, err := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if err != nil || run.Status != tasks.RunQueued || run.Attempt != 0 || !run.StartedAt.IsZero() || run.Delegate != "" {
			t.Fatalf("run after return: %+v, %v", run, err)
		}
		if _, err := db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: undelivered.ID, LeaseToken: undelivered.LeaseToken,
			Now: t0, LeaseFor: leaseFor}); !errors.Is(err, tasks.ErrLeaseLost) {
			t.Fatalf("renew with the returned lease: %v", err)
		}
		got := f.mustAcquire(t, t0.Add(time.Second))
		if got.ID != undelivered.ID || got.Attempt != 1 || got.LeaseToken == undelivered.LeaseToken {
			t.Fatalf("acquired after return: %+v", got)
		}
	})
}

func TestTestConnectionResult(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		test, err := db.QueueTestConnection(f.ctx, f.conn, t0.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		task := f.mustAcquire(t, t0)
		if task.ID != test.ID {
			t.Fatalf("acquired %s, want the older test %s", task.ID, test.ID)
		}
		verdict := &tasks.TestResult{TokenValid: true, WorkspaceReachable: true, MissingScopes: []string{"Pull requests: Read"}, Message: "missing a scope"}
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Result: verdict, Now: t0}); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetTask(f.ctx, "acme", test.ID)
		if err != nil || got.State != tasks.Done {
			t.Fatalf("test task: %+v, %v", got, err)
		}
		if diff := cmp.Diff(verdict, got.Result); diff != "" {
			t.Errorf("verdict (-want +got):\n%s", diff)
		}
	})
}

func TestConcurrentAcquireNeverLeasesATaskTwice(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		const tests = 30
		for range tests {
			if _, err := db.QueueTestConnection(f.ctx, f.conn, t0); err != nil {
				t.Fatal(err)
			}
		}
		const workers = 6
		got := make(chan string, tests+1)
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				for {
					task, ok, err := db.AcquireTask(f.ctx, store.AcquireRequest{AccountID: "acme", DelegateID: fmt.Sprint("d", w), Now: t0, LeaseFor: leaseFor})
					if err != nil || !ok {
						errs <- err
						return
					}
					got <- task.ID
				}
			}()
		}
		for range workers {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		close(got)
		seen := map[string]bool{}
		for id := range got {
			if seen[id] {
				t.Fatalf("task %s leased twice", id)
			}
			seen[id] = true
		}
		if len(seen) != tests+1 { // the tests and the first sync
			t.Fatalf("leased %d tasks, want %d", len(seen), tests+1)
		}
	})
}

func TestUnclaimedConnectionTestFails(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		test, err := db.QueueTestConnection(f.ctx, f.conn, t0)
		if err != nil {
			t.Fatal(err)
		}
		if exp, err := db.ExpireLeases(f.ctx, t0.Add(tasks.TestConnectionTTL-time.Second), 5); err != nil || len(exp) != 0 {
			t.Fatalf("expired early: %+v, %v", exp, err)
		}
		exp, err := db.ExpireLeases(f.ctx, t0.Add(tasks.TestConnectionTTL), 5)
		if err != nil || len(exp) != 1 || exp[0].Task.ID != test.ID || exp[0].Requeued {
			t.Fatalf("expire: %+v, %v", exp, err)
		}
		got, _ := db.GetTask(f.ctx, "acme", test.ID)
		if got.State != tasks.Done || got.Outcome != tasks.Failed || !strings.Contains(got.Error, "no delegate") {
			t.Fatalf("test task: %+v", got)
		}
	})
}
