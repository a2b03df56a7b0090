package bitbucketmock

import (
	"sync"
	"time"
)

// limiter counts requests per credential over a rolling window, as Bitbucket
// does (one-hour rolling window, per user or per access token). Requests it
// rejects do not count. One window covers every endpoint of a credential,
// which is stricter than Bitbucket's per-resource-group windows.
type limiter struct {
	mu      sync.Mutex
	rate    Rate
	windows map[string]*window
}

// window is a ring of the times of the requests still inside the window.
type window struct {
	at      []int64
	head, n int
}

// take records a request by key at now. It reports whether the request is
// allowed, how many requests the window holds (this one included) and the
// rate it applied.
func (l *limiter) take(key string, now time.Time) (ok bool, used int, rate Rate) {
	return l.takeAt(key, now, Rate{}, false)
}

// takeAt is take with the key's own rate when own is set.
func (l *limiter) takeAt(key string, now time.Time, rate Rate, own bool) (ok bool, used int, _ Rate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !own {
		rate = l.rate
	}
	if rate.Unlimited() {
		return true, 0, rate
	}
	w := l.windows[key]
	if w == nil || len(w.at) != rate.N {
		w = &window{at: make([]int64, rate.N)}
		l.windows[key] = w
	}
	t := now.UnixNano()
	for w.n > 0 && w.at[w.head] <= t-int64(rate.Per) {
		w.head = (w.head + 1) % len(w.at)
		w.n--
	}
	if w.n >= rate.N {
		return false, w.n, rate
	}
	w.at[(w.head+w.n)%len(w.at)] = t
	w.n++
	return true, w.n, rate
}

// forget starts key's window afresh.
func (l *limiter) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.windows, key)
}

// set changes the rate and forgets every window.
func (l *limiter) set(r Rate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = r
	l.windows = map[string]*window{}
}

func (l *limiter) get() Rate {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}
