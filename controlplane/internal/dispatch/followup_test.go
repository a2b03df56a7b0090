package dispatch_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// observer hands every call to the test, which answers it.
type observer struct {
	calls   chan tasks.SyncRun
	answers chan error
}

func newObserver() *observer {
	return &observer{calls: make(chan tasks.SyncRun), answers: make(chan error)}
}

func (o *observer) SyncFinished(_ context.Context, run tasks.SyncRun) error {
	o.calls <- run
	return <-o.answers
}

// next waits for the observer's next call.
func (o *observer) next(t *testing.T) tasks.SyncRun {
	t.Helper()
	select {
	case run := <-o.calls:
		return run
	case <-time.After(10 * time.Second):
		t.Fatal("the observer was not called")
		return tasks.SyncRun{}
	}
}

// leasedSync creates an account with an integration whose first sync is
// leased, and returns the lease.
func leasedSync(t *testing.T, db *store.DB) tasks.Task {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: t0}, []auth.Flag{auth.FlagAutoDiscovery}); err != nil {
		t.Fatal(err)
	}
	conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: t0}
	if err := db.CreateConnector(ctx, conn); err != nil {
		t.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: "main"}, conn, t0)
	if err != nil {
		t.Fatal(err)
	}
	in.ID = ids.New("int")
	if _, err := db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Actor: "test", Now: t0}); err != nil {
		t.Fatal(err)
	}
	task, ok, err := db.AcquireTask(ctx, store.AcquireRequest{AccountID: "acme", DelegateID: "d1", Delegate: "delegate-1", Now: t0, LeaseFor: time.Minute})
	if err != nil || !ok {
		t.Fatalf("acquire: %v, %v", ok, err)
	}
	return task
}

// TestFollowUpAfterRestartIsRetried ends a run in the store alone, as a
// control plane killed right after the run's transaction committed would
// leave it; a new service carries out the follow-up at start, and retries
// it with backoff after a failure, which the integration's events show.
func TestFollowUpAfterRestartIsRetried(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		task := leasedSync(t, db)
		if _, err := db.CompleteTask(ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0}); err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(t0.Add(time.Minute))
		obs := newObserver()
		svc := dispatch.New(db, dispatch.DefaultConfig, clk, zerolog.Nop(), obs)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { svc.RunFollowUps(runCtx); close(done) }()

		run := obs.next(t)
		if run.ID != task.RunID || run.Status != tasks.RunSuccess {
			t.Fatalf("observer got run %+v", run)
		}
		obs.answers <- errors.New("database unavailable")
		var failed store.Event
		for deadline := time.Now().Add(10 * time.Second); failed.ID == ""; {
			events, _, err := db.ListEvents(ctx, "acme", task.IntegrationID, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				if e.Type == store.EventFollowUpFailed {
					failed = e
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("no FOLLOW_UP_FAILED event")
			}
			time.Sleep(5 * time.Millisecond) // the failure is recorded by the service's goroutine
		}
		if failed.RunID != task.RunID || failed.Error != "database unavailable" || !strings.Contains(failed.Message, "(attempt 1); retrying at") {
			t.Errorf("event: %+v", failed)
		}
		// The next sweep is past the backoff of a first retry (at most 5 s).
		clk.Advance(dispatch.DefaultConfig.SweepInterval)
		if again := obs.next(t); again.ID != task.RunID {
			t.Fatalf("retry got run %+v", again)
		}
		obs.answers <- nil
		stop()
		<-done
		if f, ok, err := db.ClaimFollowUp(ctx, "", t0.Add(24*time.Hour), time.Minute); ok || err != nil {
			t.Fatalf("follow-up left after it was done: %+v, %v", f, err)
		}
	})
}

// TestCompleteCarriesOutTheFollowUp: the replica that ends a run carries
// out its follow-up before the completion returns, after the hook that
// crash tests use to stop in between.
func TestCompleteCarriesOutTheFollowUp(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		task := leasedSync(t, db)
		obs := newObserver()
		svc := dispatch.New(db, dispatch.DefaultConfig, clock.NewFake(t0), zerolog.Nop(), obs)
		var hooked []string
		svc.BeforeFollowUp = func(run tasks.SyncRun) { hooked = append(hooked, run.ID) }
		completed := make(chan error, 1)
		go func() {
			_, err := svc.Complete(ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken, Outcome: tasks.Succeeded})
			completed <- err
		}()
		if run := obs.next(t); run.ID != task.RunID {
			t.Fatalf("observer got run %+v", run)
		}
		select {
		case err := <-completed:
			t.Fatalf("completion returned before its follow-up: %v", err)
		default:
		}
		obs.answers <- nil
		if err := <-completed; err != nil {
			t.Fatal(err)
		}
		if len(hooked) != 1 || hooked[0] != task.RunID {
			t.Errorf("hook saw %v", hooked)
		}
		if f, ok, err := db.ClaimFollowUp(ctx, "", t0.Add(24*time.Hour), time.Minute); ok || err != nil {
			t.Fatalf("follow-up left after it was done: %+v, %v", f, err)
		}
	})
}
