package clock

import (
	"context"
	"time"
)

// Shifted tells the time of Base plus an offset read at every call; its
// waits are Base's. An end-to-end test uses it to move a real process's
// time forward (schedules, sweep windows) without waiting for it.
type Shifted struct {
	Base   Clock
	Offset func() time.Duration
}

// Now returns Base's time plus the current offset.
func (s Shifted) Now() time.Time { return s.Base.Now().Add(s.Offset()) }

// Sleep waits on Base.
func (s Shifted) Sleep(ctx context.Context, d time.Duration) error { return s.Base.Sleep(ctx, d) }

// NewTimer is Base's.
func (s Shifted) NewTimer(d time.Duration) Timer { return s.Base.NewTimer(d) }

// NewTicker is Base's.
func (s Shifted) NewTicker(d time.Duration) Ticker { return s.Base.NewTicker(d) }
