package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
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
	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// announced tells when its listener first listens.
type announced struct {
	db        *store.DB
	listening chan struct{}
}

func (a announced) Listen(ctx context.Context, l store.Listener) error {
	state := l.State
	l.State = func(s store.ListenState, err error) {
		state(s, err)
		if s == store.ListenConnected {
			close(a.listening)
		}
	}
	return a.db.Listen(ctx, l)
}

// replica is one control plane's dispatch service on a shared schema,
// listening to the others. Its clock never moves: no re-check fires, so
// only a wake-up ends a wait.
func replica(t *testing.T, dsn string) (*store.DB, *dispatch.Service, *clock.Fake) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	s := dispatch.New(db, dispatch.DefaultConfig, clk, zerolog.Nop(), nil)
	w := announced{db: db, listening: make(chan struct{})}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Listen(ctx, w, backoff.New(1)) }()
	t.Cleanup(func() { cancel(); <-done; s.Stop(); db.Close() })
	select {
	case <-w.listening:
	case <-time.After(20 * time.Second):
		t.Fatal("the replica never listened")
	}
	return db, s, clk
}

func TestReplicasWakeEachOther(t *testing.T) {
	t.Parallel()
	dsn := storetest.PostgresDSN(t)
	dbA, a, clkA := replica(t, dsn)
	_, b, clkB := replica(t, dsn)
	ctx := context.Background()
	if err := dbA.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: time.Now()}
	if err := dbA.CreateConnector(ctx, conn); err != nil {
		t.Fatal(err)
	}
	d, err := b.Register(ctx, "acme", dispatch.Registration{Name: "d1"})
	if err != nil {
		t.Fatal(err)
	}

	// A delegate polls B; A queues a connection test.
	type acquired struct {
		a   tasks.Assignment
		ok  bool
		err error
	}
	got := make(chan acquired, 1)
	go func() {
		a, ok, err := b.Acquire(ctx, "acme", d.ID, time.Minute)
		got <- acquired{a, ok, err}
	}()
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := clkB.WaitForWaiters(waitCtx, 2); err != nil { // the poll's hold and re-check
		t.Fatal(err)
	}
	queued, err := dbA.QueueTestConnection(ctx, conn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var lease acquired
	select {
	case lease = <-got:
		if lease.err != nil || !lease.ok || lease.a.Task.ID != queued.ID {
			t.Fatalf("Acquire on B = %+v, %v, %v; want the test queued on A", lease.a.Task, lease.ok, lease.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a task queued on replica A did not wake the poll on replica B")
	}

	// A waits for the task's end; the delegate completes it through B.
	ended := make(chan tasks.Task, 1)
	go func() {
		task, _ := a.WaitTask(ctx, "acme", queued.ID)
		ended <- task
	}()
	if err := clkA.WaitForWaiters(waitCtx, 1); err != nil { // the wait's re-check
		t.Fatal(err)
	}
	if _, err := b.Complete(ctx, store.CompleteRequest{AccountID: "acme", TaskID: queued.ID, LeaseToken: lease.a.Task.LeaseToken,
		Outcome: tasks.Succeeded}); err != nil {
		t.Fatal(err)
	}
	select {
	case task := <-ended:
		if task.State != tasks.Done {
			t.Fatalf("WaitTask on A returned the task %s, want DONE", task.State)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a task completed on replica B did not wake the wait on replica A")
	}
}

// scripted is a listener that reports the states it is sent, then waits
// for the context.
type scripted struct{ states chan store.ListenState }

func (s scripted) Listen(ctx context.Context, l store.Listener) error {
	for {
		select {
		case st := <-s.states:
			l.State(st, errors.New("connection reset by peer"))
		case <-ctx.Done():
			return nil
		}
	}
}

// syncLog is a log sink safe for concurrent writers.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestListenerStateIsLoggedOnceAndAReconnectionLooksAgain(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncLog{}
	clk := clock.NewFake(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	s := dispatch.New(db, dispatch.DefaultConfig, clk, zerolog.New(logs).Level(zerolog.InfoLevel), nil)
	defer s.Stop()
	states := make(chan store.ListenState)
	go func() { _ = s.Listen(ctx, scripted{states}, backoff.New(1)) }()

	if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: clk.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: clk.Now()}
	if err := db.CreateConnector(ctx, conn); err != nil {
		t.Fatal(err)
	}
	d, err := s.Register(ctx, "acme", dispatch.Registration{Name: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	states <- store.ListenConnected
	states <- store.ListenLost
	for range 3 {
		states <- store.ListenRetryFailed
	}

	// A poll waits; a task is queued where no wake-up reaches it (another
	// replica, while the listener was down). The reconnection looks again.
	got := make(chan bool, 1)
	go func() {
		_, ok, _ := s.Acquire(ctx, "acme", d.ID, time.Minute)
		got <- ok
	}()
	waitCtx, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	if err := clk.WaitForWaiters(waitCtx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueueTestConnection(ctx, conn, clk.Now()); err != nil {
		t.Fatal(err)
	}
	states <- store.ListenReconnected
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the poll ended without the task")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reconnection did not make the waiting poll look again")
	}

	var listener []string
	for _, l := range logs.lines() {
		if strings.Contains(l, "replicas' tasks") || strings.Contains(l, "replicas' queued") {
			listener = append(listener, l)
		}
	}
	want := []string{`"level":"info"`, `"level":"warn"`, `"level":"info"`}
	if len(listener) != len(want) {
		t.Fatalf("listener log lines:\n%s\nwant connected, lost and reconnected once each", strings.Join(listener, "\n"))
	}
	for i, l := range listener {
		if !strings.Contains(l, want[i]) {
			t.Errorf("line %d %s, want %s", i, l, want[i])
		}
	}
	if !strings.Contains(listener[1], "connection reset by peer") {
		t.Errorf("the lost line does not say why: %s", listener[1])
	}
}
