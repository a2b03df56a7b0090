package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/clock"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestWhichProxyForWhichTarget(t *testing.T) {
	t.Parallel()
	bb := "https://api.bitbucket.org/2.0/repositories/acme"
	tests := []struct {
		name       string
		env        func(string) string
		target     string // URL, or host:port for the control plane
		controlCP  bool
		want       string // proxy URL or "direct"
		wantSource string
	}{
		{"nothing set", env(), bb, false, "direct", "none"},
		{"https proxy for https", env("HTTPS_PROXY", "http://p:3128"), bb, false, "http://p:3128", "HTTPS_PROXY"},
		{"http proxy alone does not serve https", env("HTTP_PROXY", "http://p:3128"), bb, false, "direct", "HTTP_PROXY"},
		{"lowercase wins", env("HTTPS_PROXY", "http://upper:1", "https_proxy", "http://lower:2"), bb, false, "http://lower:2", "HTTPS_PROXY"},
		{"scheme-less value", env("HTTPS_PROXY", "p.corp:8080"), bb, false, "http://p.corp:8080", "HTTPS_PROXY"},
		{"harness style wins", env("HTTPS_PROXY", "http://other:1", "PROXY_HOST", "proxy.corp", "PROXY_PORT", "3128", "PROXY_USER", "u", "PROXY_PASSWORD", "pw"), bb, false, "http://u:pw@proxy.corp:3128", "PROXY_HOST"},
		{"harness https scheme", env("PROXY_HOST", "proxy.corp:8443", "PROXY_SCHEME", "HTTPS"), bb, false, "https://proxy.corp:8443", "PROXY_HOST"},
		{"no_proxy domain", env("HTTPS_PROXY", "http://p:1", "NO_PROXY", "bitbucket.org"), bb, false, "direct", "HTTPS_PROXY"},
		{"no_proxy leading dot", env("HTTPS_PROXY", "http://p:1", "no_proxy", ".bitbucket.org"), bb, false, "direct", "HTTPS_PROXY"},
		{"no_proxy other domain", env("HTTPS_PROXY", "http://p:1", "NO_PROXY", "example.org"), bb, false, "http://p:1", "HTTPS_PROXY"},
		{"no_proxy CIDR", env("HTTPS_PROXY", "http://p:1", "NO_PROXY", "10.0.0.0/8"), "https://10.1.2.3/2.0", false, "direct", "HTTPS_PROXY"},
		{"no_proxy applies to PROXY_HOST", env("PROXY_HOST", "p", "PROXY_PORT", "1", "NO_PROXY", "cp.internal"), "cp.internal:443", true, "direct", "PROXY_HOST"},
		{"control plane through https proxy", env("HTTPS_PROXY", "http://p:1"), "cp.example.com:443", true, "http://p:1", "HTTPS_PROXY"},
		{"PROXY_MANAGER=false", env("PROXY_HOST", "p", "PROXY_PORT", "1", "PROXY_MANAGER", "false"), "cp.example.com:443", true, "direct", "PROXY_HOST"},
		{"loopback is always direct", env("HTTPS_PROXY", "http://p:1"), "127.0.0.1:9000", true, "direct", "HTTPS_PROXY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := FromEnv(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			var got *url.URL
			if tt.controlCP {
				got, err = c.ForControlPlane(tt.target)
			} else {
				u, _ := url.Parse(tt.target)
				got, err = c.ForURL(u)
			}
			if err != nil {
				t.Fatal(err)
			}
			gs := "direct"
			if got != nil {
				gs = got.String()
			}
			if gs != tt.want || !strings.HasPrefix(c.Source, tt.wantSource) {
				t.Errorf("got %s from %q, want %s from %q", gs, c.Source, tt.want, tt.wantSource)
			}
		})
	}
}

