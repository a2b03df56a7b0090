package bitbucketmock

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Webhook deliveries. Every change made through the control API is an event;
// each active hook subscribed to it gets the payload by POST, signed when the
// hook has a secret, as Bitbucket delivers it: best effort, three attempts
// at most, retried only on a 5xx answer or no answer in time, never
// replayed. Deliveries run in the background, so a change never waits for a
// receiver; FlushDeliveries waits for them.

// Delivery limits and defaults, from Bitbucket's documentation of webhooks.
const (
	// deliveryAttempts is the first attempt and two retries.
	deliveryAttempts = 3
	// DefaultDeliveryTimeout is how long a receiver has to answer.
	DefaultDeliveryTimeout = 10 * time.Second
	// DefaultDeliveryRetryDelay is the wait before each retry: observers
	// report retries come almost at once, without backoff.
	DefaultDeliveryRetryDelay = time.Second
	// maxPayload is the payload size above which Bitbucket drops a delivery
	// without a word.
	maxPayload = 256 << 10
	// deliveryUserAgent is what Bitbucket's webhook sender calls itself.
	deliveryUserAgent = "Bitbucket-Webhooks/2.0"
	// maxConcurrentDeliveries bounds the POSTs in flight.
	maxConcurrentDeliveries = 8
)

// DeliveryConfig tunes webhook deliveries. The zero value delivers
// everything with Bitbucket's timeout and retry delay.
type DeliveryConfig struct {
	// Drop is the fraction of deliveries never sent, 0 to 1. Whether
	// delivery number n (counted from 1) is dropped depends only on
	// (Config.Seed, n), so the same run drops the same deliveries.
	Drop float64
	// Timeout is how long a receiver has to answer one attempt; 0 means
	// DefaultDeliveryTimeout.
	Timeout time.Duration
	// RetryDelay is the wait before each retry; 0 means
	// DefaultDeliveryRetryDelay.
	RetryDelay time.Duration
	// Sleep waits d before a retry and reports whether the wait passed
	// (false once ctx ends); default a real timer. Tests inject one that
	// returns at once, so retries take no time.
	Sleep func(ctx context.Context, d time.Duration) bool
}

func (d DeliveryConfig) validate() error {
	if d.Drop < 0 || d.Drop > 1 {
		return fmt.Errorf("%w: delivery drop rate %v: want a fraction between 0 and 1", ErrInvalid, d.Drop)
	}
	if d.Timeout < 0 || d.RetryDelay < 0 {
		return fmt.Errorf("%w: delivery timeout and retry delay must not be negative", ErrInvalid)
	}
	return nil
}

func (d DeliveryConfig) withDefaults() DeliveryConfig {
	if d.Timeout == 0 {
		d.Timeout = DefaultDeliveryTimeout
	}
	if d.RetryDelay == 0 {
		d.RetryDelay = DefaultDeliveryRetryDelay
	}
	if d.Sleep == nil {
		d.Sleep = sleep
	}
	return d
}

// DeliveryCounters count webhook deliveries; one delivery is one event sent
// to one hook, whatever its number of attempts.
type DeliveryCounters struct {
	// Attempts counts POSTs sent, retries included.
	Attempts int `json:"attempts"`
	// Successes counts deliveries a receiver accepted with a 2xx.
	Successes int `json:"successes"`
	// Failures counts deliveries given up: a non-2xx answer below 500, or
	// three attempts without success.
	Failures int `json:"failures"`
	// Dropped counts deliveries never sent: drawn by the drop switch, or a
	// payload over 256 KB.
	Dropped int `json:"dropped"`
	// ByEvent counts deliveries by event key, dropped ones included.
	ByEvent map[string]int `json:"by_event"`
}

// delivery is one event on its way to one hook.
type delivery struct {
	event, hookUUID, requestUUID string
	url, secret                  string
	body                         []byte
}

// deliveryState sends deliveries and tracks those in flight.
type deliveryState struct {
	mu      sync.Mutex
	cfg     DeliveryConfig // defaults applied
	n       uint64         // deliveries numbered so far
	apiBase string         // where links in payloads lead
	pending int
	idle    chan struct{} // closed when pending falls to 0
	ctx     context.Context
	cancel  context.CancelFunc
	sem     chan struct{}
	client  *http.Client
}

func (d *deliveryState) init(cfg DeliveryConfig) {
	d.cfg = cfg.withDefaults()
	d.apiBase = "https://api.bitbucket.org/2.0"
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.sem = make(chan struct{}, maxConcurrentDeliveries)
	// No proxy from the environment and no redirects: the receiver's
	// address is dialled as given, and a redirect is a failed delivery.
	d.client = &http.Client{
		Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: maxConcurrentDeliveries},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (d *deliveryState) settings() DeliveryConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *deliveryState) view() view {
	d.mu.Lock()
	defer d.mu.Unlock()
	return view{api: d.apiBase, web: webBase}
}

