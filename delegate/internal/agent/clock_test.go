package agent_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/catalog-discovery/bitbucket/delegate/internal/agent"
	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// heldControlPlane hands out one task, then holds every poll and renewal
// open until its caller gives up, so that nothing but the test moves the
// fake clock.
type heldControlPlane struct {
	mu          sync.Mutex
	unreachable int // Register calls to fail before one succeeds
	registers   int
	handedOut   bool
	completions []task.Completion
}

func (h *heldControlPlane) Register(context.Context, task.Registration) (task.Registered, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.registers++
	if h.registers <= h.unreachable {
		return task.Registered{}, status.Error(codes.Unavailable, "connection refused")
	}
	return task.Registered{DelegateID: "d-1", AccountID: "acme", RenewInterval: time.Minute}, nil
}

func (h *heldControlPlane) AcquireTask(ctx context.Context, _ string, _ time.Duration) (*task.Task, error) {
	h.mu.Lock()
	first := !h.handedOut
	h.handedOut = true
	h.mu.Unlock()
	if first {
		return &task.Task{ID: "t-1", Type: task.TypeSync, LeaseToken: "l-1", Attempt: 1, NextSequence: 1}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h *heldControlPlane) RenewLease(ctx context.Context, _, _ string, _ task.Progress, _ []byte) (task.Renewal, error) {
	<-ctx.Done()
	return task.Renewal{}, ctx.Err()
}

func (h *heldControlPlane) CompleteTask(_ context.Context, c task.Completion) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.completions = append(h.completions, c)
	return nil
}

func (h *heldControlPlane) UploadRecords(context.Context, string, string, int64, []controlplane.EncodedRecord, *task.Progress) (bool, error) {
	return false, nil
}

// blockingWork runs until its context ends, or, if stubborn, until the
// test lets it go.
type blockingWork struct {
	started  chan struct{}
	stubborn bool
	letGo    chan struct{}
}

func (w *blockingWork) Run(ctx context.Context) agent.Result {
	close(w.started)
	if w.stubborn {
		<-w.letGo
	} else {
		<-ctx.Done()
	}
	return agent.Result{Outcome: task.OutcomeFailed}
}

func (w *blockingWork) Progress() task.Progress { return task.Progress{} }
func (w *blockingWork) Checkpoint() []byte      { return []byte(`{"v":1}`) }

// TestShutdownGraceRunsOnTheClock: the shutdown grace is measured on the
// injected clock. With a grace of hours, Run returns as soon as the fake
// clock is moved past it, and a real clock would hold the test until its
// deadline.
func TestShutdownGraceRunsOnTheClock(t *testing.T) {
	t.Parallel()
	const grace = 3 * time.Hour
	for _, stubborn := range []bool{false, true} {
		cp := &heldControlPlane{}
		clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		work := &blockingWork{started: make(chan struct{}), stubborn: stubborn, letGo: make(chan struct{})}
		a := agent.New(cp, func(*task.Task, *upload.Batcher, zerolog.Logger) agent.Work { return work },
			agent.Config{Registration: task.Registration{Name: "d", Concurrency: 1}, ShutdownGrace: grace, Clock: clk, Seed: 1})
		ctx, shutdown := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- a.Run(ctx) }()

		deadline, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		select {
		case <-work.started:
		case <-deadline.Done():
			t.Fatal("the task never started")
		}
		start := clk.Now()
		shutdown()
		// Two thirds of the grace for the work to finish by itself, then
		// the rest for it to hand its task back.
		if err := clk.WaitForWaiters(deadline, 1); err != nil {
			t.Fatalf("stubborn=%v: the shutdown set no timer on the clock", stubborn)
		}
		clk.Advance(grace * 2 / 3)
		if stubborn {
			if err := clk.WaitForWaiters(deadline, 1); err != nil {
				t.Fatal("the shutdown set no second timer on the clock")
			}
			clk.Advance(grace / 3)
		}
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("stubborn=%v: Run: %v", stubborn, err)
			}
		case <-deadline.Done():
			t.Fatalf("stubborn=%v: Run did not return once the fake clock passed the grace", stubborn)
		}
		cancel()
		if took := clk.Now().Sub(start); took < grace*2/3 || took > grace+2*time.Minute {
			t.Errorf("stubborn=%v: the shutdown took %v of fake time, want about %v", stubborn, took, grace)
		}
		cp.mu.Lock()
		completions := cp.completions
		cp.mu.Unlock()
		if stubborn {
			if len(completions) != 0 {
				t.Errorf("a task that never stopped was reported: %v", completions)
			}
			close(work.letGo)
		} else if len(completions) != 1 || completions[0].Outcome != task.OutcomeReleased || string(completions[0].Checkpoint) != `{"v":1}` {
			t.Errorf("completions %+v, want one RELEASED with the checkpoint", completions)
		}
	}
}

// TestRegistrationBacksOffOnTheClock: an unreachable control plane is
// retried with capped, jittered, growing pauses, all taken on the injected
// clock, so eight failures cost the test no real time.
func TestRegistrationBacksOffOnTheClock(t *testing.T) {
	t.Parallel()
	const failures = 8
	cp := &heldControlPlane{unreachable: failures, handedOut: true}
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a := agent.New(cp, func(*task.Task, *upload.Batcher, zerolog.Logger) agent.Work { return nil },
		agent.Config{Registration: task.Registration{Name: "d", Concurrency: 1}, MaxBackoff: 30 * time.Second, Clock: clk, Seed: 3})
	ctx, shutdown := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp.mu.Lock()
		registered := cp.registers > failures
		cp.mu.Unlock()
		if registered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent did not register after the control plane came back")
		}
		time.Sleep(time.Millisecond)
	}
	shutdown()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	// Pauses of 1, 2, 4, 8, 16, 30, 30, 30 s at most, each at least half.
	lo, hi := time.Duration(0), time.Duration(0)
	for attempt := range failures {
		c := min(time.Second<<attempt, 30*time.Second)
		lo, hi = lo+c/2, hi+c
	}
	if slept := clk.Slept(); slept < lo || slept > hi {
		t.Errorf("waited %v on the clock over %d failures, want within [%v, %v]", slept, failures, lo, hi)
	}
}