func TestFromEnvRejectsBadSettingsNamingTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  func(string) string
		want string
	}{
		{env("PROXY_PORT", "3128"), "PROXY_PORT is set but PROXY_HOST is not"},
		{env("PROXY_HOST", "p"), "PROXY_PORT is required"},
		{env("PROXY_HOST", "p", "PROXY_PORT", "99999"), "PROXY_PORT"},
		{env("PROXY_HOST", "p", "PROXY_PORT", "1", "PROXY_SCHEME", "socks5"), "PROXY_SCHEME"},
		{env("PROXY_HOST", "http://p", "PROXY_PORT", "1"), "PROXY_HOST"},
		{env("PROXY_HOST", "p", "PROXY_PORT", "1", "PROXY_PASSWORD", "x"), "PROXY_PASSWORD is set but PROXY_USER"},
		{env("HTTPS_PROXY", "socks5://p:1080"), "HTTPS_PROXY"},
		{env("PROXY_MANAGER", "perhaps"), "PROXY_MANAGER"},
		// Reserved characters left raw in the password: refused, naming
		// the variable and the fix, never read as a proxy named "http".
		{env("HTTPS_PROXY", "http://alice:p%40ss[w]ord@proxy:3128"), "HTTPS_PROXY: not a proxy URL: \"[REDACTED]@proxy:3128\" (percent-encode"},
		{env("HTTP_PROXY", "http://alice:pa#ss@proxy:3128"), "HTTP_PROXY"},
	}
	for _, tt := range tests {
		_, err := FromEnv(tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want an error mentioning %q", err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "ss[w]ord") || strings.Contains(err.Error(), "pa#ss")) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestSecretsListsProxyPasswords(t *testing.T) {
	t.Parallel()
	c, err := FromEnv(env("HTTPS_PROXY", "http://u:hunter2@p:1", "HTTP_PROXY", "u2:pw2@q:2"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Secrets(), ",")
	if !strings.Contains(got, "hunter2") || !strings.Contains(got, "pw2") {
		t.Errorf("secrets %q miss a password", got)
	}
}

// connectProxy is a minimal CONNECT proxy that requires Basic auth.
func connectProxy(t *testing.T, user, pass string) (addr string, seen chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen = make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				seen <- req.Method + " " + req.Host
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
				if req.Header.Get("Proxy-Authorization") != want {
					io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
					return
				}
				defer up.Close()
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, br)
				io.Copy(c, up)
			}()
		}
	}()
	return ln.Addr().String(), seen
}

func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func TestDialContextTunnelsWithBasicAuth(t *testing.T) {
	t.Parallel()
	target := echoServer(t)
	proxyAddr, seen := connectProxy(t, "alice", "s3cret")
	host, port, _ := net.SplitHostPort(proxyAddr)
	// The target is loopback, which proxy rules always send direct, so
	// dial through the tunnel code itself.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := dialConnect(ctx, &net.Dialer{}, &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), User: url.UserPassword("alice", "s3cret")}, target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := <-seen; got != "CONNECT "+target {
		t.Errorf("proxy saw %q", got)
	}
	io.WriteString(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the tunnel: %q, %v", buf, err)
	}

	_, err = dialConnect(ctx, &net.Dialer{}, &url.URL{Scheme: "http", Host: proxyAddr, User: url.UserPassword("alice", "wrong")}, target)
	if err == nil || !strings.Contains(err.Error(), "407") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad credentials: got %v, want a 407 error without the password", err)
	}
}

// TestRefusedCredentialsHoldDialsBack: after a 407 the proxy is not asked
// again until AuthRetryAfter has passed on the clock, however often the
// connection is dialled; the error names the proxy (password redacted) and
// the status.
func TestRefusedCredentialsHoldDialsBack(t *testing.T) {
	t.Parallel()
	proxyAddr, seen := connectProxy(t, "alice", "s3cret")
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c, err := FromEnv(env("HTTPS_PROXY", "http://alice:wr0ng-pass@"+proxyAddr))
	if err != nil {
		t.Fatal(err)
	}
	c.Clock = clk
	// Not loopback, so the proxy rules send it through the proxy; the proxy
	// refuses before resolving it.
	const target = "controlplane.example.test:443"
	dial := func() *AuthError {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := c.DialContext(ctx, target)
		var refused *AuthError
		if !errors.As(err, &refused) {
			if conn != nil {
				conn.Close()
			}
			t.Fatalf("got %v, want an *AuthError", err)
		}
		return refused
	}
	asked := func() int {
		n := 0
		for {
			select {
			case <-seen:
				n++
			default:
				return n
			}
		}
	}

	first := dial()
	want := "proxy http://alice:[REDACTED]@" + proxyAddr + " refused the delegate's credentials for " + target + ": 407 Proxy Authentication Required"
	if msg := first.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "wr0ng-pass") {
		t.Errorf("message %q, want it to start %q and hold no password", msg, want)
	}
	if n := asked(); n != 1 {
		t.Fatalf("the proxy was asked %d times, want 1", n)
	}
	for range 5 {
		held := dial()
		if !held.RetryAt.Equal(clk.Now().Add(AuthRetryAfter)) || !strings.Contains(held.Error(), "not asking this proxy again before") {
			t.Errorf("held dial: %v, want the refusal with the time of the next attempt", held)
		}
	}
	clk.Advance(AuthRetryAfter - time.Second)
	dial()
	if n := asked(); n != 0 {
		t.Fatalf("the proxy was asked %d more times before %v had passed", n, AuthRetryAfter)
	}
	clk.Advance(time.Second)
	dial()
	if n := asked(); n != 1 {
		t.Fatalf("the proxy was asked %d times once %v had passed, want 1", n, AuthRetryAfter)
	}
}
