// Package backoff computes the waits of retrying loops: exponential from a
// base, capped, with jitter from a seeded source so that many callers
// recovering from one outage do not return in lockstep, and a test with a
// seed sees the same waits on every run. It computes waits and never
// waits itself: callers sleep on their injected clock.
package backoff

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Ceiling is base·2^attempt capped at limit: the longest wait before retry
// attempt (0 is the first retry). It never overflows, whatever attempt is;
// a negative attempt counts as 0.
func Ceiling(base, limit time.Duration, attempt int) time.Duration {
	attempt = max(attempt, 0)
	// base<<attempt > limit exactly when base > limit>>attempt, and the
	// right-hand side cannot overflow.
	if base <= 0 || attempt >= 63 || base > limit>>attempt {
		return max(limit, 0)
	}
	return base << attempt
}

// Source is a seeded source of jitter, safe for concurrent use.
type Source struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

// New returns a Source; the same seed gives the same sequence of waits.
func New(seed uint64) *Source {
	return &Source{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Delay is the wait before retry attempt: uniformly random between half of
// Ceiling(base, limit, attempt) and all of it ("equal jitter"). The fixed
// half keeps waits growing; the random half spreads callers out.
func (s *Source) Delay(base, limit time.Duration, attempt int) time.Duration {
	c := Ceiling(base, limit, attempt)
	half := c / 2
	return half + s.int64N(int64(c-half)+1)
}

// Shorten returns d less a random part of at most frac of it, for periodic
// work (renewals, polls) that should drift apart but never run late.
// frac is clamped to [0, 1].
func (s *Source) Shorten(d time.Duration, frac float64) time.Duration {
	if d <= 0 {
		return d
	}
	s.mu.Lock()
	r := s.rnd.Float64() // in [0, 1), so the product stays below d
	s.mu.Unlock()
	return d - time.Duration(float64(d)*min(max(frac, 0), 1)*r)
}

// int64N returns a Duration in [0, n).
func (s *Source) int64N(n int64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.rnd.Int64N(n))
}
