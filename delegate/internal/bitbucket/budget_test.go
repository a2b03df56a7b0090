package bitbucket

import (
	"context"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// sendAll takes n slots and returns the fake time each was granted at,
// relative to the start.
func sendAll(t *testing.T, b *Budget, clk *clock.Fake, n int) []time.Duration {
	t.Helper()
	start := clk.Now()
	out := make([]time.Duration, n)
	for i := range n {
		if _, err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		out[i] = clk.Now().Sub(start)
	}
	return out
}

func TestBudgetBurstsThenWaitsForTheWindow(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 10, Window: 10 * time.Second}, true)
	got := sendAll(t, b, clk, 25)
	for i := range 10 {
		if got[i] != 0 {
			t.Fatalf("request %d waited %v inside the budget", i, got[i])
		}
	}
	// The 11th waits for the first to leave the window (plus the margin).
	if got[10] < 10*time.Second || got[10] > 11*time.Second {
		t.Errorf("11th request at %v, want just after 10s", got[10])
	}
	// In any window of 10 s (plus margin) there are never more than 10.
	for i := 10; i < len(got); i++ {
		if got[i]-got[i-10] < 10*time.Second {
			t.Fatalf("requests %d and %d only %v apart", i-10, i, got[i]-got[i-10])
		}
	}
}

func TestNearLimitPacesEvenly(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 100, Window: 100 * time.Second}, true)
	b.Observe(0, true)
	got := sendAll(t, b, clk, 5)
	for i := 1; i < len(got); i++ {
		if d := got[i] - got[i-1]; d < time.Second {
			t.Errorf("requests %d and %d %v apart, want the 1s pace", i-1, i, d)
		}
	}
	b.Observe(0, false)
	before := clk.Now()
	sendAll(t, b, clk, 5)
	if clk.Now() != before {
		t.Errorf("still pacing after NearLimit cleared")
	}
}

func TestRateLimitHeaderReplacesDefaultUnlessOverridden(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, DefaultBudget, false)
	if !b.Observe(2500, false) || b.Limit().Requests != 2500 {
		t.Errorf("limit %v after X-RateLimit-Limit 2500", b.Limit())
	}
	if b.Observe(2500, false) {
		t.Error("an unchanged limit reported as a change")
	}
	o := NewBudget(clk, BudgetLimit{Requests: 60, Window: 10 * time.Second}, true)
	if o.Observe(1000, false) || o.Limit().Requests != 60 {
		t.Errorf("override changed by the header: %v", o.Limit())
	}
}

func TestThrottledShrinksForOneWindow(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 100, Window: time.Minute}, true)
	sendAll(t, b, clk, 50)
	b.Throttled()
	if r := b.Remaining(); r != 0 {
		t.Errorf("after a 429 with 50 sent, %d remain; want none (90%% of 50 = 45 < 50)", r)
	}
	clk.Advance(2 * time.Minute)
	b.Observe(0, false)
	if r := b.Remaining(); r != 100 {
		t.Errorf("a window later %d remain, want the full 100", r)
	}
}

// A 429 right after start, with few requests sent, must not leave the
// delegate with a handful of requests an hour.
func TestThrottledEarlyKeepsATenthOfTheLimit(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 1000, Window: time.Hour}, false)
	sendAll(t, b, clk, 3)
	b.Throttled()
	if r := b.Remaining(); r != 100-3 {
		t.Errorf("after an early 429, %d remain; want the floor of 100 less the 3 sent", r)
	}
	// Paced evenly at the floor: a request every 36 s, not one an hour.
	got := append([]time.Duration{0}, sendAll(t, b, clk, 10)...)
	for i := 1; i < len(got); i++ {
		if d := got[i] - got[i-1]; d > 37*time.Second {
			t.Fatalf("requests %d and %d %v apart after an early 429; want at most the 36s pace", i-1, i, d)
		}
	}
	// Repeated 429s shrink it no further than the floor.
	for range 5 {
		b.Throttled()
	}
	if r := b.Remaining(); r < 100-13 {
		t.Errorf("after repeated 429s %d remain, want the floor of 100 less the 13 sent", r)
	}
}

