package bitbucket

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	t.Parallel()
	p := NewRetryPolicy(zerolog.Nop(), 1)
	resp429 := &http.Response{StatusCode: 429, Header: http.Header{}}
	for attempt := range 12 {
		d := p.Backoff(0, 0, attempt, nil)
		full := min(p.Base<<attempt, p.Max)
		if d < full/2 || d > full {
			t.Errorf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
		}
		d = p.Backoff(0, 0, attempt, resp429)
		full = min(p.RateLimitBase<<attempt, p.Max)
		if d < full/2 || d > full {
			t.Errorf("429 attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
		}
	}
	if d := p.Backoff(0, 0, 1<<40, resp429); d < p.Max/2 || d > p.Max {
		t.Errorf("a huge attempt waited %v, want within [%v, %v]", d, p.Max/2, p.Max)
	}
	// Same seed, same waits.
	a, b := NewRetryPolicy(zerolog.Nop(), 9), NewRetryPolicy(zerolog.Nop(), 9)
	for i := range 5 {
		if a.Backoff(0, 0, i, nil) != b.Backoff(0, 0, i, nil) {
			t.Fatal("backoff is not reproducible from the seed")
		}
	}
}

func TestRetryAfterIsHonouredButCapped(t *testing.T) {
	t.Parallel()
	p := NewRetryPolicy(zerolog.Nop(), 1)
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{{"3", 3 * time.Second}, {"999999", p.Max}} {
		resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {tt.header}}}
		if got := p.Backoff(0, 0, 0, resp); got != tt.want {
			t.Errorf("Retry-After %s: %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestCheckRetryClassifies(t *testing.T) {
	t.Parallel()
	p := NewRetryPolicy(zerolog.Nop(), 1)
	ctx := context.Background()
	resp := func(code int) *http.Response {
		return &http.Response{StatusCode: code, Status: http.StatusText(code), Body: io.NopCloser(nil)}
	}
	tests := []struct {
		name string
		resp *http.Response
		err  error
		want bool
	}{
		{"ok", resp(200), nil, false},
		{"429", resp(429), nil, true},
		{"500", resp(500), nil, true},
		{"502", resp(502), nil, true},
		{"501 is not transient", resp(501), nil, false},
		{"404", resp(404), nil, false},
		{"connection reset", nil, errors.New("read: connection reset by peer"), true},
		{"garbled page", resp(200), &DecodeError{Err: errors.New("bad"), Retryable: true}, true},
		{"oversized page", resp(200), &DecodeError{Err: errors.New("big")}, false},
		{"definite 403", resp(403), &StatusError{Code: 403}, false},
	}
	for _, tt := range tests {
		if got, _ := p.CheckRetry(ctx, tt.resp, tt.err); got != tt.want {
			t.Errorf("%s: retry %v, want %v", tt.name, got, tt.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if got, _ := p.CheckRetry(cancelled, resp(503), nil); got {
		t.Error("retrying after the caller gave up")
	}
}
