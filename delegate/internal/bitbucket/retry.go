package bitbucket

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
)

// RetryPolicy is the one place that decides whether a Bitbucket request is
// retried and how long to wait. It replaces go-retryablehttp's defaults,
// which give up on a 429 after about 15 s and would trust an uncapped
// Retry-After.
type RetryPolicy struct {
	// Base is the first wait after a connection error, a 5xx or a bad page.
	Base time.Duration
	// RateLimitBase is the first wait after a 429: the window is an hour,
	// so hammering helps nobody.
	RateLimitBase time.Duration
	// Max caps every wait, Retry-After included.
	Max time.Duration
	// Attempts is the total number of tries of one request.
	Attempts int

	Log zerolog.Logger

	jitter *backoff.Source
}

// NewRetryPolicy returns the production policy; seed makes jitter
// reproducible in tests.
func NewRetryPolicy(log zerolog.Logger, seed uint64) *RetryPolicy {
	return &RetryPolicy{
		Base:          500 * time.Millisecond,
		RateLimitBase: 10 * time.Second,
		Max:           2 * time.Minute,
		Attempts:      8,
		Log:           log,
		jitter:        backoff.New(seed),
	}
}

var errRateLimited = errors.New("rate limited (429)")

// CheckRetry is go-retryablehttp's CheckRetry: retry connection errors,
// 5xx (except 501), 429 and pages that came back garbled; never after the
// caller gave up, and never a proxy's 407.
func (p *RetryPolicy) CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	retry, reason := p.classify(resp, err)
	if retry {
		ev := p.Log.Debug().Str("reason", reason.Error())
		if resp != nil && resp.Request != nil {
			ev = ev.Str("path", resp.Request.URL.Path)
		}
		ev.Msg("bitbucket request will be retried")
	}
	return retry, reason
}

func (p *RetryPolicy) classify(resp *http.Response, err error) (bool, error) {
	if err != nil {
		var se *StatusError
		var de *DecodeError
		var ue *url.Error
		var unknownAuthority x509.UnknownAuthorityError
		var hostname x509.HostnameError
		var invalid x509.CertificateInvalidError
		var refused *proxy.AuthError
		switch {
		case errors.As(err, &refused):
			return false, err // the same credentials get the same 407, and lock accounts
		case errors.As(err, &se):
			return false, nil // a definite answer (4xx); the handler's error stands
		case errors.As(err, &de):
			return de.Retryable, err
		case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid):
			return false, err // TLS trust problems do not heal by retrying
		case errors.As(err, &ue) && ue.Err != nil && errors.Is(ue.Err, context.Canceled):
			return false, err
		default:
			return true, err
		}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return true, errRateLimited
	case resp.StatusCode == 0, resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, fmt.Errorf("server error %s", resp.Status)
	}
	return false, nil
}

// Backoff is go-retryablehttp's Backoff: exponential with equal jitter
// (half fixed, half random, so waits grow but callers do not synchronise),
// from RateLimitBase after a 429 and Base otherwise, capped at Max. A
// Retry-After, which Bitbucket does not normally send, is honoured but
// capped too.
func (p *RetryPolicy) Backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	base := p.Base
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if s := resp.Header.Get("Retry-After"); s != "" {
			if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
				return min(time.Duration(secs)*time.Second, p.Max)
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			base = p.RateLimitBase
		}
	}
	return p.jitter.Delay(base, p.Max, attempt)
}
