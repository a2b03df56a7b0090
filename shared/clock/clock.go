// Package clock lets code that tells the time or waits (budgets, backoff,
// leases, schedules) be tested without sleeping: production uses Real, tests
// use a Fake that only moves when told to.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first, and
	// returns ctx.Err() in the second case.
	Sleep(ctx context.Context, d time.Duration) error
	// NewTimer returns a Timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a Ticker that fires every d; d must be positive.
	NewTicker(d time.Duration) Ticker
}

// Timer is the part of *time.Timer that waiting code uses.
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did so.
	Stop() bool
}

// Ticker is the part of *time.Ticker that waiting code uses.
type Ticker interface {
	// C delivers the time at every tick; ticks a slow reader misses are
	// dropped.
	C() <-chan time.Time
	// Stop turns the ticker off.
	Stop()
}

// After returns a channel that receives the time once d has passed on c,
// and a function that releases the timer early.
func After(c Clock, d time.Duration) (<-chan time.Time, func() bool) {
	t := c.NewTimer(d)
	return t.C(), t.Stop
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits on a timer or the context.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