// SetDeliveries replaces the delivery settings; deliveries in flight keep
// the ones they started with.
func (s *Server) SetDeliveries(cfg DeliveryConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	s.deliveries.mu.Lock()
	defer s.deliveries.mu.Unlock()
	s.deliveries.cfg = cfg.withDefaults()
	return nil
}

// Deliveries returns the delivery settings, defaults filled in.
func (s *Server) Deliveries() DeliveryConfig { return s.deliveries.settings() }

// FlushDeliveries waits until every delivery queued so far has succeeded,
// failed or been dropped, or until ctx ends.
func (s *Server) FlushDeliveries(ctx context.Context) error {
	d := &s.deliveries
	d.mu.Lock()
	if d.pending == 0 {
		d.mu.Unlock()
		return nil
	}
	idle := d.idle
	d.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("deliveries still in flight: %w", ctx.Err())
	}
}

// emit sends event to every active hook subscribed to it. payload renders
// the body; it is called only if some hook wants the event, under the lock
// the caller holds on the data.
func (s *Server) emit(event string, payload func(v view) obj) {
	hooks := s.hooks.subscribed(event)
	if len(hooks) == 0 {
		return
	}
	d := &s.deliveries
	body := encodeJSON(nil, payload(d.view()))
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range hooks {
		d.n++
		g := newRNG(uint64(s.cfg.Seed), kindDelivery, d.n)
		dropped := g.chance(d.cfg.Drop) || len(body) > maxPayload
		s.counters.delivery(event, func(c *DeliveryCounters) {
			if dropped {
				c.Dropped++
			}
		})
		if dropped {
			s.cfg.Logger.Debug().Str("event", event).Str("hook", h.uuid).Msg("delivery dropped")
			continue
		}
		dl := delivery{event: event, hookUUID: strings.Trim(h.uuid, "{}"), requestUUID: strings.Trim(g.uuid(), "{}"),
			url: h.url, secret: h.secret, body: body}
		if d.pending == 0 {
			d.idle = make(chan struct{})
		}
		d.pending++
		go s.deliver(dl, d.cfg)
	}
}

// deliver makes up to three attempts at dl.
func (s *Server) deliver(dl delivery, cfg DeliveryConfig) {
	d := &s.deliveries
	defer func() {
		d.mu.Lock()
		d.pending--
		if d.pending == 0 {
			close(d.idle)
		}
		d.mu.Unlock()
	}()
	ok := false
	for attempt := 1; attempt <= deliveryAttempts; attempt++ {
		if attempt > 1 && !cfg.Sleep(d.ctx, cfg.RetryDelay) {
			break
		}
		status, err := s.attempt(dl, attempt, cfg.Timeout)
		s.counters.delivery("", func(c *DeliveryCounters) { c.Attempts++ })
		s.cfg.Logger.Debug().Str("event", dl.event).Str("hook", dl.hookUUID).Str("request", dl.requestUUID).
			Int("attempt", attempt).Int("status", status).AnErr("error", err).Msg("delivery")
		if err == nil && status >= 200 && status < 300 {
			ok = true
			break
		}
		if err == nil && status < 500 {
			break // the receiver refused it: Bitbucket retries only 5xx and timeouts
		}
	}
	s.counters.delivery("", func(c *DeliveryCounters) {
		if ok {
			c.Successes++
		} else {
			c.Failures++
		}
	})
}

// attempt POSTs dl once and returns the receiver's status.
func (s *Server) attempt(dl delivery, n int, timeout time.Duration) (int, error) {
	d := &s.deliveries
	select {
	case d.sem <- struct{}{}:
	case <-d.ctx.Done():
		return 0, d.ctx.Err()
	}
	defer func() { <-d.sem }()
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dl.url, bytes.NewReader(dl.body))
	if err != nil {
		return 0, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", deliveryUserAgent)
	h.Set("X-Event-Key", dl.event)
	h.Set("X-Hook-UUID", dl.hookUUID)
	h.Set("X-Request-UUID", dl.requestUUID)
	h.Set("X-Attempt-Number", strconv.Itoa(n))
	if dl.secret != "" {
		h.Set("X-Hub-Signature", Signature(dl.secret, dl.body))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close() // the answer's body means nothing to Bitbucket
	return resp.StatusCode, nil
}

// Signature is the X-Hub-Signature Bitbucket sends for body under secret:
// "sha256=" and the hex HMAC-SHA256 of the raw body.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// stopDeliveries cancels deliveries in flight and makes later ones fail at
// once.
func (d *deliveryState) stop() { d.cancel() }
