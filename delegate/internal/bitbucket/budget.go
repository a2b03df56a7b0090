package bitbucket

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// DefaultBudget is Bitbucket's documented limit for repository data with an
// access token: 1,000 requests in a rolling hour.
var DefaultBudget = BudgetLimit{Requests: 1000, Window: time.Hour}

// BudgetLimit is a number of requests per rolling window.
type BudgetLimit struct {
	Requests int
	Window   time.Duration
}

// Budget is the client-side rolling-window request budget of one
// credential, shared by every goroutine using that credential. Waiting for a
// slot is better than a 429: Bitbucket sends no Retry-After, and the
// rolling hour frees capacity only gradually.
//
// The budget starts at its configured limit; without an override, a
// X-RateLimit-Limit header replaces it (the server knows the scaled limit).
// X-RateLimit-NearLimit: true switches from bursting to even pacing
// (window/limit between requests). A 429 means someone else uses the same
// credential: the effective limit shrinks to 90% of what this delegate sent
// in the window, for one window, but never below a tenth of the limit. The
// floor matters right after start, when little has been sent: a 429 then
// says nothing about this delegate's share, and shrinking to what was sent
// would pace the next requests minutes apart.
//
// Several tasks share one budget when they use the same token. While more
// than one waits, slots go round the tasks (the one served least recently
// first), so a task with many requests queued cannot starve another.
type Budget struct {
	clk      clock.Clock
	override bool

	mu          sync.Mutex
	limit       BudgetLimit
	shrunk      int
	shrunkUntil time.Time
	near        bool
	sent        []time.Time // send or answer times within the window, oldest first
	last        time.Time
	warnedUntil time.Time // end of the long wait last reported by LongWait
	granted     int64     // requests let through since the budget was made

	waiters []*budgetWaiter  // in arrival order
	served  map[string]int64 // per waiting owner, the grant number it last got
}

// budgetWaiter is one Wait in progress.
type budgetWaiter struct {
	owner string
	wake  chan struct{} // a send means "you may be first now"
}

// longWait is how long a request may wait for the budget before the wait is
// worth a warning: past it, a sync looks stalled to whoever watches it.
const longWait = 30 * time.Second

// NewBudget returns a budget of limit; override makes it ignore
// X-RateLimit-Limit.
func NewBudget(clk clock.Clock, limit BudgetLimit, override bool) *Budget {
	return &Budget{clk: clk, limit: limit, override: override}
}

// LongWait reports, once per episode, that the next request will wait more
// than longWait for the budget, and until when. Callers log it: otherwise a
// sync paced by an exhausted budget just looks frozen.
func (b *Budget) LongWait() (until time.Time, report bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	wait := b.delayLocked(now)
	if wait < longWait || now.Before(b.warnedUntil) {
		return time.Time{}, false
	}
	b.warnedUntil = now.Add(wait)
	return b.warnedUntil, true
}

// StalledUntil reports until when the next request would wait, if that is
// longer than longWait; the zero time otherwise. Progress reports show it,
// so a sync paced by an exhausted budget does not look frozen.
func (b *Budget) StalledUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	if wait := b.delayLocked(now); wait >= longWait {
		return now.Add(wait)
	}
	return time.Time{}
}

// margin is added to the window because the server stamps a request when it
// arrives, a little after we stamp it when we send it. Answered closes the
// rest of that gap once the answer is in.
func (b *Budget) margin() time.Duration {
	m := b.limit.Window / 100
	return min(max(m, 50*time.Millisecond), time.Minute)
}

// Wait blocks until a request may be sent, and counts it as sent at the
// time it returns; give that time to Answered once the request is done.
func (b *Budget) Wait(ctx context.Context) (time.Time, error) { return b.WaitFor(ctx, "") }

