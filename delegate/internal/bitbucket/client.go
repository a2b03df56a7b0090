package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/metrics"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/rs/zerolog"
)

// Options configure a Client.
type Options struct {
	// Proxy picks the proxy for a request (proxy.Config.ForRequest).
	Proxy func(*http.Request) (*url.URL, error)
	// Budgets holds one rolling-window budget per credential.
	Budgets *Budgets
	// Retry is the retry policy.
	Retry *RetryPolicy
	// AttemptTimeout bounds one attempt (connect, headers and body), not
	// the time spent waiting for the budget. Default 60 s.
	AttemptTimeout time.Duration
	// MaxPageBytes bounds a response body. Default 32 MiB.
	MaxPageBytes int64
	UserAgent    string
	Log          zerolog.Logger
	Metrics      *metrics.Metrics
	// Transport replaces the network (benchmarks run an in-process
	// server on a simulated clock); nil: HTTP over the network.
	Transport http.RoundTripper
}

// Client calls Bitbucket for any number of credentials and tasks; it is
// safe for concurrent use. Bind it to one credential with Session.
type Client struct {
	rc   *retryablehttp.Client
	opts Options
}

// New builds a Client. TLS uses the system roots, so SSL_CERT_FILE and
// SSL_CERT_DIR work as usual for TLS-inspecting proxies.
func New(opts Options) *Client {
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 60 * time.Second
	}
	if opts.MaxPageBytes <= 0 {
		opts.MaxPageBytes = 32 << 20
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "idp-delegate"
	}
	tr := &http.Transport{
		Proxy:                 opts.Proxy,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 45 * time.Second,
		ExpectContinueTimeout: time.Second,
		// A proxy refusing the credentials fails the request for good
		// (see proxyRefusal), naming the proxy, instead of with net/http's
		// bare status text.
		OnProxyConnectResponse: func(_ context.Context, p *url.URL, req *http.Request, resp *http.Response) error {
			if resp.StatusCode == http.StatusProxyAuthRequired {
				return proxy.NewAuthError(p, resp.Status, req.Host)
			}
			return nil
		},
	}
	var next http.RoundTripper = tr
	if opts.Transport != nil {
		next = opts.Transport
	}
	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: &budgetTransport{next: next, opts: &opts}},
		Logger:       nil, // the policy logs retries with their reason
		RetryMax:     max(opts.Retry.Attempts-1, 0),
		CheckRetry:   opts.Retry.CheckRetry,
		Backoff:      opts.Retry.Backoff,
		ErrorHandler: giveUp,
	}
	return &Client{rc: rc, opts: opts}
}

// giveUp turns the last failure into an error that says how many attempts
// were made, closing any body left.
func giveUp(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil {
		resp.Body.Close()
	}
	if err == nil {
		err = errors.New("no response")
	}
	var refused *proxy.AuthError
	if errors.As(err, &refused) {
		return nil, refused // it says all there is; the request URL adds nothing
	}
	var se *StatusError
	if attempts > 1 && !errors.As(err, &se) {
		return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempts)
	}
	return nil, err
}

// Session is a Client bound to one API base URL and a pool of tokens; it
// counts the requests it makes for the task's progress.
type Session struct {
	c    *Client
	base *url.URL
	pool *Pool
}

// Session binds the client to base (e.g. https://api.bitbucket.org/2.0)
// and cred alone.
func (c *Client) Session(base *url.URL, cred Credential) *Session {
	return c.PoolSession(base, c.NewPool("", []PoolToken{{Ref: cred.Ref, Credential: cred}}))
}

// PoolSession binds the client to base and a pool of tokens.
func (c *Client) PoolSession(base *url.URL, pool *Pool) *Session {
	return &Session{c: c, base: base, pool: pool}
}

// BudgetStalledUntil reports until when the budgets of the session's
// tokens hold the next request back, when that is a long wait (see
// Budget.StalledUntil).
func (s *Session) BudgetStalledUntil() time.Time { return s.pool.stalledUntil() }

// Requests reports the HTTP requests made so far, retries included.
func (s *Session) Requests() int64 { return s.pool.requests() }

// RateLimited reports the 429 responses received so far.
func (s *Session) RateLimited() int64 { return s.pool.rateLimited() }

// Tokens reports what each token of the session did.
func (s *Session) Tokens() []TokenUsage { return s.pool.Usage() }

type sessionKey struct{}

// get fetches u and hands the body of a 200 response to decode; decode's
// DecodeError decides whether the page is fetched again.
func (s *Session) get(ctx context.Context, u string, decode func(http.Header, []byte) error) error {
	return s.do(ctx, http.MethodGet, u, nil, decode)
}

