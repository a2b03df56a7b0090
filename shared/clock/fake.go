package clock

import (
	"context"
	"sync"
	"time"
)

// Fake is a clock that only moves when told to (Advance) or when something
// sleeps on it: Sleep moves the time forward at once, so code that backs off
// runs without waiting. Timers and tickers fire when Advance carries the time
// past their deadline, and WaitForWaiters lets a test hold off advancing until
// the code under test is waiting. Fake is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	slept   time.Duration
	waiters map[*fakeWaiter]struct{}
	changed chan struct{} // closed and replaced whenever waiters changes
}

// fakeWaiter is one timer or ticker waiting on a Fake.
type fakeWaiter struct {
	f      *Fake
	at     time.Time
	period time.Duration // zero for a timer
	c      chan time.Time
}

// NewFake returns a Fake showing t.
func NewFake(t time.Time) *Fake {
	return &Fake{now: t, waiters: map[*fakeWaiter]struct{}{}, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Sleep advances the fake time by d and returns at once.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.Advance(d)
	return nil
}

// NewTimer returns a timer that fires once Advance reaches d from now. A
// timer of zero or less fires at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	return f.add(d, 0)
}

// NewTicker returns a ticker that fires every time Advance passes another d.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	return fakeTicker{f.add(d, d)}
}

// fakeTicker gives a ticker's waiter the Ticker's Stop.
type fakeTicker struct{ *fakeWaiter }

func (t fakeTicker) Stop() { t.fakeWaiter.Stop() }

func (f *Fake) add(d, period time.Duration) *fakeWaiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{f: f, at: f.now.Add(d), period: period, c: make(chan time.Time, 1)}
	if d <= 0 && period == 0 {
		w.c <- f.now
		return w
	}
	f.waiters[w] = struct{}{}
	f.signal()
	return w
}

// signal wakes WaitForWaiters; f.mu must be held.
func (f *Fake) signal() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Advance moves the fake time forward by d and fires the timers and tickers
// whose deadline it reaches.
func (f *Fake) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.slept += d
	removed := false
	for w := range f.waiters {
		if w.at.After(f.now) {
			continue
		}
		select {
		case w.c <- f.now:
		default: // like time.Ticker, a tick nobody read yet is not doubled
		}
		if w.period == 0 {
			delete(f.waiters, w)
			removed = true
			continue
		}
		for !w.at.After(f.now) {
			w.at = w.at.Add(w.period)
		}
	}
	if removed {
		f.signal()
	}
}

// Set moves the fake time forward to t, as Advance does; a t before the
// current time is ignored, since time does not run backwards.
func (f *Fake) Set(t time.Time) { f.Advance(t.Sub(f.Now())) }

// Slept reports the total time advanced so far.
func (f *Fake) Slept() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slept
}

// Waiters reports how many timers and tickers are waiting.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// WaitForWaiters blocks until at least n timers and tickers are waiting on
// f, or ctx is done. Tests call it before Advance so that the code under test
// has started its wait and the advance is not lost.
func (f *Fake) WaitForWaiters(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		have, changed := len(f.waiters), f.changed
		f.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (w *fakeWaiter) C() <-chan time.Time { return w.c }

// Stop removes the waiter; for a timer it reports whether it had not fired.
func (w *fakeWaiter) Stop() bool {
	f := w.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.waiters[w]; !ok {
		return false
	}
	delete(f.waiters, w)
	f.signal()
	return true
}
