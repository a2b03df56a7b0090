package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Sessions is what the session layer needs from the store.
type Sessions interface {
	CreateConsoleSession(ctx context.Context, s store.ConsoleSession) error
	ConsoleSession(ctx context.Context, idHash string) (store.ConsoleSession, error)
	TouchConsoleSession(ctx context.Context, idHash string, at time.Time) error
	DeleteConsoleSession(ctx context.Context, idHash string) error
	PurgeConsoleSessions(ctx context.Context, now, idleSince time.Time) (int64, error)
}

const (
	sessionPath = "/console/session"
	cookieName  = "idp_session"
	csrfHeader  = "X-CSRF-Token"
	// sessionPrefix marks session ids for secret scanners, like the
	// prefixes of API keys and delegate tokens.
	sessionPrefix = "idp_cs_"
	// maxSignInBody bounds the sign-in request: an API key is 59 bytes.
	maxSignInBody = 4 << 10
	// touchEvery is how stale last_seen_at may get before an API call
	// writes it again: idle expiry is exact to the minute, and a busy
	// console does not write on every call.
	touchEvery = time.Minute
)

// sessionManager signs consoles in and out and turns a session cookie
// into the API key it acts as.
type sessionManager struct {
	store  Sessions
	auth   *auth.Authenticator
	idle   time.Duration
	max    time.Duration
	clock  clock.Clock
	secure bool
	log    zerolog.Logger
}

// sessionView is the JSON answer of sign-in and of GET.
type sessionView struct {
	CSRFToken   string   `json:"csrfToken"`
	AccountID   string   `json:"accountId"`
	KeyName     string   `json:"keyName"`
	Permissions []string `json:"permissions"`
	// ExpiresAt is the absolute end; a session unused for the idle
	// timeout ends earlier.
	ExpiresAt time.Time `json:"expiresAt"`
}

var (
	errNoSession = fault.New(fault.Unauthenticated, ReasonSessionInvalid,
		"no console session, or it expired or was signed out: sign in again with an API key")
	errBadKey = fault.New(fault.Unauthenticated, auth.ReasonInvalidAPIKey,
		"unknown or malformed API key: sign in with a key idp_ak_... as `controlplane admin bootstrap` or `admin api-key create` printed it")
	errCSRF = fault.New(fault.PermissionDenied, ReasonCSRFTokenInvalid,
		"missing or wrong CSRF token: a call with the session cookie must send the header %s with the csrfToken of its session", csrfHeader)
)

func (m *sessionManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		m.signIn(w, r)
	case http.MethodGet:
		m.show(w, r)
	case http.MethodDelete:
		m.signOut(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, r, m.log, fault.New(fault.Invalid, "METHOD_NOT_ALLOWED", "%s %s: use POST to sign in, GET to read the session, DELETE to sign out", r.Method, sessionPath))
	}
}

