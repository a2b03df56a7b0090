package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/rs/zerolog"
)

// serve answers the i-th request (from 0) with pages[min(i, len-1)].
func serve(t *testing.T, pages ...func(w http.ResponseWriter, r *http.Request)) (*Session, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1) - 1)
		pages[min(i, len(pages)-1)](w, r)
	}))
	t.Cleanup(srv.Close)
	p := NewRetryPolicy(zerolog.Nop(), 1)
	p.Base, p.RateLimitBase, p.Max, p.Attempts = time.Millisecond, time.Millisecond, 5*time.Millisecond, 4
	c := New(Options{Budgets: NewBudgets(clock.Real{}, DefaultBudget, false), Retry: p, MaxPageBytes: 1 << 20})
	base, _ := url.Parse(srv.URL + "/2.0")
	return c.Session(base, NewCredential("unit-test-token")), &n
}

func body(s string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, s)
	}
}

const goodPage = `{"values":[{"uuid":"{1}","slug":"a","name":"A","updated_on":"2025-01-02T03:04:05.123456+00:00","links":{"clone":[{"name":"https","href":"https://me@bitbucket.org/ws/a.git"}]}}]}`

func TestMalformedPagesAreRetriedThenDecoded(t *testing.T) {
	t.Parallel()
	s, n := serve(t, body(`{"values":[{"uuid":`), body(`<html>bad gateway</html>`), body(goodPage))
	page, err := s.Repositories(context.Background(), s.RepositoriesURL("ws", "", time.Time{}), "ws")
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 || len(page.Repositories) != 1 || page.Repositories[0].CloneHTTPSURL != "https://bitbucket.org/ws/a.git" {
		t.Errorf("after %d requests got %+v", n.Load(), page)
	}
	if s.Requests() != 3 {
		t.Errorf("session counted %d requests, want 3", s.Requests())
	}
}

func TestBadPagesFailClearlyWithoutPanicking(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", maxFieldBytes+1)
	tests := []struct {
		name, page, want string
	}{
		{"huge field", `{"values":[{"uuid":"{1}","slug":"a","name":"A","description":"` + huge + `"}]}`, "values[0].description is"},
		{"wrong type", `{"values":[{"uuid":5,"slug":"a","name":"A"}]}`, `field "uuid" is number`},
		{"values not an array", `{"values":"nope"}`, "unexpected shape"},
		{"no values", `{"next":null}`, `no "values" array`},
		{"missing slug", `{"values":[{"uuid":"{1}","name":"A"}]}`, "values[0] has no slug"},
		{"next to another host", `{"values":[],"next":"https://evil.example/2.0/repositories/ws?page=2"}`, "next link points to https://evil.example"},
		{"truncated", `{"values":[{"uuid":"{1}"`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := serve(t, body(tt.page))
			_, err := s.Repositories(context.Background(), s.RepositoriesURL("ws", "", time.Time{}), "ws")
			var de *DecodeError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want a DecodeError mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "unit-test-token") {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestStatusErrorsCarryBitbucketsMessage(t *testing.T) {
	t.Parallel()
	s, n := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(403)
		fmt.Fprint(w, `{"type":"error","error":{"message":"Your credentials lack one or more required privilege scopes.","detail":{"required":["pullrequest"],"granted":["repository"]}}}`)
	})
	_, _, err := s.PullRequests(context.Background(), s.PullRequestsURL(PullRequestQuery{Workspace: "ws", Slug: "a"}), "{1}")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 || se.Required[0] != "pullrequest" || n.Load() != 1 {
		t.Fatalf("got %v after %d requests", err, n.Load())
	}
}

func TestServerErrorsGiveUpAfterTheAttempts(t *testing.T) {
	t.Parallel()
	s, n := serve(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	_, _, err := s.Commits(context.Background(), s.CommitsURL("ws", "a", "main", 100), "{1}")
	if err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts") || n.Load() != 4 {
		t.Errorf("got %v after %d requests", err, n.Load())
	}
}

func TestResolveTokenNamesTheReferenceNotTheValue(t *testing.T) {
	t.Parallel()
	getenv := func(k string) (string, bool) {
		if k == "SET" {
			return " tok-value-123 \n", true
		}
		if k == "EMPTY" {
			return "", true
		}
		return "", false
	}
	readFile := func(p string) ([]byte, error) {
		if p == "/ok" {
			return []byte("file-token-456\n"), nil
		}
		return nil, fmt.Errorf("open %s: %w", p, errors.New("no such file or directory"))
	}
	c, err := ResolveToken("env:SET", getenv, readFile)
	if err != nil || c.Token() != "tok-value-123" {
		t.Fatalf("env:SET: %v %q", err, c.Token())
	}
	if c, err := ResolveToken("file:/ok", getenv, readFile); err != nil || c.Token() != "file-token-456" {
		t.Fatalf("file:/ok: %v", err)
	}
	if fmt.Sprint(c) == "tok-value-123" || strings.Contains(fmt.Sprintf("%v %+v", c, c), "tok-value") {
		t.Error("a Credential prints its token")
	}
	for _, ref := range []string{"env:MISSING", "env:EMPTY", "file:/missing"} {
		_, err := ResolveToken(ref, getenv, readFile)
		if err == nil || !strings.Contains(err.Error(), `"`+ref+`"`) {
			t.Errorf("%s: %v, want an error naming the reference", ref, err)
		}
	}
	// Why a file cannot be used (missing, forbidden, empty, a directory)
	// is not told: the message would map the delegate's file system.
	files := func(p string) ([]byte, error) {
		switch p {
		case "/a":
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
		case "/b":
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrPermission}
		case "/c":
			return []byte(" \n"), nil
		}
		return nil, &os.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
	}
	for _, ref := range []string{"file:/a", "file:/b", "file:/c", "file:/d"} {
		_, err := ResolveToken(ref, getenv, files)
		if want := fmt.Sprintf("token reference %q: is not readable on the delegate", ref); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", ref, err, want)
		}
	}
	for _, ref := range []string{"env:MISSING", "env:EMPTY"} {
		_, err := ResolveToken(ref, getenv, files)
		if want := fmt.Sprintf("token reference %q: is not set on the delegate", ref); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", ref, err, want)
		}
	}
	// A malformed reference may be a pasted token: it is not echoed.
	for _, ref := range []string{"vault:x", "plain-token-value"} {
		_, err := ResolveToken(ref, getenv, readFile)
		if err == nil || strings.Contains(err.Error(), ref) {
			t.Errorf("%s: %v, want an error that does not echo it", ref, err)
		}
	}
}

