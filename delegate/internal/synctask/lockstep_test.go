package synctask_test

import (
	"context"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/metrics"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// lockstep is one fake clock for the delegate's request budget and the mock
// Bitbucket's rate limiter, so that a test of the two against each other
// counts fake time on both sides instead of racing real time, which a
// loaded machine stretches at random.
//
// A budget that waits sleeps on a timer instead of moving the clock itself;
// drive moves it, and only when every request the budget let through has
// come back (the mock stamps a request before it answers). A request
// granted just before a step reaches the mock at most one step later, so
// stepping by less than the budget's margin (the allowance for the trip
// from delegate to server) keeps what the mock sees within what the budget
// allowed, however the goroutines are scheduled. (A request abandoned on
// its way, by a lost lease or the attempt timeout, comes back before it
// reaches the mock; the tests hold leases long enough that only a stall of
// more than the 5 s attempt timeout could do that.)
type lockstep struct{ *clock.Fake }

func newLockstep() lockstep {
	return lockstep{clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
}

// Sleep waits until drive carries the clock d further, or ctx is done.
func (l lockstep) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := l.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C():
		return nil
	}
}

// lockstepStep is how far drive moves the clock at a time: below the
// budget's smallest margin (50 ms).
const lockstepStep = 10 * time.Millisecond

// drive moves the clock by lockstepStep whenever something waits on it and
// granted() equals returned(), until ctx is done.
func (l lockstep) drive(ctx context.Context, granted, returned func() int64) {
	poll := time.NewTicker(200 * time.Microsecond)
	defer poll.Stop()
	for {
		if err := l.WaitForWaiters(ctx, 1); err != nil {
			return
		}
		if granted() == returned() {
			l.Advance(lockstepStep)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}

// startLockstep runs drive until the test ends.
func startLockstep(t *testing.T, l lockstep, granted, returned func() int64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.drive(ctx, granted, returned)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// returned counts the Bitbucket requests the delegate made that came back,
// answered or failed, from its metrics.
func returned(m *metrics.Metrics) func() int64 {
	return func() int64 {
		ch := make(chan prometheus.Metric)
		go func() {
			m.Requests.Collect(ch)
			close(ch)
		}()
		var n float64
		for c := range ch {
			var d dto.Metric
			if err := c.Write(&d); err != nil {
				panic(err) // a counter always writes
			}
			n += d.GetCounter().GetValue()
		}
		return int64(n)
	}
}
