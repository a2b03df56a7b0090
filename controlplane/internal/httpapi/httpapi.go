package httpapi

import (
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Config is what the HTTP face is built from.
type Config struct {
	// GRPC serves every call; Services are the full names of those of its
	// services mounted under /api/ (rpc.ManagementServices). Its
	// DelegateService is mounted under /delegate/.
	GRPC     *grpc.Server
	Services []string
	Auth     *auth.Authenticator
	Sessions Sessions
	// Console is the built single-page app; nil serves no console.
	Console fs.FS
	// TLS is true when the listener serves TLS: cookies are then Secure.
	TLS bool
	// SessionIdle ends a session unused for this long; SessionMax ends
	// every session this long after sign-in.
	SessionIdle time.Duration
	SessionMax  time.Duration
	Clock       clock.Clock
	// Hooks, when set, receives Bitbucket webhook deliveries under
	// /hooks/bitbucket/ (webhook.Path), limited per source address to
	// HookRate a second with bursts of HookBurst (zero: the defaults).
	Hooks     Hooks
	HookRate  int
	HookBurst int
	Log       zerolog.Logger
}

// Default session lifetimes.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
)

// New returns the handler of the HTTP listener.
func New(c Config) (http.Handler, error) {
	switch {
	case c.GRPC == nil || c.Auth == nil || c.Sessions == nil || c.Clock == nil:
		return nil, errors.New("httpapi: GRPC, Auth, Sessions and Clock are required")
	case c.SessionIdle <= 0 || c.SessionMax <= 0:
		return nil, errors.New("httpapi: session lifetimes must be positive")
	}
	sessions := &sessionManager{store: c.Sessions, auth: c.Auth, idle: c.SessionIdle, max: c.SessionMax,
		clock: c.Clock, secure: c.TLS, log: c.Log}
	api, err := newAPI(c.GRPC, c.Services, sessions, c.Log)
	if err != nil {
		return nil, err
	}
	delegates, err := newDelegateAPI(c.GRPC, c.Log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(apiPrefix, http.StripPrefix(strings.TrimSuffix(apiPrefix, "/"), api))
	mux.Handle(delegatePrefix, http.StripPrefix(strings.TrimSuffix(delegatePrefix, "/"), delegates))
	mux.Handle(sessionPath, sessions)
	if c.Hooks != nil {
		rate, burst := c.HookRate, c.HookBurst
		if rate <= 0 {
			rate = DefaultHookRate
		}
		if burst <= 0 {
			burst = DefaultHookBurst
		}
		mux.Handle(webhook.Path, &hookReceiver{hooks: c.Hooks, limiter: newSourceLimiter(c.Clock, rate, burst), log: c.Log})
	}
	mux.Handle("/console/", notFound{log: c.Log})
	if c.Console != nil {
		mux.Handle("/", &static{files: c.Console})
	}
	return securityHeaders(mux), nil
}

// securityHeaders are sent with every response; the console's page adds
// its Content-Security-Policy (static.go).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