// TestProxyRefusingTheCredentialsIsNotRetried: a 407 from the proxy, to a
// CONNECT (https API) or to a proxied request (http API), ends the request
// at once with an error naming the proxy, its password redacted, and the
// status; retrying would only lock the proxy account.
func TestProxyRefusingTheCredentialsIsNotRetried(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"https", "http"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			var asked atomic.Int64
			px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				w.Header().Set("Proxy-Authenticate", `Basic realm="corp"`)
				w.WriteHeader(http.StatusProxyAuthRequired)
			}))
			t.Cleanup(px.Close)
			pxURL, _ := url.Parse(px.URL)
			pxURL.User = url.UserPassword("svc-delegate", "wr0ng-pa55")
			p := NewRetryPolicy(zerolog.Nop(), 1)
			p.Base, p.Max = time.Millisecond, 5*time.Millisecond
			c := New(Options{Budgets: NewBudgets(clock.Real{}, DefaultBudget, false), Retry: p,
				Proxy: func(*http.Request) (*url.URL, error) { return pxURL, nil }})
			base, _ := url.Parse(scheme + "://api.example.test/2.0")
			s := c.Session(base, NewCredential("unit-test-token"))

			_, err := s.Repositories(context.Background(), s.RepositoriesURL("ws", "", time.Time{}), "ws")
			var refused *proxy.AuthError
			if !errors.As(err, &refused) {
				t.Fatalf("got %v, want a *proxy.AuthError", err)
			}
			want := "proxy http://svc-delegate:[REDACTED]@" + pxURL.Host + " refused the delegate's credentials for api.example.test"
			if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, "407 Proxy Authentication Required") ||
				strings.Contains(msg, "wr0ng-pa55") {
				t.Errorf("message %q, want it to start %q, give the status and hold no password", msg, want)
			}
			if n := asked.Load(); n != 1 {
				t.Errorf("the proxy was asked %d times, want once", n)
			}
		})
	}
}
