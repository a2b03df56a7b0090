package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/httpapi"
)

const listIntegrations = "idp.integration.v1.IntegrationService/ListIntegrations"

type session struct {
	CSRFToken   string    `json:"csrfToken"`
	AccountID   string    `json:"accountId"`
	KeyName     string    `json:"keyName"`
	Permissions []string  `json:"permissions"`
	ExpiresAt   time.Time `json:"expiresAt"`
	cookie      *http.Cookie
}

// signIn opens a session for key with a browser-like client.
func (h *harness) signIn(c *http.Client, key string) session {
	h.t.Helper()
	r := h.do(c, http.MethodPost, "/console/session", `{"apiKey":"`+key+`"}`, "Content-Type: application/json")
	var s session
	jsonBody(h.t, r, &s)
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "idp_session" {
			s.cookie = ck
		}
	}
	if s.cookie == nil {
		h.t.Fatalf("sign-in set no idp_session cookie: %v", r.header)
	}
	return s
}

func csrf(s session) string { return "X-CSRF-Token: " + s.CSRFToken }

func TestSignIn(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "tls"}[tls], func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{tls: tls})
			c := h.client()
			s := h.signIn(c, h.admin)
			if s.AccountID != "acme" || s.KeyName != "test" || s.CSRFToken == "" || len(s.Permissions) != len(auth.AllPermissions) {
				t.Errorf("session %+v", s)
			}
			if want := h.clock.Now().Add(12 * time.Hour); !s.ExpiresAt.Equal(want) {
				t.Errorf("expiresAt %v, want %v", s.ExpiresAt, want)
			}
			ck := s.cookie
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != tls {
				t.Errorf("cookie %v: want HttpOnly, SameSite=Strict, Path=/, Secure=%v", ck, tls)
			}
			if !strings.HasPrefix(ck.Value, "idp_cs_") {
				t.Errorf("session id %q lacks its prefix", ck.Value)
			}
			// Only the hash of the id is stored.
			if _, err := h.db.ConsoleSession(t.Context(), auth.Hash(ck.Value)); err != nil {
				t.Errorf("session by hash: %v", err)
			}
			if _, err := h.db.ConsoleSession(t.Context(), ck.Value); err == nil {
				t.Error("the raw session id is a key of the store")
			}

			// The session reads back without a new token.
			var again session
			jsonBody(t, h.do(c, http.MethodGet, "/console/session", ""), &again)
			if again.CSRFToken != s.CSRFToken || again.AccountID != "acme" {
				t.Errorf("GET session %+v, signed in as %+v", again, s)
			}
			// A cookie call with the token runs as the key.
			if r := h.call(c, listIntegrations, "{}", csrf(s)); r.status != http.StatusOK {
				t.Fatalf("list with session: HTTP %d %s", r.status, r.body)
			}
		})
	}
}

func TestSignInRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	c := h.client()
	post := func(body string, headers ...string) response {
		return h.do(c, http.MethodPost, "/console/session", body, append([]string{"Content-Type: application/json"}, headers...)...)
	}
	wantError(t, post(`{"apiKey":"idp_ak_unknown"}`), http.StatusUnauthorized, "unauthenticated", auth.ReasonInvalidAPIKey)
	wantError(t, post(`{"apiKey":"`+h.admin+`x"}`), http.StatusUnauthorized, "unauthenticated", auth.ReasonInvalidAPIKey)
	for _, body := range []string{``, `{}`, `{"apiKey":""}`, `not json`, `{"apiKey":"k"} {"apiKey":"k"}`, `{"apiKey":` + strings.Repeat(" ", 5000) + `"k"}`} {
		e := wantError(t, post(body), http.StatusBadRequest, "invalid_argument", "")
		if v := e.bad.GetFieldViolations(); len(v) != 1 || v[0].GetField() != "apiKey" {
			t.Errorf("body %.20q: violations %v", body, v)
		}
	}
	// A form post from another site cannot sign a visitor in.
	r := h.do(c, http.MethodPost, "/console/session", "apiKey="+h.admin, "Content-Type: application/x-www-form-urlencoded")
	wantError(t, r, http.StatusBadRequest, "invalid_argument", "")
	wantError(t, post(`{"apiKey":"`+h.admin+`"}`, "Origin: https://evil.example"), http.StatusForbidden, "permission_denied", httpapi.ReasonOriginRejected)
	if r := post(`{"apiKey":"`+h.admin+`"}`, "Origin: "+h.srv.URL); r.status != http.StatusOK {
		t.Errorf("same-origin sign-in: HTTP %d %s", r.status, r.body)
	}
	wantError(t, h.do(h.client(), http.MethodGet, "/console/session", ""), http.StatusUnauthorized, "unauthenticated", httpapi.ReasonSessionInvalid)
	r = h.do(c, http.MethodPut, "/console/session", "{}")
	if r.status != http.StatusBadRequest || r.header.Get("Allow") == "" {
		t.Errorf("PUT: HTTP %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}

func TestSessionCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	c := h.client()
	s := h.signIn(c, h.admin)

	// CSRF: a cookie call without the token, or with another's, is refused.
	wantError(t, h.call(c, listIntegrations, "{}"), http.StatusForbidden, "permission_denied", httpapi.ReasonCSRFTokenInvalid)
	wantError(t, h.call(c, listIntegrations, "{}", "X-CSRF-Token: "+strings.Repeat("0", 64)), http.StatusForbidden, "permission_denied", httpapi.ReasonCSRFTokenInvalid)
	other := h.signIn(h.client(), h.admin)
	wantError(t, h.call(c, listIntegrations, "{}", csrf(other)), http.StatusForbidden, "permission_denied", httpapi.ReasonCSRFTokenInvalid)
	if r := h.call(c, listIntegrations, "{}", csrf(s)); r.status != http.StatusOK {
		t.Fatalf("HTTP %d %s", r.status, r.body)
	}

	// A session acts as its key: same permissions as the key over gRPC.
	viewer := h.key("acme", auth.CatalogView)
	vc := h.client()
	vs := h.signIn(vc, viewer)
	wantError(t, h.call(vc, listIntegrations, "{}", csrf(vs)), http.StatusForbidden, "permission_denied", auth.ReasonPermissionMissing)
	if r := h.call(vc, "idp.catalog.v1.CatalogService/ListEntities", "{}", csrf(vs)); r.status != http.StatusOK {
		t.Fatalf("viewer lists entities: HTTP %d %s", r.status, r.body)
	}
	// An Authorization header makes it an API call: the cookie is
	// ignored and no CSRF token is needed.
	wantError(t, h.call(c, listIntegrations, "{}", bearer(viewer)), http.StatusForbidden, "permission_denied", auth.ReasonPermissionMissing)
	if r := h.call(vc, listIntegrations, "{}", bearer(h.admin)); r.status != http.StatusOK {
		t.Fatalf("bearer call with another session's cookie: HTTP %d %s", r.status, r.body)
	}

	// The account's flag counts as it is at the time of the call.
	if err := h.db.SetFeatureFlag(t.Context(), "acme", auth.FlagAutoDiscovery, false, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wantError(t, h.call(c, listIntegrations, "{}", csrf(s)), http.StatusBadRequest, "failed_precondition", auth.ReasonFeatureFlagDisabled)
	if err := h.db.SetFeatureFlag(t.Context(), "acme", auth.FlagAutoDiscovery, true, h.clock.Now()); err != nil {
		t.Fatal(err)
	}

	// Sign-out needs the token, ends the session and clears the cookie.
	wantError(t, h.do(c, http.MethodDelete, "/console/session", ""), http.StatusForbidden, "permission_denied", httpapi.ReasonCSRFTokenInvalid)
	r := h.do(c, http.MethodDelete, "/console/session", "", csrf(s))
	if r.status != http.StatusNoContent {
		t.Fatalf("sign-out: HTTP %d %s", r.status, r.body)
	}
	if cleared := (&http.Response{Header: r.header}).Cookies(); len(cleared) != 1 || cleared[0].Name != "idp_session" || cleared[0].MaxAge >= 0 {
		t.Errorf("sign-out cookies %v: want idp_session removed", cleared)
	}
	// The old cookie, replayed, opens nothing.
	replay := h.srv.Client()
	r = h.call(replay, listIntegrations, "{}", "Cookie: idp_session="+s.cookie.Value, csrf(s))
	wantError(t, r, http.StatusUnauthorized, "unauthenticated", httpapi.ReasonSessionInvalid)
	wantError(t, h.do(c, http.MethodGet, "/console/session", ""), http.StatusUnauthorized, "unauthenticated", httpapi.ReasonSessionInvalid)
	// Signing out without a session is done already.
	if r := h.do(h.client(), http.MethodDelete, "/console/session", ""); r.status != http.StatusNoContent {
		t.Errorf("sign-out without a session: HTTP %d", r.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	list := func(c *http.Client, s session) response { return h.call(c, listIntegrations, "{}", csrf(s)) }

	// Idle: each call keeps the session alive for another 30 minutes.
	c := h.client()
	s := h.signIn(c, h.admin)
	for range 3 {
		h.clock.Advance(29 * time.Minute)
		if r := list(c, s); r.status != http.StatusOK {
			t.Fatalf("active session after 29m idle: HTTP %d %s", r.status, r.body)
		}
	}
	// GET /console/session is not activity.
	h.clock.Advance(20 * time.Minute)
	if r := h.do(c, http.MethodGet, "/console/session", ""); r.status != http.StatusOK {
		t.Fatalf("GET session: HTTP %d %s", r.status, r.body)
	}
	h.clock.Advance(10 * time.Minute)
	wantError(t, list(c, s), http.StatusUnauthorized, "unauthenticated", httpapi.ReasonSessionInvalid)
	if _, err := h.db.ConsoleSession(t.Context(), auth.Hash(s.cookie.Value)); err == nil {
		t.Error("an ended session stays stored")
	}

	// Absolute: however active, a session ends 12 hours after sign-in.
	c = h.client()
	s = h.signIn(c, h.admin)
	end := s.ExpiresAt
	for h.clock.Now().Add(20 * time.Minute).Before(end) {
		h.clock.Advance(20 * time.Minute)
		if r := list(c, s); r.status != http.StatusOK {
			t.Fatalf("%v before the end: HTTP %d %s", end.Sub(h.clock.Now()), r.status, r.body)
		}
	}
	h.clock.Advance(end.Sub(h.clock.Now()))
	wantError(t, list(c, s), http.StatusUnauthorized, "unauthenticated", httpapi.ReasonSessionInvalid)
}

func TestSignInPurgesEndedSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	var ended []session
	for range 3 {
		ended = append(ended, h.signIn(h.client(), h.admin))
	}
	h.clock.Advance(31 * time.Minute)
	h.signIn(h.client(), h.admin)
	for _, s := range ended {
		if _, err := h.db.ConsoleSession(t.Context(), auth.Hash(s.cookie.Value)); err == nil {
			t.Error("an idle session survived a later sign-in")
		}
	}
}
