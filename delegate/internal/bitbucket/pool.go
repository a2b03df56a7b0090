package bitbucket

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is the set of tokens one task calls Bitbucket with: the tokens of
// its connector, each with its own budget (Bitbucket gives every access
// token its own hourly allowance). Every request goes to the token whose
// budget lets it through soonest (Choose); a token Bitbucket rejects (401:
// expired or revoked) is taken out of use for the rest of the task and
// reported, and the request goes to the next token. Budgets come from the
// client's Budgets, so tasks using the same token share its budget, slots
// going round the tasks (owner).
type Pool struct {
	owner   string
	members []*member
	mu      sync.Mutex // guards every member's rejected
}

// member is one token of a pool.
type member struct {
	ref    string
	cred   Credential
	budget *Budget // nil when the reference did not resolve

	rejected    string // why it is out of use; "" while usable
	requests    atomic.Int64
	rateLimited atomic.Int64
	limitSeen   atomic.Int64 // the last X-RateLimit-Limit Bitbucket sent with it
	scopes      atomic.Value // string: the last X-OAuth-Scopes
}

// PoolToken is one token for NewPool: a resolved credential, or the
// reason its reference did not resolve.
type PoolToken struct {
	Ref        string
	Credential Credential
	// Unresolved says why the reference gave no token; the token is
	// reported, never used.
	Unresolved string
}

// NewPool makes the pool of owner (a task id) over tokens, in order.
func (c *Client) NewPool(owner string, tokens []PoolToken) *Pool {
	p := &Pool{owner: owner}
	for _, t := range tokens {
		m := &member{ref: t.Ref, cred: t.Credential, rejected: t.Unresolved}
		if t.Unresolved == "" {
			m.budget = c.opts.Budgets.For(t.Credential.Key)
		}
		p.members = append(p.members, m)
	}
	return p
}

// Candidate is what choosing a token knows of one.
type Candidate struct {
	// Usable is false for a token out of use (rejected, unresolved).
	Usable bool
	// Delay is how long its budget holds the next request back.
	Delay time.Duration
	// Remaining and Limit are the requests it could send now and its
	// allowance per window.
	Remaining, Limit int
}

// Choose picks the token for the next request: of the usable ones, the one
// whose budget lets a request through soonest; among those equally soon,
// the one with the largest share of its allowance left (so requests spread
// over the tokens in proportion to their allowances, and a token that got
// a 429 or is near its limit gives way to the others); then the first
// listed. ok is false when no token is usable.
func Choose(cands []Candidate) (i int, ok bool) {
	best := -1
	for j, c := range cands {
		if !c.Usable {
			continue
		}
		if best < 0 || better(c, cands[best]) {
			best = j
		}
	}
	return best, best >= 0
}

func better(a, b Candidate) bool {
	if a.Delay != b.Delay {
		return a.Delay < b.Delay
	}
	// a.Remaining/a.Limit > b.Remaining/b.Limit, without dividing.
	return int64(a.Remaining)*int64(max(b.Limit, 1)) > int64(b.Remaining)*int64(max(a.Limit, 1))
}

// ErrNoToken says every token of the task is out of use.
var ErrNoToken = errors.New("no usable Bitbucket token")

// pick returns the member for the next request, or an error naming why
// each token is out of use.
func (p *Pool) pick() (*member, error) {
	p.mu.Lock()
	cands := make([]Candidate, len(p.members))
	for i, m := range p.members {
		cands[i].Usable = m.rejected == ""
	}
	p.mu.Unlock()
	for i, m := range p.members {
		if cands[i].Usable {
			lim := m.budget.Limit().Requests
			cands[i].Delay, cands[i].Remaining, cands[i].Limit = m.budget.Delay(), m.budget.Remaining(), lim
		}
	}
	i, ok := Choose(cands)
	if !ok {
		return nil, p.noTokenError()
	}
	return p.members[i], nil
}

func (p *Pool) noTokenError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	reasons := make([]string, 0, len(p.members))
	for _, m := range p.members {
		reasons = append(reasons, m.ref+": "+m.rejected)
	}
	return fmt.Errorf("%w: %s", ErrNoToken, strings.Join(reasons, "; "))
}

// reject takes m out of use and reports whether it was in use, and how
// many tokens are still usable.
func (p *Pool) reject(m *member, why string) (changed bool, usable int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m.rejected == "" {
		m.rejected, changed = why, true
	}
	for _, o := range p.members {
		if o.rejected == "" {
			usable++
		}
	}
	return changed, usable
}

// readyOther reports whether a usable token other than m could send a
// request now.
func (p *Pool) readyOther(m *member) bool {
	p.mu.Lock()
	others := make([]*member, 0, len(p.members))
	for _, o := range p.members {
		if o != m && o.rejected == "" {
			others = append(others, o)
		}
	}
	p.mu.Unlock()
	for _, o := range others {
		if o.budget.Delay() <= 0 {
			return true
		}
	}
	return false
}

// TokenUsage is what one token of a pool did.
type TokenUsage struct {
	Ref string
	// Rejected says why the token is out of use; "" while usable.
	Rejected     string
	LimitPerHour int64
	Requests     int64
	RateLimited  int64
	// StatedLimit is the last X-RateLimit-Limit Bitbucket sent for the
	// token (0: none yet), and Scopes its last X-OAuth-Scopes.
	StatedLimit int64
	Scopes      string
}

// Usage reports every token, in order.
func (p *Pool) Usage() []TokenUsage {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TokenUsage, len(p.members))
	for i, m := range p.members {
		out[i] = TokenUsage{Ref: m.ref, Rejected: m.rejected, Requests: m.requests.Load(), RateLimited: m.rateLimited.Load(),
			StatedLimit: m.limitSeen.Load()}
		out[i].Scopes, _ = m.scopes.Load().(string)
		if m.budget != nil {
			lim := m.budget.Limit()
			out[i].LimitPerHour = int64(float64(lim.Requests) * float64(time.Hour) / float64(lim.Window))
		}
	}
	return out
}

// stalledUntil is when the soonest usable token can send, if that is a
// long wait (see Budget.StalledUntil); the zero time otherwise.
func (p *Pool) stalledUntil() time.Time {
	var soonest time.Time
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.rejected != "" {
			continue
		}
		until := m.budget.StalledUntil()
		if until.IsZero() {
			return time.Time{}
		}
		if soonest.IsZero() || until.Before(soonest) {
			soonest = until
		}
	}
	return soonest
}

func (p *Pool) requests() int64 {
	var n int64
	for _, m := range p.members {
		n += m.requests.Load()
	}
	return n
}

func (p *Pool) rateLimited() int64 {
	var n int64
	for _, m := range p.members {
		n += m.rateLimited.Load()
	}
	return n
}
