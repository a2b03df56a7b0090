package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// Timings of TestDelegateBehindSquid. The field report is a proxy that
// closes tunnels idle for 15 s under a 50 s poll; here both are scaled
// down so that several polls are cut within seconds. The delegate's hold
// outlasts the proxy's idle timeout, so every idle poll is cut, and the
// idle timeout is more than half the hold, so each cut comes after the
// poll was open long enough to count as routine.
const (
	squidIdle = 4 * time.Second
	pollHold  = "6s"
	idleCuts  = 3
)

// proxyStack is the real control plane (TLS, on SQLite) and mock Bitbucket,
// reached by the host names that proxy rules do not send direct, for
// delegates started behind a squid.
type proxyStack struct {
	t       *testing.T
	sq      *squid
	apiHost string // the mock's host:port, by name
	cpAddr  string // the control plane's host:port, by name
	cpPort  string
	// cpHTTP is the base URL of the control plane's HTTP face, by name.
	cpHTTP   string
	certFile string
	token    string // delegate token
	cp       *process
	cli      cli
}

// startProxyStack starts squid closing tunnels idle for idle, the mock,
// and the control plane with extra serve flags, and creates a connector.
func startProxyStack(t *testing.T, idle time.Duration, serveFlags ...string) *proxyStack {
	t.Helper()
	return startProxyStackWith(t, func(string) *squid { return startSquid(t, idle) }, serveFlags...)
}

// startProxyStackWith is startProxyStack with the squid that startSquid
// starts, given the control plane's certificate.
func startProxyStackWith(t *testing.T, startSquid func(cpCert string) *squid, serveFlags ...string) *proxyStack {
	t.Helper()
	s := &proxyStack{t: t}
	dir := t.TempDir()
	// TLS inside the tunnel, as in production (the proxy sees only the
	// CONNECT), with the control plane's certificate trusted by --ca-file.
	var keyFile string
	s.certFile, keyFile = writeCert(t, dir, controlPlaneHost)
	s.sq = startSquid(s.certFile)

	mock := start(t, "mock-bitbucket", nil, "--listen", "127.0.0.1:0", "--workspace", workspace,
		"--repos", "5", "--prs-per-repo", "2", "--commits-per-repo", "2", "--token", bitbucketTK, "--log-format", "json")
	mockURL := mock.waitOutput(regexp.MustCompile(`mock Bitbucket Cloud API: (\S+)`), 30*time.Second)
	_, mockPort, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(mockURL, "http://"), "/2.0"))
	s.apiHost = net.JoinHostPort(bitbucketHost, mockPort)

	db := "sqlite://" + filepath.Join(dir, "idp.db")
	creds := bootstrap(t, db)
	s.token = creds.DelegateToken
	s.cp = start(t, "controlplane", nil, append([]string{"serve", "--db", db, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--log-format", "json",
		"--tls-cert", s.certFile, "--tls-key", keyFile}, serveFlags...)...)
	listening := s.cp.waitOutput(regexp.MustCompile(`"addr":"([^"]+)"[^\n]*control plane listening`), 60*time.Second)
	_, s.cpPort, _ = net.SplitHostPort(listening)
	s.cpAddr = net.JoinHostPort(controlPlaneHost, s.cpPort)
	httpAddr := s.cp.waitOutput(regexp.MustCompile(`"http_addr":"([^"]+)"`), 30*time.Second)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	s.cpHTTP = "https://" + net.JoinHostPort(controlPlaneHost, httpPort)
	s.cli = cli{t: t, server: s.cpAddr, apiKey: creds.APIKey, env: []string{"IDP_CA_FILE=" + s.certFile}}
	s.cli.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN",
		"--api-url", "http://"+s.apiHost+"/2.0")
	return s
}

// delegate starts a delegate named name with more environment (the proxy
// settings) and flags, logging at debug level.
func (s *proxyStack) delegate(name string, env []string, flags ...string) *process {
	s.t.Helper()
	env = append(env, "BITBUCKET_TOKEN="+bitbucketTK)
	return start(s.t, "delegate", env, append([]string{"--control-plane", s.cpAddr, "--ca-file", s.certFile,
		"--account", "e2e", "--token", s.token, "--name", name, "--allowed-api-hosts", s.apiHost,
		"--log-level", "debug", "--log-format", "json"}, flags...)...)
}

// proxied is the environment sending every target through the squid, with
// the given password.
func (s *proxyStack) proxied(password string) []string {
	return []string{"HTTPS_PROXY=" + s.sq.url(password), "HTTP_PROXY=" + s.sq.url(password)}
}

