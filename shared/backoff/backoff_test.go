package backoff

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestCeiling(t *testing.T) {
	t.Parallel()
	const maxDur = time.Duration(math.MaxInt64)
	cases := []struct {
		base, limit time.Duration
		attempt     int
		want        time.Duration
	}{
		{time.Second, 30 * time.Second, 0, time.Second},
		{time.Second, 30 * time.Second, 1, 2 * time.Second},
		{time.Second, 30 * time.Second, 4, 16 * time.Second},
		{time.Second, 30 * time.Second, 5, 30 * time.Second}, // 32 s capped
		{time.Second, 32 * time.Second, 5, 32 * time.Second}, // exactly the cap
		{time.Second, 30 * time.Second, -3, time.Second},
		{time.Second, 30 * time.Second, 62, 30 * time.Second},
		{time.Second, 30 * time.Second, 63, 30 * time.Second},
		{time.Second, 30 * time.Second, 64, 30 * time.Second},
		{time.Second, 30 * time.Second, math.MaxInt, 30 * time.Second},
		{1, maxDur, 62, 1 << 62},
		{1, maxDur, 63, maxDur}, // 1<<63 would be negative
		{maxDur, maxDur, 1, maxDur},
		{maxDur / 2, maxDur, 1, maxDur - 1},
		{time.Minute, time.Second, 0, time.Second}, // base above the cap
		{0, time.Second, 3, time.Second},
		{time.Second, 0, 3, 0},
		{time.Second, -time.Second, 3, 0},
	}
	for _, tc := range cases {
		if got := Ceiling(tc.base, tc.limit, tc.attempt); got != tc.want {
			t.Errorf("Ceiling(%v, %v, %d) = %v, want %v", tc.base, tc.limit, tc.attempt, got, tc.want)
		}
	}
}

// TestCeilingProperties: for any positive base and limit, the ceiling is
// positive, never above the limit, never below the base unless capped,
// and does not decrease as attempts grow, up to attempts far past any
// overflow.
func TestCeilingProperties(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		base := time.Duration(rnd.Int64N(math.MaxInt64) + 1)
		if rnd.IntN(2) == 0 {
			base = time.Duration(rnd.Int64N(int64(time.Minute)) + 1)
		}
		limit := time.Duration(rnd.Int64N(math.MaxInt64) + 1)
		prev := time.Duration(0)
		for attempt := range 70 {
			c := Ceiling(base, limit, attempt)
			if c <= 0 || c > limit || (c < base && c != limit) || c < prev {
				t.Fatalf("Ceiling(%d, %d, %d) = %d after %d", base, limit, attempt, c, prev)
			}
			prev = c
		}
		if c := Ceiling(base, limit, math.MaxInt); c != limit {
			t.Fatalf("Ceiling(%d, %d, MaxInt) = %d, want the limit", base, limit, c)
		}
	}
}

func TestDelayBounds(t *testing.T) {
	t.Parallel()
	s := New(7)
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		base := time.Duration(rnd.Int64N(int64(time.Minute)) + 1)
		limit := time.Duration(rnd.Int64N(math.MaxInt64))
		attempt := rnd.IntN(100) - 5
		c := Ceiling(base, limit, attempt)
		if d := s.Delay(base, limit, attempt); d < c/2 || d > c {
			t.Fatalf("Delay(%d, %d, %d) = %d, want within [%d, %d]", base, limit, attempt, d, c/2, c)
		}
	}
	if d := s.Delay(time.Second, time.Duration(math.MaxInt64), math.MaxInt); d < math.MaxInt64/2 {
		t.Errorf("Delay at a huge attempt = %v, want at least half the cap", d)
	}
}

// TestDelaySpreads: the random half is used, not a constant.
func TestDelaySpreads(t *testing.T) {
	t.Parallel()
	s := New(9)
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[s.Delay(time.Second, time.Minute, 3)] = true
	}
	if len(seen) < 50 {
		t.Errorf("100 delays took only %d values", len(seen))
	}
}

func TestSameSeedSameWaits(t *testing.T) {
	t.Parallel()
	waits := func(seed uint64) []time.Duration {
		s := New(seed)
		var out []time.Duration
		for attempt := range 20 {
			out = append(out, s.Delay(250*time.Millisecond, 10*time.Second, attempt), s.Shorten(20*time.Second, 0.2))
		}
		return out
	}
	a, b, c := waits(42), waits(42), waits(43)
	same := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 42 gave %v then %v at %d", a[i], b[i], i)
		}
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Error("seeds 42 and 43 gave the same waits")
	}
}

func TestShorten(t *testing.T) {
	t.Parallel()
	s := New(5)
	cases := []struct {
		d    time.Duration
		frac float64
		lo   time.Duration
	}{
		{20 * time.Second, 0.2, 16 * time.Second},
		{20 * time.Second, 0, 20 * time.Second},
		{20 * time.Second, -1, 20 * time.Second},
		{20 * time.Second, 1, 0},
		{20 * time.Second, 7, 0},
		{time.Duration(math.MaxInt64), 1, 0},
		{0, 0.5, 0},
		{-time.Second, 0.5, -time.Second},
	}
	for _, tc := range cases {
		for range 200 {
			if got := s.Shorten(tc.d, tc.frac); got < tc.lo || got > tc.d {
				t.Fatalf("Shorten(%v, %v) = %v, want within [%v, %v]", tc.d, tc.frac, got, tc.lo, tc.d)
			}
		}
	}
}
