package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/hooksvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Hooks receives webhook deliveries; *hooksvc.Service implements it.
type Hooks interface {
	Receive(ctx context.Context, d hooksvc.Delivery) (duplicate bool, err error)
	Count(integration, result string)
}

// Rate of deliveries one source address may send: Bitbucket's senders
// spread over many addresses and send a workspace's events as they happen;
// a source far above this is not Bitbucket.
const (
	DefaultHookRate  = 50  // per second, sustained
	DefaultHookBurst = 200 // at once
)

// hookReceiver is POST /hooks/bitbucket/{integration}. It answers as soon
// as the delivery is stored: 202 accepted, 200 for a delivery stored
// before (Bitbucket retries; a replay changes nothing), 401 for an
// unknown integration or a bad signature alike, 400 for a signed but
// unusable delivery, 413 above Bitbucket's 256 KB, 429 for a source over
// its rate. Bodies say no more than the status.
type hookReceiver struct {
	hooks   Hooks
	limiter *sourceLimiter
	log     zerolog.Logger
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, webhook.Path)
	if r.Method != http.MethodPost || id == "" || strings.Contains(id, "/") {
		hookAnswer(w, http.StatusNotFound, "not found")
		return
	}
	if !h.limiter.allow(sourceOf(r)) {
		h.hooks.Count(hooksvc.UnknownIntegration, hooksvc.ResultRateLimited)
		w.Header().Set("Retry-After", "1")
		hookAnswer(w, http.StatusTooManyRequests, "too many deliveries from this address")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhook.MaxPayload))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.hooks.Count(hooksvc.UnknownIntegration, hooksvc.ResultTooLarge)
		hookAnswer(w, http.StatusRequestEntityTooLarge, "payload over 256 KB")
		return
	case err != nil:
		hookAnswer(w, http.StatusBadRequest, "unreadable body")
		return
	}
	attempt, _ := strconv.Atoi(r.Header.Get("X-Attempt-Number"))
	dup, err := h.hooks.Receive(r.Context(), hooksvc.Delivery{IntegrationID: id, Event: r.Header.Get("X-Event-Key"),
		RequestUUID: strings.Trim(r.Header.Get("X-Request-UUID"), "{}"), Attempt: attempt,
		Signature: r.Header.Get("X-Hub-Signature"), Body: body})
	switch {
	case errors.Is(err, hooksvc.ErrUnauthorized):
		hookAnswer(w, http.StatusUnauthorized, "signature missing or invalid")
	case errors.Is(err, hooksvc.ErrMalformed):
		hookAnswer(w, http.StatusBadRequest, err.Error())
	case err != nil:
		h.log.Error().Err(err).Msg("webhook delivery could not be stored; Bitbucket retries it")
		hookAnswer(w, http.StatusServiceUnavailable, "not stored; retry")
	case dup:
		hookAnswer(w, http.StatusOK, "duplicate: stored before")
	default:
		hookAnswer(w, http.StatusAccepted, "accepted")
	}
}

func hookAnswer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": msg})
}

// sourceOf is the address a request came from. Forwarded headers are not
// trusted: anyone may set them.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sourceLimiter is a token bucket per source address.
type sourceLimiter struct {
	mu      sync.Mutex
	clock   clock.Clock
	rate    float64
	burst   float64
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newSourceLimiter(clk clock.Clock, rate, burst int) *sourceLimiter {
	return &sourceLimiter{clock: clk, rate: float64(rate), burst: float64(burst), buckets: map[string]*bucket{}, swept: clk.Now()}
}

func (l *sourceLimiter) allow(source string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if now.Sub(l.swept) > time.Minute {
		// Full buckets hold no state worth keeping.
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[source]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[source] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