// WaitFor is Wait for a request of owner (a task): while several owners
// wait, the next slot goes to the one whose last grant is oldest, then to
// the longest waiting.
func (b *Budget) WaitFor(ctx context.Context, owner string) (time.Time, error) {
	w := &budgetWaiter{owner: owner, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.waiters = append(b.waiters, w)
	if b.served == nil {
		b.served = map[string]int64{}
	}
	if _, ok := b.served[owner]; !ok {
		b.served[owner] = 0
	}
	for {
		if b.firstLocked() != w {
			b.mu.Unlock()
			select {
			case <-w.wake:
			case <-ctx.Done():
				b.mu.Lock()
				b.leaveLocked(w)
				b.mu.Unlock()
				return time.Time{}, ctx.Err()
			}
			b.mu.Lock()
			continue
		}
		now := b.clk.Now()
		wait := b.delayLocked(now)
		if wait <= 0 {
			b.sent = append(b.sent, now)
			b.last = now
			b.granted++
			b.served[owner] = b.granted
			b.leaveLocked(w)
			b.mu.Unlock()
			return now, nil
		}
		b.mu.Unlock()
		if err := b.clk.Sleep(ctx, wait); err != nil {
			b.mu.Lock()
			b.leaveLocked(w)
			b.mu.Unlock()
			return time.Time{}, err
		}
		b.mu.Lock()
	}
}

// firstLocked is the waiter the next slot goes to: of the owner served
// least recently, the one that came first.
func (b *Budget) firstLocked() *budgetWaiter {
	var first *budgetWaiter
	for _, w := range b.waiters {
		if first == nil || b.served[w.owner] < b.served[first.owner] {
			first = w
		}
	}
	return first
}

// leaveLocked removes w and wakes whoever is first now. An owner with no
// waiter left is forgotten, which keeps the map as small as the queue.
func (b *Budget) leaveLocked(w *budgetWaiter) {
	if i := slices.Index(b.waiters, w); i >= 0 {
		b.waiters = slices.Delete(b.waiters, i, i+1)
	}
	if !slices.ContainsFunc(b.waiters, func(o *budgetWaiter) bool { return o.owner == w.owner }) {
		delete(b.served, w.owner)
	}
	if f := b.firstLocked(); f != nil {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// Delay is how long a request would wait for this budget now, not
// counting other requests already waiting.
func (b *Budget) Delay() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(0, b.delayLocked(b.clk.Now()))
}

// Waiting reports how many requests wait for this budget.
func (b *Budget) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.waiters)
}

// Answered counts the request Wait let through at sent from now on, when
// its answer (or failure) came back. The server counts it from when it
// arrived, which is no later than that; counted from the send alone, a
// request held up on its way by more than the margin would let a later one
// reach the server while it is still inside the server's window.
func (b *Budget) Answered(sent time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	if i := slices.Index(b.sent, sent); i >= 0 {
		b.sent = slices.Delete(b.sent, i, i+1)
	}
	b.sent = append(b.sent, now) // every other time is from before now
}

func (b *Budget) delayLocked(now time.Time) time.Duration {
	window := b.limit.Window + b.margin()
	drop := 0
	for drop < len(b.sent) && now.Sub(b.sent[drop]) >= window {
		drop++
	}
	if drop > 0 {
		b.sent = append(b.sent[:0], b.sent[drop:]...)
	}
	limit := b.effectiveLocked(now)
	var wait time.Duration
	if len(b.sent) >= limit {
		wait = b.sent[len(b.sent)-limit].Add(window).Sub(now)
	}
	if b.near && !b.last.IsZero() {
		pace := b.limit.Window / time.Duration(max(limit, 1))
		wait = max(wait, b.last.Add(pace).Sub(now))
	}
	return wait
}

func (b *Budget) effectiveLocked(now time.Time) int {
	if now.Before(b.shrunkUntil) {
		return b.shrunk
	}
	return b.limit.Requests
}

// Observe applies the rate-limit headers of a response. It reports whether
// the limit changed, so the caller can log it once.
func (b *Budget) Observe(limitHeader int, nearLimit bool) (changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.near = nearLimit
	if b.override || limitHeader <= 0 || limitHeader == b.limit.Requests {
		return false
	}
	b.limit.Requests = limitHeader
	return true
}

// Throttled records a 429.
func (b *Budget) Throttled() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	b.shrunk = max(b.floorLocked(), min(b.effectiveLocked(now), len(b.sent))*9/10)
	b.shrunkUntil = now.Add(b.limit.Window)
	b.near = true
}

// floorLocked is the least a 429 shrinks the limit to.
func (b *Budget) floorLocked() int {
	return max(1, b.limit.Requests/10)
}

// Remaining is the number of requests that could be sent now.
func (b *Budget) Remaining() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	b.delayLocked(now)
	return max(0, b.effectiveLocked(now)-len(b.sent))
}

// Granted reports how many requests the budget has let through since it
// was made; against the requests that came back, it tells whether any is
// still on its way.
func (b *Budget) Granted() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.granted
}

// Limit returns the current limit.
func (b *Budget) Limit() BudgetLimit {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit
}

// Budgets hands out one Budget per credential key, so concurrent tasks with
// the same token share one budget.
type Budgets struct {
	clk      clock.Clock
	limit    BudgetLimit
	override bool

	mu sync.Mutex
	m  map[string]*Budget
}

// NewBudgets returns a registry whose budgets start at limit; override
// makes them ignore X-RateLimit-Limit (the user set --request-budget).
func NewBudgets(clk clock.Clock, limit BudgetLimit, override bool) *Budgets {
	return &Budgets{clk: clk, limit: limit, override: override, m: map[string]*Budget{}}
}

// Granted reports how many requests the budgets of every credential have
// let through.
func (r *Budgets) Granted() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, b := range r.m {
		n += b.Granted()
	}
	return n
}

// For returns the budget of a credential key.
func (r *Budgets) For(key string) *Budget {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.m[key]
	if !ok {
		b = NewBudget(r.clk, r.limit, r.override)
		r.m[key] = b
	}
	return b
}
