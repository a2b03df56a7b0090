package proxy

import (
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// AuthError says a proxy refused the delegate's credentials (407). Asking
// again with the same credentials cannot succeed, and repeated failures can
// lock the directory account behind them, so nobody retries it at once.
type AuthError struct {
	// Proxy is the proxy's URL, password redacted.
	Proxy string
	// Status is the proxy's status line, e.g. "407 Proxy Authentication
	// Required".
	Status string
	// Target is the host:port the delegate asked the proxy for.
	Target string
	// RetryAt, when set, is when the control-plane connection will next
	// ask this proxy.
	RetryAt time.Time
}

// NewAuthError describes a refusal by proxy p, for target.
func NewAuthError(p *url.URL, status, target string) *AuthError {
	return &AuthError{Proxy: logging.URL(p), Status: status, Target: target}
}

func (e *AuthError) Error() string {
	msg := fmt.Sprintf("proxy %s refused the delegate's credentials for %s: %s; check the user and password in the proxy settings (PROXY_USER/PROXY_PASSWORD or the proxy URL)",
		e.Proxy, e.Target, e.Status)
	if !e.RetryAt.IsZero() {
		msg += fmt.Sprintf("; not asking this proxy again before %s, so that the account is not locked out", e.RetryAt.UTC().Format(time.RFC3339))
	}
	return msg
}

// AuthRetryAfter is how long the control-plane connection leaves a proxy
// that refused its credentials alone. The credentials are read once at
// start-up, so only a change on the proxy's side (an account unlocked, a
// password reset to the configured one) can make the next attempt succeed;
// a few attempts an hour stay well below directory lockout thresholds.
const AuthRetryAfter = 10 * time.Minute

// authGate holds dials back after a 407, whoever asks for them: the agent's
// calls and gRPC's own reconnects alike.
type authGate struct {
	mu      sync.Mutex
	refusal *AuthError // the last refusal, while it holds dials back
}

// check returns the refusal that still holds dials back, if any.
func (g *authGate) check(now time.Time) *AuthError {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refusal == nil || !now.Before(g.refusal.RetryAt) {
		return nil
	}
	held := *g.refusal
	return &held
}

// refused records a refusal and sets when the next dial may ask again.
func (g *authGate) refused(e *AuthError, clk clock.Clock) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e.RetryAt = clk.Now().Add(AuthRetryAfter)
	g.refusal = e
}

// accepted clears a refusal once the proxy let a dial through.
func (g *authGate) accepted() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refusal = nil
}