// TestDelegateBehindSquid runs the real control plane, delegate and mock
// Bitbucket behind a real squid with Basic auth that closes idle CONNECT
// tunnels: idle polls are cut and polled again without a warning, a task
// queued while idle is picked up at once, and a wrong proxy password fails
// fast with one clear message, for the control plane and for Bitbucket.
func TestDelegateBehindSquid(t *testing.T) {
	t.Parallel()
	s := startProxyStack(t, squidIdle)
	sq, c, apiHost, cpPort := s.sq, s.cli, s.apiHost, s.cpPort
	delegate := func(name string, env ...string) *process {
		t.Helper()
		return s.delegate(name, env, "--poll-hold", pollHold)
	}

	// 1. Idle behind the proxy: every poll is cut, quietly.
	good := delegate("behind-squid", "HTTPS_PROXY="+sq.url(sq.password), "HTTP_PROXY="+sq.url(sq.password))
	good.waitOutput(regexp.MustCompile(`registered with the control plane`), 30*time.Second)
	idleStart := time.Now()
	waitCount(t, good, "long poll cut before the hold ended", idleCuts, 10*squidIdle)
	t.Logf("%d idle polls cut by the proxy in %v", idleCuts, time.Since(idleStart).Round(100*time.Millisecond))
	if n := sq.count("TCP_TUNNEL/200", "CONNECT "+controlPlaneHost+":"+cpPort, sq.user); n < idleCuts {
		t.Errorf("squid logged %d tunnels to the control plane, want at least %d cut ones:\n%s", n, idleCuts, sq.log())
	}
	startup := logLine(t, good, "delegate starting")
	if startup["proxy_control_plane"] != sq.redacted() || startup["poll_hold"] != pollHold || startup["keepalive"] != 30.0 {
		t.Errorf("start-up log: proxy_control_plane %v, poll_hold %v, keepalive %v; want %s, %s, 30",
			startup["proxy_control_plane"], startup["poll_hold"], startup["keepalive"], sq.redacted(), pollHold)
	}
	if via := path(startup, "proxy_bitbucket", "http://"+apiHost); via != sq.redacted() {
		t.Errorf("start-up log: Bitbucket at %s via %v, want %s", apiHost, via, sq.redacted())
	}

	// 2. A task queued while idle is picked up at once: the poll is either
	// waiting, and woken, or was just cut and is made again at once.
	queued := time.Now()
	c.ok("integration", "create", "--name", integration, "--connector", "bb") // queues the first sync
	good.waitOutput(regexp.MustCompile(`"message":"task started"`), 30*time.Second)
	pickup := time.Since(queued)
	t.Logf("a sync queued while the delegate idled behind the proxy started %v later", pickup.Round(time.Millisecond))
	if pickup > 2*time.Second {
		t.Errorf("the queued sync started %v after it was queued, want within 2s", pickup)
	}
	good.waitOutput(regexp.MustCompile(`"outcome":"succeeded"[^\n]*"message":"task finished"`), 60*time.Second)
	if n := sq.count("GET http://"+apiHost+"/2.0/", sq.user); n == 0 {
		t.Errorf("squid logged no Bitbucket requests:\n%s", sq.log())
	}
	if noisy := atLevel(good, "warn", "error"); len(noisy) > 0 {
		t.Errorf("the delegate behind the proxy logged warnings or errors:\n%s", strings.Join(noisy, "\n"))
	}
	if err := good.stop(); err != nil {
		t.Errorf("delegate exit after SIGTERM: %v", err)
	}

	// 3. A wrong password on the control-plane connection: one clear
	// message naming the proxy and the 407, and the proxy asked once.
	const wrong = "not-the-password"
	denied := sq.count("TCP_DENIED/407")
	bad := delegate("wrong-password", "HTTPS_PROXY="+sq.url(wrong), "HTTP_PROXY="+sq.url(wrong))
	msg := bad.waitOutput(regexp.MustCompile(`"error":"([^"]*)"[^\n]*"message":"the proxy refused the delegate's credentials`), 20*time.Second)
	want := "proxy " + sq.redacted() + " refused the delegate's credentials for " + net.JoinHostPort(controlPlaneHost, cpPort) +
		": 407 Proxy Authentication Required"
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message %q, want it to start %q", msg, want)
	}
	// Give gRPC's own reconnects time to show: they must not reach squid.
	time.Sleep(3 * time.Second)
	if n := sq.count("TCP_DENIED/407") - denied; n != 1 {
		t.Errorf("squid refused %d requests of the delegate with the wrong password, want 1:\n%s", n, sq.log())
	}
	if errs := atLevel(bad, "error", "warn"); len(errs) != 1 {
		t.Errorf("%d warnings and errors, want the one message:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	if strings.Contains(bad.out.String(), wrong) {
		t.Error("the delegate logged the proxy password")
	}
	if err := bad.stop(); err != nil {
		t.Errorf("delegate exit after SIGTERM: %v", err)
	}

	// 4. A wrong password for Bitbucket only (the control plane reached
	// directly): the sync fails at once, saying why, after one request.
	denied = sq.count("TCP_DENIED/407")
	bbOnly := delegate("wrong-password-bitbucket", "HTTP_PROXY="+sq.url(wrong), "HTTPS_PROXY="+sq.url(wrong),
		"NO_PROXY="+controlPlaneHost)
	bbOnly.waitOutput(regexp.MustCompile(`registered with the control plane`), 30*time.Second)
	started := time.Now()
	errOut := c.fails(1, "sync", integration, "--wait", "--timeout", "1m")
	t.Logf("the sync with a refused proxy password failed after %v", time.Since(started).Round(time.Millisecond))
	want = "proxy " + sq.redacted() + " refused the delegate's credentials for " + apiHost + ": 407 Proxy Authentication Required"
	if !strings.Contains(errOut, want) {
		t.Errorf("idpctl sync said %q, want %q", errOut, want)
	}
	if n := sq.count("TCP_DENIED/407") - denied; n != 1 || sq.count("TCP_DENIED/407", apiHost) != 1 {
		t.Errorf("squid refused %d requests, want the one Bitbucket request:\n%s", n, sq.log())
	}
	if strings.Contains(bbOnly.out.String(), wrong) {
		t.Error("the delegate logged the proxy password")
	}
}

