package bitbucket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/rs/zerolog"
)

func TestChoose(t *testing.T) {
	t.Parallel()
	ready := func(rem, lim int) Candidate { return Candidate{Usable: true, Remaining: rem, Limit: lim} }
	waiting := func(d time.Duration) Candidate { return Candidate{Usable: true, Delay: d, Limit: 1000} }
	tests := []struct {
		name   string
		cands  []Candidate
		want   int
		wantOK bool
	}{
		{"none", nil, -1, false},
		{"all out of use", []Candidate{{}, {Remaining: 900, Limit: 1000}}, -1, false},
		{"one token", []Candidate{ready(10, 1000)}, 0, true},
		{"equal tokens: the first", []Candidate{ready(500, 1000), ready(500, 1000)}, 0, true},
		{"more left wins", []Candidate{ready(400, 1000), ready(500, 1000)}, 1, true},
		{"share, not count: 300 of 1000 loses to 200 of 500", []Candidate{ready(300, 1000), ready(200, 500)}, 1, true},
		{"a larger learnt limit draws more", []Candidate{ready(800, 1000), ready(9000, 10000)}, 1, true},
		{"ready beats waiting", []Candidate{waiting(time.Second), ready(1, 1000)}, 1, true},
		{"sooner wait wins", []Candidate{waiting(time.Minute), waiting(time.Second), waiting(time.Hour)}, 1, true},
		{"a rejected token is skipped even when it is the freshest", []Candidate{{Limit: 1000, Remaining: 1000}, waiting(time.Minute)}, 1, true},
		{"zero limit does not divide by zero", []Candidate{ready(0, 0), ready(1, 1000)}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Choose(tt.cands)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("Choose = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// poolOn builds a client whose budgets run on clk, and a pool of tokens
// (each "tok-N" with a budget of limit per hour).
func poolOn(clk clock.Clock, limit int, owner string, names ...string) (*Client, *Pool) {
	c := New(Options{Budgets: NewBudgets(clk, BudgetLimit{Requests: limit, Window: time.Hour}, false), Retry: NewRetryPolicy(zerolog.Nop(), 1)})
	var toks []PoolToken
	for _, n := range names {
		cr := NewCredential(n)
		cr.Ref = "env:" + strings.ToUpper(n)
		toks = append(toks, PoolToken{Ref: cr.Ref, Credential: cr})
	}
	return c, c.NewPool(owner, toks)
}

// take picks a token and takes a slot of its budget, as one request does.
func take(t *testing.T, p *Pool) *member {
	t.Helper()
	m, err := p.pick()
	if err != nil {
		t.Fatal(err)
	}
	sent, err := m.budget.WaitFor(context.Background(), p.owner)
	if err != nil {
		t.Fatal(err)
	}
	m.budget.Answered(sent)
	m.requests.Add(1)
	return m
}

func TestPoolSpreadsOverTokensAndAddsTheirBudgets(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	_, p := poolOn(clk, 100, "task", "tok-a", "tok-b", "tok-c")
	// 300 requests fit in the three budgets at once, 100 each.
	for range 300 {
		take(t, p)
	}
	if clk.Now() != epoch {
		t.Fatalf("300 requests within three budgets of 100 waited %v", clk.Now().Sub(epoch))
	}
	for _, u := range p.Usage() {
		if u.Requests != 100 {
			t.Errorf("%s sent %d, want 100 (spread evenly)", u.Ref, u.Requests)
		}
	}
	// The 301st waits for the window to roll.
	take(t, p)
	if waited := clk.Now().Sub(epoch); waited < time.Hour {
		t.Errorf("301st request waited %v, want the window", waited)
	}
}

func TestPoolLearntLimitDrawsMoreOnTheLargerToken(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	_, p := poolOn(clk, 1000, "task", "tok-a", "tok-b")
	p.members[1].budget.Observe(3000, false) // X-RateLimit-Limit: 3000
	for range 2000 {
		take(t, p)
	}
	u := p.Usage()
	if u[0].LimitPerHour != 1000 || u[1].LimitPerHour != 3000 {
		t.Fatalf("limits %d, %d; want 1000, 3000", u[0].LimitPerHour, u[1].LimitPerHour)
	}
	// Spread by share of allowance left: 1:3.
	if u[0].Requests < 450 || u[0].Requests > 550 {
		t.Errorf("1,000/h token sent %d of 2,000, want about 500", u[0].Requests)
	}
}

func TestPoolMovesOffAThrottledToken(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	_, p := poolOn(clk, 1000, "task", "tok-a", "tok-b")
	for range 10 {
		take(t, p)
	}
	p.members[0].budget.Throttled() // a 429 on tok-a
	before := p.Usage()[0].Requests
	for range 50 {
		take(t, p)
	}
	if got := p.Usage()[0].Requests - before; got != 0 {
		t.Errorf("throttled token took %d of the next 50 requests while the other was ready", got)
	}
}

func TestPoolRejectedTokenIsSkippedAndReported(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	_, p := poolOn(clk, 1000, "task", "tok-a", "tok-b")
	changed, usable := p.reject(p.members[0], "revoked")
	if !changed || usable != 1 {
		t.Fatalf("reject = %v, %d", changed, usable)
	}
	if again, _ := p.reject(p.members[0], "revoked"); again {
		t.Error("rejecting twice reported a change")
	}
	for range 20 {
		if m := take(t, p); m == p.members[0] {
			t.Fatal("a rejected token was used")
		}
	}
	u := p.Usage()
	if u[0].Rejected != "revoked" || u[1].Rejected != "" || u[1].Requests != 20 {
		t.Errorf("usage %+v", u)
	}
	p.reject(p.members[1], "expired")
	_, err := p.pick()
	if !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "env:TOK-A: revoked") || !strings.Contains(err.Error(), "env:TOK-B: expired") {
		t.Errorf("pick with no usable token: %v", err)
	}
}

func TestPoolUnresolvedTokenIsReportedNotUsed(t *testing.T) {
	t.Parallel()
	c := New(Options{Budgets: NewBudgets(clock.NewFake(epoch), DefaultBudget, false), Retry: NewRetryPolicy(zerolog.Nop(), 1)})
	ok := NewCredential("good")
	p := c.NewPool("task", []PoolToken{{Ref: "env:MISSING", Unresolved: "is not set on the delegate"}, {Ref: "env:GOOD", Credential: ok}})
	m, err := p.pick()
	if err != nil || m.ref != "env:GOOD" {
		t.Fatalf("pick = %v, %v", m, err)
	}
	if u := p.Usage(); u[0].Rejected != "is not set on the delegate" || u[0].LimitPerHour != 0 {
		t.Errorf("usage %+v", u)
	}
}

// TestBudgetSharesSlotsRoundTheTasks: two tasks share one token; one has
// eight requests queued at any time, the other one. Once the budget paces
// requests (near its limit), slots alternate between the tasks instead of
// going to whoever queued most.
func TestBudgetSharesSlotsRoundTheTasks(t *testing.T) {
	t.Parallel()
	clk := lockstepClock{clock.NewFake(epoch)}
	b := NewBudget(clk, BudgetLimit{Requests: 10, Window: 10 * time.Second}, true)
	b.Observe(0, true) // X-RateLimit-NearLimit: true
	var active atomic.Int64
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := func(owner string, workers, each int) {
		for range workers {
			wg.Add(1)
			active.Add(1)
			go func() {
				defer wg.Done()
				defer active.Add(-1)
				for range each {
					if _, err := b.WaitFor(ctx, owner); err != nil {
						return
					}
					mu.Lock()
					order = append(order, owner)
					mu.Unlock()
				}
			}()
		}
	}
	run("greedy", 8, 10) // 80 requests, 8 at a time
	// Let the greedy task queue first.
	for b.Waiting() < 8 {
		time.Sleep(time.Millisecond)
	}
	run("small", 1, 10)
	for b.Waiting() < 9 {
		time.Sleep(time.Millisecond)
	}
	go func() { wg.Wait(); cancel() }()
	// Time moves only once every request of both tasks waits, so the
	// order of grants is the budget's choice, not the scheduler's.
	for ctx.Err() == nil {
		if n := active.Load(); n == 0 || int64(b.Waiting()) < n {
			time.Sleep(50 * time.Microsecond)
			continue
		}
		if clk.WaitForWaiters(ctx, 1) == nil {
			clk.Advance(100 * time.Millisecond)
		}
	}
	wg.Wait()
	if len(order) != 90 {
		t.Fatalf("%d requests granted, want 90", len(order))
	}
	// The small task's 10 requests came within its fair share: by about
	// the 20th grant, not after the greedy task's 80.
	last := 0
	for i, o := range order {
		if o == "small" {
			last = i
		}
	}
	if last >= 21 {
		t.Errorf("the small task's last request was grant %d of %d: %v", last+1, len(order), order)
	}
}

// lockstepClock is a fake clock whose Sleep waits for Advance instead of
// moving the time itself, so that concurrent waiters share one timeline.
type lockstepClock struct{ *clock.Fake }

func (l lockstepClock) Sleep(ctx context.Context, d time.Duration) error {
	tm := l.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C():
		return nil
	}
}

// TestPoolFailsOverOverTheSocket: a token that gets 401 is dropped and
// the same request succeeds with the next; a 429 on one token sends the
// request to a ready other token at once.
func TestPoolFailsOverOverTheSocket(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		seen[tok]++
		mu.Unlock()
		switch tok {
		case "revoked":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"type":"error","error":{"message":"Token is invalid or not supported for this endpoint."}}`))
		case "busy":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte("Rate limit for this resource has been exceeded"))
		default:
			w.Header().Set("X-RateLimit-Limit", "2000")
			w.Header().Set("X-RateLimit-NearLimit", "false")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(goodPage))
		}
	}))
	defer srv.Close()
	c := New(Options{Budgets: NewBudgets(clock.Real{}, DefaultBudget, false), Retry: NewRetryPolicy(zerolog.Nop(), 1)})
	var toks []PoolToken
	for _, v := range []string{"revoked", "busy", "good"} {
		cr := NewCredential(v)
		toks = append(toks, PoolToken{Ref: "env:" + strings.ToUpper(v), Credential: cr})
	}
	base, _ := url.Parse(srv.URL + "/2.0")
	s := c.PoolSession(base, c.NewPool("task", toks))
	for range 3 {
		page, err := s.Repositories(context.Background(), s.RepositoriesURL("ws", "", time.Time{}), "ws")
		if err != nil || len(page.Repositories) != 1 {
			t.Fatalf("page %+v, %v", page, err)
		}
	}
	u := s.Tokens()
	if u[0].Rejected == "" || !strings.Contains(u[0].Rejected, "401") || u[0].Requests != 1 {
		t.Errorf("revoked token: %+v", u[0])
	}
	if u[1].Rejected != "" || u[1].RateLimited == 0 {
		t.Errorf("busy token: %+v", u[1])
	}
	if u[2].Requests != 3 || u[2].LimitPerHour != 2000 {
		t.Errorf("good token: %+v, want 3 requests and the learnt 2000/h", u[2])
	}
	if s.Requests() != u[0].Requests+u[1].Requests+u[2].Requests {
		t.Errorf("session counts %d requests, tokens %+v", s.Requests(), u)
	}
}