// do sends method to u with a JSON body (nil: none) and hands the body of
// a 2xx response to decode (nil: ignored).
func (s *Session) do(ctx context.Context, method, u string, body []byte, decode func(http.Header, []byte) error) error {
	var payload any
	if body != nil {
		payload = body
	}
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, sessionKey{}, s), method, u, payload)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.c.opts.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	path := req.URL.Path
	req.SetResponseHandler(func(resp *http.Response) error {
		defer resp.Body.Close()
		ok := resp.StatusCode == http.StatusOK || method != http.MethodGet && resp.StatusCode/100 == 2
		if !ok {
			se := newStatusError(path, resp)
			se.Method = method
			return se
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, s.c.opts.MaxPageBytes+1))
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if int64(len(body)) > s.c.opts.MaxPageBytes {
			return &DecodeError{Path: path, Err: fmt.Errorf("response larger than %d bytes", s.c.opts.MaxPageBytes)}
		}
		if decode == nil {
			return nil
		}
		if err := decode(resp.Header, body); err != nil {
			var de *DecodeError
			if errors.As(err, &de) && de.Path == "" {
				de.Path = path
			}
			return err
		}
		return nil
	})
	resp, err := s.c.rc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// budgetTransport makes every attempt, retries included, wait for its
// credential's budget, then bounds the attempt with its own timeout (which
// must not include the budget wait), and feeds rate-limit headers back.
type budgetTransport struct {
	next http.RoundTripper
	opts *Options
}

func (t *budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s, _ := req.Context().Value(sessionKey{}).(*Session)
	if s == nil {
		return nil, errors.New("bitbucket: request without a session")
	}
	for {
		m, err := s.pool.pick()
		if err != nil {
			return nil, err
		}
		resp, err := t.send(s, m, req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized:
			why := "Bitbucket rejected the token (401): it is invalid, expired or revoked"
			changed, usable := s.pool.reject(m, why)
			if changed {
				t.opts.Log.Error().Str("token_ref", m.ref).Str("credential", m.cred.Key).Int("tokens_left", usable).
					Str("path", req.URL.Path).
					Msg("Bitbucket rejected this token (401: invalid, expired or revoked); it is not used again in this task. Replace or remove it from the connector")
			}
			if usable == 0 {
				return resp, nil
			}
		case resp.StatusCode == http.StatusTooManyRequests && s.pool.readyOther(m):
			t.opts.Log.Info().Str("token_ref", m.ref).Str("path", req.URL.Path).
				Msg("Bitbucket rate limit hit (429) on one token; the request goes to another token")
		default:
			return resp, nil
		}
		// Another token takes the request: this answer is not used.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// send makes one attempt of req with member m: it waits for m's budget,
// bounds the attempt with its own timeout (which must not include the
// budget wait), and feeds rate-limit headers back.
func (t *budgetTransport) send(s *Session, m *member, req *http.Request) (*http.Response, error) {
	if until, ok := m.budget.LongWait(); ok {
		lim := m.budget.Limit()
		t.opts.Log.Warn().Str("token_ref", m.ref).Str("credential", m.cred.Key).Int("budget_requests", lim.Requests).
			Stringer("budget_window", lim.Window).Time("next_request_at", until).
			Msg("request budget for this Bitbucket token is used up; requests wait for it (add tokens to the connector, or raise --request-budget if Bitbucket allows more)")
	}
	sent, err := m.budget.WaitFor(req.Context(), s.pool.owner)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.opts.AttemptTimeout)
	out := req.Clone(ctx)
	out.Header.Set("Authorization", "Bearer "+m.cred.token)
	resp, err := t.next.RoundTrip(out)
	m.budget.Answered(sent)
	m.requests.Add(1)
	countRequest(req.Context())
	met := t.opts.Metrics
	if err != nil {
		cancel()
		if met != nil {
			met.Requests.WithLabelValues("error").Inc()
		}
		return nil, err
	}
	if met != nil {
		met.Requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	}
	if err := t.proxyRefusal(req, resp); err != nil {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	limit, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Limit"))
	if limit > 0 {
		m.limitSeen.Store(int64(limit))
	}
	if sc := resp.Header.Get("X-OAuth-Scopes"); sc != "" {
		m.scopes.Store(sc)
	}
	if m.budget.Observe(limit, resp.Header.Get("X-RateLimit-NearLimit") == "true") {
		t.opts.Log.Info().Str("token_ref", m.ref).Str("credential", m.cred.Key).Int("limit_per_hour", limit).
			Msg("Bitbucket reported its rate limit; request budget adjusted")
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		m.rateLimited.Add(1)
		m.budget.Throttled()
		if met != nil {
			met.RateLimited.Inc()
		}
		t.opts.Log.Warn().Str("token_ref", m.ref).Str("credential", m.cred.Key).Str("path", req.URL.Path).
			Msg("Bitbucket rate limit hit (429): backing off and shrinking the request budget")
	}
	if met != nil {
		met.BudgetRemaining.WithLabelValues(m.cred.Key).Set(float64(m.budget.Remaining()))
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// proxyRefusal turns a 407 from the proxy of a plain-http request (which
// the proxy answers itself, without a tunnel) into the *proxy.AuthError that
// a refused CONNECT gives.
func (t *budgetTransport) proxyRefusal(req *http.Request, resp *http.Response) error {
	if resp.StatusCode != http.StatusProxyAuthRequired || t.opts.Proxy == nil {
		return nil
	}
	p, err := t.opts.Proxy(req)
	if err != nil || p == nil {
		return nil
	}
	return proxy.NewAuthError(p, resp.Status, req.URL.Host)
}

// cancelBody releases the attempt's timeout when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