// waitCount waits until n of p's log lines have a message starting with
// prefix.
func waitCount(t *testing.T, p *process, prefix string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := 0
		for _, l := range p.logLines() {
			if msg, _ := l["message"].(string); strings.HasPrefix(msg, prefix) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d log lines %q within %v, want %d:\n%s", got, prefix, timeout, n, p.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logLine returns p's first log line with message msg.
func logLine(t *testing.T, p *process, msg string) map[string]any {
	t.Helper()
	for _, l := range p.logLines() {
		if l["message"] == msg {
			return l
		}
	}
	t.Fatalf("%s logged no %q", p.name, msg)
	return nil
}

// atLevel returns p's log lines at the given levels.
func atLevel(p *process, levels ...string) []string {
	var out []string
	for _, l := range p.logLines() {
		for _, lv := range levels {
			if l["level"] == lv {
				out = append(out, fmt.Sprint(l))
			}
		}
	}
	return out
}

// writeCert writes a self-signed certificate for host and its key, as PEM
// files for the control plane's --tls-cert and --tls-key; the certificate
// is its own CA, for --ca-file.
func writeCert(t *testing.T, dir, host string) (certFile, keyFile string) {
	t.Helper()
	cert, certPEM, err := bitbucketmock.SelfSignedCert(host)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestKeepaliveHoldsATunnelOpenBehindSquid: behind a squid that closes
// tunnels idle for 12 s, a delegate pinging every 10 s (which the control
// plane permits with --keepalive-min-time 10s) keeps its tunnel through a
// 20 s poll, while one with the default 30 s keepalive has its polls cut.
func TestKeepaliveHoldsATunnelOpenBehindSquid(t *testing.T) {
	t.Parallel()
	s := startProxyStack(t, 12*time.Second, "--keepalive-min-time", "10s", "--log-level", "debug")
	pinging := s.delegate("pinging", s.proxied(s.sq.password), "--keepalive", "10s", "--poll-hold", "20s")
	quiet := s.delegate("quiet", s.proxied(s.sq.password), "--poll-hold", "20s")
	pinging.waitOutput(regexp.MustCompile(`registered with the control plane`), 30*time.Second)

	// A poll answered after its full 20 s hold can only be the pinging
	// delegate's: the quiet one's are cut at 12 s.
	const acquire = "/idp.delegate.v1.DelegateService/AcquireTask"
	deadline := time.Now().Add(60 * time.Second)
	for okCalls(s.cp, acquire) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no poll was answered after its hold within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitCount(t, quiet, "long poll cut before the hold ended", 1, 30*time.Second)
	for _, l := range pinging.logLines() {
		if msg, _ := l["message"].(string); strings.HasPrefix(msg, "long poll cut") {
			t.Errorf("the pinging delegate's poll was cut: %v", l)
		}
	}
	if noisy := append(atLevel(pinging, "warn", "error"), atLevel(quiet, "warn", "error")...); len(noisy) > 0 {
		t.Errorf("warnings or errors:\n%s", strings.Join(noisy, "\n"))
	}
}
