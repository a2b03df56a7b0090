package schedule_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/schedule"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

type wakes struct {
	mu       sync.Mutex
	accounts []string
}

func (w *wakes) queued(a string) { w.mu.Lock(); w.accounts = append(w.accounts, a); w.mu.Unlock() }

func setup(t *testing.T, db *store.DB, freq integration.Frequency) integration.Integration {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	c := integration.Connector{ID: "con_1", AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme", Username: "x-token-auth",
		TokenRef: "env:T", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: t0}
	if err := db.CreateConnector(ctx, c); err != nil {
		t.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: "main", Frequency: freq}, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	in.ID = "int_1"
	if _, err := db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Now: t0}); err != nil {
		t.Fatal(err)
	}
	return in
}

// finishActive completes the integration's active run, as a delegate would.
func finishActive(t *testing.T, db *store.DB, now time.Time) {
	t.Helper()
	task, ok, err := db.AcquireTask(context.Background(), store.AcquireRequest{AccountID: "acme", DelegateID: "d", Now: now, LeaseFor: time.Minute})
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	if _, err := db.CompleteTask(context.Background(), store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Succeeded, Now: now}); err != nil {
		t.Fatal(err)
	}
}

func TestSchedulerQueuesEveryFrequencyAndSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
	db, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	setup(t, db, integration.EveryHour)
	finishActive(t, db, t0.Add(time.Minute))
	clk, w := clock.NewFake(t0.Add(30*time.Minute)), &wakes{}
	s := schedule.New(db, clk, zerolog.Nop(), w.queued)
	tick := func() int {
		t.Helper()
		n, err := s.Tick(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tick(); n != 0 {
		t.Fatalf("queued %d before the hour", n)
	}
	clk.Set(t0.Add(time.Hour))
	if n := tick(); n != 1 || len(w.accounts) != 1 {
		t.Fatalf("queued %d at the hour (wakes %v)", n, w.accounts)
	}
	if n := tick(); n != 0 {
		t.Fatalf("queued %d twice for one due time", n)
	}
	// The run is still active an hour later: the scheduled sync joins it.
	clk.Set(t0.Add(2 * time.Hour))
	if n := tick(); n != 0 {
		t.Fatalf("queued %d while a run is active", n)
	}
	finishActive(t, db, clk.Now())

	// Restart: a new store and scheduler on the same file, after downtime
	// spanning several periods, queue exactly one sync.
	db.Close()
	db, err = store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk.Set(t0.Add(7 * time.Hour))
	s = schedule.New(db, clk, zerolog.Nop(), w.queued)
	if n := tick(); n != 1 {
		t.Fatalf("after restart queued %d, want 1", n)
	}
	in, err := db.GetIntegration(t.Context(), "acme", "int_1")
	if err != nil || !in.NextSyncAt.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("next sync at %v, want %v (%v)", in.NextSyncAt, clk.Now().Add(time.Hour), err)
	}
	runs, _, _ := db.ListSyncRuns(t.Context(), "acme", "int_1", store.Page{})
	if len(runs) != 3 || runs[0].Trigger != tasks.Scheduled || runs[2].Trigger != tasks.Manual {
		t.Fatalf("runs: %+v", runs)
	}
}

func TestSuspendedIntegrationsAreNotScheduled(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	setup(t, db, integration.Every30Minutes)
	if _, err := db.SuspendIntegration(t.Context(), "acme", "int_1", "test", t0); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0.Add(24 * time.Hour))
	s := schedule.New(db, clk, zerolog.Nop(), func(string) {})
	if n, err := s.Tick(t.Context()); err != nil || n != 0 {
		t.Fatalf("queued %d, %v", n, err)
	}
}

// Run ticks on the injected clock: at once, then every Interval, with no
// sleeping in between.
func TestRunTicksOnTheClock(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	setup(t, db, integration.EveryHour)
	finishActive(t, db, t0.Add(time.Minute))
	clk := clock.NewFake(t0.Add(30 * time.Minute))
	queued := make(chan string, 4)
	s := schedule.New(db, clk, zerolog.Nop(), func(a string) { queued <- a })
	s.Interval = 10 * time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	wait, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := clk.WaitForWaiters(wait, 1); err != nil {
		t.Fatal("Run is not waiting on the clock:", err)
	}
	select {
	case a := <-queued:
		t.Fatalf("queued for %s before the hour", a)
	default:
	}
	clk.Advance(30 * time.Minute) // the hour: the next tick finds the sync due
	select {
	case a := <-queued:
		if a != "acme" {
			t.Fatalf("queued for %s", a)
		}
	case <-wait.Done():
		t.Fatal("Run did not queue the due sync after the clock reached the hour")
	}
}
