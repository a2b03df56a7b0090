package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeConsoleAndHTTPAPI drives the real binary over its HTTP
// listener as a browser and as curl do, in plaintext and with TLS.
func TestServeConsoleAndHTTPAPI(t *testing.T) {
	t.Parallel()
	for _, withTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plaintext", true: "tls"}[withTLS], func(t *testing.T) {
			t.Parallel()
			dsn := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
			creds := bootstrap(t, dsn)
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar}
			var extra []string
			if withTLS {
				certFile, keyFile, pool := selfSigned(t)
				extra = []string{"--tls-cert", certFile, "--tls-key", keyFile}
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			}
			srv := startServer(t, dsn, extra...)
			base := srv.consoleURL(t)
			if wantScheme := map[bool]string{false: "http://", true: "https://"}[withTLS]; !strings.HasPrefix(base, wantScheme) {
				t.Fatalf("console URL %q, want %s...", base, wantScheme)
			}
			do := func(method, path, body string, headers ...string) (*http.Response, string) {
				t.Helper()
				req, err := http.NewRequestWithContext(t.Context(), method, base+strings.TrimPrefix(path, "/"), strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				for _, kv := range headers {
					k, v, _ := strings.Cut(kv, ": ")
					req.Header.Set(k, v)
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}

			// The embedded console, with its client-side routes.
			for _, path := range []string{"/", "/integrations"} {
				res, body := do(http.MethodGet, path, "")
				if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html") {
					t.Fatalf("GET %s: HTTP %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
				}
			}

			// curl: an API key in the Authorization header.
			res, body := do(http.MethodPost, "/api/idp.integration.v1.ConnectorService/CreateConnector",
				`{"connector":{"name":"bb","url":"https://bitbucket.org/acme","tokenRef":"env:BITBUCKET_TOKEN"}}`,
				"Content-Type: application/json", "Authorization: Bearer "+creds.APIKey)
			if res.StatusCode != 200 || !strings.Contains(body, `"workspace":"acme"`) {
				t.Fatalf("create connector: HTTP %d %s", res.StatusCode, body)
			}
			res, body = do(http.MethodPost, "/api/idp.delegate.v1.DelegateService/Register", `{}`,
				"Content-Type: application/json", "Authorization: Bearer "+creds.DelegateToken, "X-Account-Id: acme")
			if res.StatusCode != 404 {
				t.Fatalf("the DelegateService on the console address: HTTP %d %s", res.StatusCode, body)
			}

			// The browser: sign in, then call with the cookie and the CSRF token.
			res, body = do(http.MethodPost, "/console/session", `{"apiKey":"`+creds.APIKey+`"}`, "Content-Type: application/json")
			if res.StatusCode != 200 {
				t.Fatalf("sign in: HTTP %d %s", res.StatusCode, body)
			}
			var s struct {
				CSRFToken string `json:"csrfToken"`
			}
			if err := json.Unmarshal([]byte(body), &s); err != nil || s.CSRFToken == "" {
				t.Fatalf("sign-in answer %s: %v", body, err)
			}
			cookies := res.Cookies()
			if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].Secure != withTLS || cookies[0].SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie %v (TLS %v)", cookies, withTLS)
			}
			list := "/api/idp.integration.v1.ConnectorService/ListConnectors"
			if res, body := do(http.MethodPost, list, `{}`, "Content-Type: application/json"); res.StatusCode != 403 || !strings.Contains(body, "CSRF") {
				t.Fatalf("cookie call without the CSRF token: HTTP %d %s", res.StatusCode, body)
			}
			if res, body := do(http.MethodPost, list, `{}`, "Content-Type: application/json", "X-CSRF-Token: "+s.CSRFToken); res.StatusCode != 200 || !strings.Contains(body, `"name":"bb"`) {
				t.Fatalf("cookie call: HTTP %d %s", res.StatusCode, body)
			}
			if res, body := do(http.MethodDelete, "/console/session", "", "X-CSRF-Token: "+s.CSRFToken); res.StatusCode != 204 {
				t.Fatalf("sign out: HTTP %d %s", res.StatusCode, body)
			}
		})
	}
}

func TestServeWithoutConsole(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "idp.db"), "--http-listen", "")
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-srv.done; err != nil {
		t.Fatalf("stop: %v\n%s", err, srv.logs)
	}
	if strings.Contains(srv.logs.String(), "console: ") {
		t.Errorf("--http-listen \"\" still serves the console:\n%s", srv.logs)
	}
}
