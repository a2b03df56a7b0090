package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// listening is a Listener's output, read by the tests.
type listening struct {
	wakes  chan store.Wake
	states chan store.ListenState
	mu     sync.Mutex
	errs   []error
}

// listen runs db.Listen on clk until the test ends and waits until it
// listens.
func listen(t *testing.T, db *store.DB, clk clock.Clock) *listening {
	t.Helper()
	l := &listening{wakes: make(chan store.Wake, 100), states: make(chan store.ListenState, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- db.Listen(ctx, store.Listener{Clock: clk, Backoff: backoff.New(1), Wake: func(w store.Wake) { l.wakes <- w },
			State: func(s store.ListenState, err error) {
				l.mu.Lock()
				l.errs = append(l.errs, err)
				l.mu.Unlock()
				l.states <- s
			}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen returned %v after its context ended, want nil", err)
		}
	})
	l.expectState(t, store.ListenConnected)
	return l
}

func (l *listening) expectState(t *testing.T, want store.ListenState) {
	t.Helper()
	select {
	case s := <-l.states:
		if s != want {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("listener state %d (errors %v), want %d", s, l.errs, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no listener state change; want %d", want)
	}
}

// expectWake waits for want; wake-ups of other keys are skipped.
func (l *listening) expectWake(t *testing.T, want store.Wake) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case w := <-l.wakes:
			if w == want {
				return
			}
		case <-deadline:
			t.Fatalf("no wake-up %+v", want)
		}
	}
}

// expectNoWake checks that key is not woken while a later committed
// wake-up (sent after whatever must not arrive) is delivered: delivery is
// in commit order, so nothing is left to come.
func (l *listening) expectNoWake(t *testing.T, db *store.DB, key string) {
	t.Helper()
	marker := store.Wake{Kind: store.WakeQueued, Key: "marker-" + key}
	if err := store.WakeIn(context.Background(), db, marker, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case w := <-l.wakes:
			if w.Key == key {
				t.Fatalf("woken for %+v", w)
			}
			if w == marker {
				return
			}
		case <-deadline:
			t.Fatal("the marker wake-up never came")
		}
	}
}

// replicas opens two stores on one fresh PostgreSQL schema, as two
// replicas do.
func replicas(t *testing.T) (*store.DB, *store.DB) {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs[0], dbs[1]
}

func TestWakesReachOtherReplicasOnlyWhenCommitted(t *testing.T) {
	t.Parallel()
	a, b := replicas(t)
	l := listen(t, b, clock.Real{})

	f := newFixture(t, a, "acme") // queues the first sync
	l.expectWake(t, store.Wake{Kind: store.WakeQueued, Key: "acme"})

	rolledBack := store.Wake{Kind: store.WakeQueued, Key: "globex"}
	boom := errors.New("boom")
	if err := store.WakeIn(f.ctx, a, rolledBack, boom); !errors.Is(err, boom) {
		t.Fatalf("WakeIn = %v, want the transaction's own error", err)
	}
	l.expectNoWake(t, a, "globex")

	// A release queues the task again; its completion ends it.
	task := f.mustAcquire(t, t0)
	if _, err := a.CompleteTask(f.ctx, store.CompleteRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Released, Now: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	l.expectWake(t, store.Wake{Kind: store.WakeQueued, Key: "acme"})
	task = f.mustAcquire(t, t0.Add(2*time.Second))
	if _, err := a.CompleteTask(f.ctx, store.CompleteRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Succeeded, Now: t0.Add(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	l.expectWake(t, store.Wake{Kind: store.WakeEnded, Key: task.ID})

	// An expired lease requeues, a connection test is queued.
	if _, err := a.QueueTestConnection(f.ctx, f.conn, t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	l.expectWake(t, store.Wake{Kind: store.WakeQueued, Key: "acme"})
	test := f.mustAcquire(t, t0.Add(5*time.Second))
	if _, err := a.ExpireLeases(f.ctx, test.LeaseExpiresAt.Add(time.Second), 5); err != nil {
		t.Fatal(err)
	}
	l.expectWake(t, store.Wake{Kind: store.WakeQueued, Key: "acme"})
}

func TestListenerReconnectsAfterItsConnectionIsKilled(t *testing.T) {
	t.Parallel()
	a, b := replicas(t)
	clk := clock.NewFake(t0)
	l := listen(t, b, clk)

	ctx := context.Background()
	killed, err := store.TerminateListeners(ctx, a)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listeners (%v), want 1", killed, err)
	}
	l.expectState(t, store.ListenLost)
	// The first attempt waits on the clock: nothing reconnects until it moves.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := clk.WaitForWaiters(wctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	l.expectState(t, store.ListenReconnected)

	newFixture(t, a, "acme")
	l.expectWake(t, store.Wake{Kind: store.WakeQueued, Key: "acme"})
}

func TestListenOnSQLiteReturnsAtOnce(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	if err := db.Listen(context.Background(), store.Listener{}); err != nil {
		t.Fatalf("Listen on SQLite = %v, want nil", err)
	}
}