// signIn exchanges an API key for a session. The body must be JSON: a
// cross-site form cannot send that without the browser asking first, and
// a cross-site Origin is refused, so no other site can sign a visitor in
// with a key of its choosing.
func (m *sessionManager) signIn(w http.ResponseWriter, r *http.Request) {
	if err := sameOrigin(r); err != nil {
		writeError(w, r, m.log, err)
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, r, m.log, fault.New(fault.Invalid, "UNSUPPORTED_CONTENT_TYPE", "sign in with Content-Type: application/json and the body {\"apiKey\":\"idp_ak_...\"}"))
		return
	}
	var body struct {
		APIKey string `json:"apiKey"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignInBody))
	if err := dec.Decode(&body); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, r, m.log, fault.InvalidField("apiKey", "the body must be one JSON object {\"apiKey\":\"idp_ak_...\"} of at most %d bytes", maxSignInBody))
		return
	}
	if body.APIKey == "" {
		writeError(w, r, m.log, fault.InvalidField("apiKey", "apiKey is required: an API key idp_ak_... (controlplane admin api-key create)"))
		return
	}
	ctx := r.Context()
	key, err := m.auth.APIKey(ctx, strings.TrimSpace(body.APIKey))
	if fault.CodeOf(err) == fault.Unauthenticated {
		err = errBadKey
	}
	if err != nil {
		writeError(w, r, m.log, err)
		return
	}
	now := m.clock.Now()
	if n, err := m.store.PurgeConsoleSessions(ctx, now, now.Add(-m.idle)); err != nil {
		m.log.Warn().Err(err).Msg("purging ended console sessions failed; retried at the next sign-in")
	} else if n > 0 {
		m.log.Debug().Int64("sessions", n).Msg("purged ended console sessions")
	}
	id := auth.NewToken(sessionPrefix)
	s := store.ConsoleSession{IDHash: auth.Hash(id), APIKeyID: key.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.max)}
	if err := m.store.CreateConsoleSession(ctx, s); err != nil {
		writeError(w, r, m.log, err)
		return
	}
	m.log.Info().Str("account", key.AccountID).Str("key", key.Name).Time("expires_at", s.ExpiresAt).Msg("console signed in")
	http.SetCookie(w, m.cookie(id))
	writeJSON(w, http.StatusOK, view(id, key, s))
}

// show answers the current session, without counting as activity.
func (m *sessionManager) show(w http.ResponseWriter, r *http.Request) {
	id, ok := sessionCookie(r)
	if !ok {
		writeError(w, r, m.log, errNoSession)
		return
	}
	s, err := m.lookup(r.Context(), id)
	if err != nil {
		writeError(w, r, m.log, err)
		return
	}
	key, err := m.auth.APIKeyByHash(r.Context(), s.APIKeyHash)
	if err != nil {
		writeError(w, r, m.log, err)
		return
	}
	writeJSON(w, http.StatusOK, view(id, key, s))
}

// signOut ends the session; without one there is nothing to end.
func (m *sessionManager) signOut(w http.ResponseWriter, r *http.Request) {
	if id, ok := sessionCookie(r); ok {
		if !csrfValid(r, id) {
			writeError(w, r, m.log, errCSRF)
			return
		}
		if err := m.store.DeleteConsoleSession(r.Context(), auth.Hash(id)); err != nil {
			writeError(w, r, m.log, err)
			return
		}
	}
	c := m.cookie("")
	c.MaxAge = -1
	http.SetCookie(w, c)
	w.WriteHeader(http.StatusNoContent)
}

// authorize checks a cookie call to the API: the CSRF token first (it
// needs no database), then the session, which the call keeps alive.
func (m *sessionManager) authorize(r *http.Request, id string) (store.ConsoleSession, error) {
	if !csrfValid(r, id) {
		return store.ConsoleSession{}, errCSRF
	}
	s, err := m.lookup(r.Context(), id)
	if err != nil {
		return store.ConsoleSession{}, err
	}
	if now := m.clock.Now(); now.Sub(s.LastSeenAt) >= touchEvery {
		if err := m.store.TouchConsoleSession(r.Context(), s.IDHash, now); err != nil {
			return store.ConsoleSession{}, err
		}
	}
	return s, nil
}

// lookup returns the session of a cookie value while it lasts: until its
// absolute end, and until it has been unused for the idle timeout. An
// ended session is deleted on sight.
func (m *sessionManager) lookup(ctx context.Context, id string) (store.ConsoleSession, error) {
	s, err := m.store.ConsoleSession(ctx, auth.Hash(id))
	if fault.CodeOf(err) == fault.NotFound {
		return store.ConsoleSession{}, errNoSession
	}
	if err != nil {
		return store.ConsoleSession{}, err
	}
	now := m.clock.Now()
	if !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(m.idle)) {
		if err := m.store.DeleteConsoleSession(ctx, s.IDHash); err != nil {
			m.log.Warn().Err(err).Msg("deleting an ended console session failed; the next sign-in purges it")
		}
		return store.ConsoleSession{}, errNoSession
	}
	return s, nil
}

func (m *sessionManager) cookie(value string) *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: value, Path: "/", HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteStrictMode}
}

func view(id string, key auth.APIKey, s store.ConsoleSession) sessionView {
	perms := make([]string, len(key.Permissions))
	for i, p := range key.Permissions {
		perms[i] = string(p)
	}
	return sessionView{CSRFToken: csrfToken(id), AccountID: key.AccountID, KeyName: key.Name, Permissions: perms, ExpiresAt: s.ExpiresAt.UTC()}
}

// sessionCookie returns the session id the request carries.
func sessionCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || !strings.HasPrefix(c.Value, sessionPrefix) {
		return "", false
	}
	return c.Value, true
}

// csrfToken derives the session's CSRF token from its id: the server can
// recompute it from the cookie on every call and keeps nothing more, and
// the token (readable by the page) reveals nothing about the id (the
// cookie, which the page cannot read).
func csrfToken(id string) string {
	sum := sha256.Sum256([]byte("idp-console-csrf\x00" + id))
	return hex.EncodeToString(sum[:])
}

func csrfValid(r *http.Request, id string) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(csrfToken(id))) == 1
}

// sameOrigin refuses a request whose Origin header names another site.
// Browsers send Origin with every POST; curl sends none.
func sameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return fault.New(fault.PermissionDenied, ReasonOriginRejected, "requests from origin %q are not accepted; open the console at this server's own address", origin)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // fails only when the client went away
}