func TestWaitHonoursCancellation(t *testing.T) {
	t.Parallel()
	b := NewBudget(clock.Real{}, BudgetLimit{Requests: 1, Window: time.Hour}, true)
	if _, err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx); err != context.DeadlineExceeded {
		t.Errorf("got %v, want the context's error", err)
	}
}

func TestBudgetsShareOnePerCredential(t *testing.T) {
	t.Parallel()
	r := NewBudgets(clock.NewFake(epoch), DefaultBudget, false)
	first, again, other := r.For(NewCredential("a-token").Key), r.For(NewCredential("a-token").Key), r.For(NewCredential("b-token").Key)
	if first != again {
		t.Error("same credential, different budgets")
	}
	if first == other {
		t.Error("different credentials share a budget")
	}
}

// Granted counts the requests let through, not those that asked: a wait
// cut short by its context is not a request sent.
func TestGrantedCountsRequestsLetThrough(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	r := NewBudgets(clk, BudgetLimit{Requests: 3, Window: time.Minute}, true)
	a, b := r.For(NewCredential("a-token").Key), r.For(NewCredential("b-token").Key)
	sendAll(t, a, clk, 6) // the last three wait for the window, which they fill
	sendAll(t, b, clk, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Wait(ctx); err == nil {
		t.Fatal("a wait with a done context went through a full budget")
	}
	if a.Granted() != 6 || b.Granted() != 2 || r.Granted() != 8 {
		t.Errorf("granted %d and %d, %d in all; want 6 and 2, 8 in all", a.Granted(), b.Granted(), r.Granted())
	}
}

func TestLongWaitIsReportedOncePerEpisode(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 5, Window: time.Hour}, true)
	if _, report := b.LongWait(); report {
		t.Fatal("a fresh budget reported a long wait")
	}
	sendAll(t, b, clk, 5)
	until, report := b.LongWait()
	if !report || until.Sub(clk.Now()) < 59*time.Minute {
		t.Fatalf("exhausted budget: report=%v until %v; want a report of about an hour", report, until.Sub(clk.Now()))
	}
	if _, again := b.LongWait(); again {
		t.Fatal("the same long wait was reported twice")
	}
	clk.Advance(2 * time.Hour) // the window has passed: budget free again
	if _, report := b.LongWait(); report {
		t.Fatal("a refilled budget reported a long wait")
	}
}

func TestStalledUntilOnlyForLongWaits(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 3, Window: 10 * time.Second}, true)
	sendAll(t, b, clk, 3)
	if got := b.StalledUntil(); !got.IsZero() {
		t.Fatalf("a 10 s wait reported as a stall until %v", got)
	}
	b = NewBudget(clk, BudgetLimit{Requests: 3, Window: time.Hour}, true)
	sendAll(t, b, clk, 3)
	if got := b.StalledUntil(); got.Sub(clk.Now()) < 59*time.Minute {
		t.Fatalf("an exhausted hourly budget stalls until %v, want about an hour from now", got.Sub(clk.Now()))
	}
}

// TestASlowAnswerHoldsItsSlotFromTheAnswer: the server counts a request
// from its arrival, which can be as late as its answer; so a slot is free
// again a window after the answer, not after the send.
func TestASlowAnswerHoldsItsSlotFromTheAnswer(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b := NewBudget(clk, BudgetLimit{Requests: 2, Window: 10 * time.Second}, true)
	first, err := b.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Answered(second)
	clk.Advance(3 * time.Second) // the first request's answer is slow
	b.Answered(first)
	start := clk.Now()
	sendAll(t, b, clk, 2)
	// The third waits for the second's window; the fourth for the first's,
	// counted from its answer 3s after the send.
	if waited := clk.Now().Sub(start); waited < 10*time.Second || waited > 11*time.Second {
		t.Errorf("the fourth request went %v after the slow answer, want just after the 10s window", waited)
	}
	if b.Remaining() != 0 {
		t.Errorf("remaining %d, want 0", b.Remaining())
	}
	// An answer for a request already out of the window still counts from now.
	clk.Advance(time.Minute)
	b.Answered(first)
	if b.Remaining() != 1 {
		t.Errorf("remaining %d after a late answer, want 1", b.Remaining())
	}
}
