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
	"sync/atomic"
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
	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: &budgetTransport{next: tr, opts: &opts}},
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

// Session is a Client bound to one API base URL and credential; it counts
// the requests it makes for the task's progress.
type Session struct {
	c      *Client
	base   *url.URL
	cred   Credential
	budget *Budget

	requests    atomic.Int64
	rateLimited atomic.Int64
}

// Session binds the client to base (e.g. https://api.bitbucket.org/2.0)
// and cred.
func (c *Client) Session(base *url.URL, cred Credential) *Session {
	return &Session{c: c, base: base, cred: cred, budget: c.opts.Budgets.For(cred.Key)}
}

// BudgetStalledUntil reports until when this credential's budget holds the
// next request back, when that is a long wait (see Budget.StalledUntil).
func (s *Session) BudgetStalledUntil() time.Time { return s.budget.StalledUntil() }

// Requests reports the HTTP requests made so far, retries included.
func (s *Session) Requests() int64 { return s.requests.Load() }

// RateLimited reports the 429 responses received so far.
func (s *Session) RateLimited() int64 { return s.rateLimited.Load() }

// Budget returns the session's budget.
func (s *Session) Budget() *Budget { return s.budget }

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
	req.Header.Set("Authorization", "Bearer "+s.cred.token)
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
	if until, ok := s.budget.LongWait(); ok {
		lim := s.budget.Limit()
		t.opts.Log.Warn().Str("credential", s.cred.Key).Int("budget_requests", lim.Requests).
			Stringer("budget_window", lim.Window).Time("next_request_at", until).
			Msg("request budget for this Bitbucket credential is used up; requests wait for it (raise it with --request-budget if Bitbucket allows more)")
	}
	sent, err := s.budget.Wait(req.Context())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.opts.AttemptTimeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	s.budget.Answered(sent)
	s.requests.Add(1)
	m := t.opts.Metrics
	if err != nil {
		cancel()
		if m != nil {
			m.Requests.WithLabelValues("error").Inc()
		}
		return nil, err
	}
	if m != nil {
		m.Requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	}
	if err := t.proxyRefusal(req, resp); err != nil {
		resp.Body.Close()
		cancel()
		return nil, err
	}
	limit, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Limit"))
	if s.budget.Observe(limit, resp.Header.Get("X-RateLimit-NearLimit") == "true") {
		t.opts.Log.Info().Str("credential", s.cred.Key).Int("limit_per_hour", limit).
			Msg("Bitbucket reported its rate limit; request budget adjusted")
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		s.rateLimited.Add(1)
		s.budget.Throttled()
		if m != nil {
			m.RateLimited.Inc()
		}
		t.opts.Log.Warn().Str("credential", s.cred.Key).Str("path", req.URL.Path).
			Msg("Bitbucket rate limit hit (429): backing off and shrinking the request budget")
	}
	if m != nil {
		m.BudgetRemaining.WithLabelValues(s.cred.Key).Set(float64(s.budget.Remaining()))
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
