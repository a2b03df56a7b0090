package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// Host names the proxy test reaches its loopback servers by. Go (like
// curl) never proxies localhost or loopback IPs, so the test needs names
// that resolve to 127.0.0.1 without looking like loopback: .ci/run adds
//
//	127.0.0.1 bitbucket.proxytest.internal controlplane.proxytest.internal
//
// to /etc/hosts, which tinyproxy's resolver reads too.
const (
	bitbucketHost    = "bitbucket.proxytest.internal"
	controlPlaneHost = "controlplane.proxytest.internal"
	proxyUser        = "proxyuser"
	proxyPassword    = "pr0xy-pa55word-secret"
)

func requireProxyEnvironment(t *testing.T) string {
	t.Helper()
	skip := func(why string) {
		msg := why + ": install tinyproxy (apt-get install -y tinyproxy) and add \"127.0.0.1 " +
			bitbucketHost + " " + controlPlaneHost + "\" to /etc/hosts"
		if os.Getenv("IDP_REQUIRE_PROXY_TEST") == "1" {
			t.Fatal(msg + " (IDP_REQUIRE_PROXY_TEST=1 makes this a failure)")
		}
		t.Skip(msg)
	}
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		skip("tinyproxy not found")
	}
	for _, h := range []string{bitbucketHost, controlPlaneHost} {
		addrs, err := net.LookupHost(h)
		if err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
			skip(h + " does not resolve to 127.0.0.1")
		}
	}
	return bin
}

// tinyproxy runs a real proxy with Basic auth and returns its port and a
// function reading its log.
func tinyproxy(t *testing.T, bin string) (int, func() string) {
	t.Helper()
	// Not t.TempDir: tinyproxy drops to nobody and must reach its log.
	dir, err := os.MkdirTemp("", "tinyproxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o777)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logFile := filepath.Join(dir, "tinyproxy.log")
	conf := fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 60\nMaxClients 50\nLogLevel Info\nLogFile %q\nBasicAuth %s %s\n",
		port, logFile, proxyUser, proxyPassword)
	if os.Geteuid() == 0 {
		conf += "User nobody\nGroup nogroup\n"
	}
	if err := os.WriteFile(logFile, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(logFile, 0o666)
	confPath := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", confPath)
	out := &testenv.SyncWriter{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tinyproxy did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, func() string {
		b, _ := os.ReadFile(logFile)
		return string(b) + out.String()
	}
}

func TestBitbucketAndControlPlaneGoThroughARealProxy(t *testing.T) {
	t.Parallel()
	bin := requireProxyEnvironment(t)
	port, proxyLog := tinyproxy(t, bin)

	// Bitbucket over TLS, trusted through SSL_CERT_FILE as a customer would
	// trust a TLS-inspecting proxy's CA.
	cert, certPEM, err := bitbucketmock.SelfSignedCert(bitbucketHost)
	if err != nil {
		t.Fatal(err)
	}
	mock, err := bitbucketmock.New(bitbucketmock.Config{Seed: 8, Repos: 6, PRsPerRepo: 3, CommitsPerRepo: 4,
		Tokens: []bitbucketmock.Token{{Name: "delegate", Value: testenv.BitbucketToken}}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := mock.ListenTLS("127.0.0.1:0", cert, certPEM)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run.Close() })
	caFile := filepath.Join(t.TempDir(), "bitbucket-ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	apiURL := testenv.WithHost(run.URL, bitbucketHost)

	cp := control(t, 0)
	_, cpPort, _ := net.SplitHostPort(cp.Addr())
	cpAddr := net.JoinHostPort(controlPlaneHost, cpPort)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	sync := func(name string, env ...string) *process {
		t.Helper()
		env = append(delegateEnv(cp, env...), "IDP_CONTROL_PLANE="+cpAddr, "IDP_DELEGATE_NAME="+name, "SSL_CERT_FILE="+caFile, allowAPI(apiURL))
		p := start(t, env)
		id := cp.Enqueue(testenv.SyncTask(apiURL, mock.Workspace(), nil, nil, time.Time{}))
		done, err := cp.WaitDone(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
			t.Fatalf("%s: sync %v: %s", name, done.GetOutcome(), done.GetError())
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t, 10*time.Second); code != 0 {
			t.Errorf("%s: exit code %d after SIGTERM", name, code)
		}
		return p
	}

	// 1. Standard variables with NO_PROXY: Bitbucket direct, control plane
	// still through the proxy. First, so that no earlier delegate's
	// connection (an extra dial its HTTP client made and dropped at exit)
	// can reach the proxy's log while this one runs.
	before := strings.Count(proxyLog(), "CONNECT "+bitbucketHost+":")
	beforeCP := strings.Count(proxyLog(), "CONNECT "+controlPlaneHost+":")
	p := sync("no-proxy", fmt.Sprintf("HTTPS_PROXY=http://%s:%s@127.0.0.1:%d", proxyUser, proxyPassword, port),
		"NO_PROXY=.example.org,"+bitbucketHost+",10.0.0.0/8")
	log := proxyLog()
	if after := strings.Count(log, "CONNECT "+bitbucketHost+":"); after != before {
		t.Errorf("NO_PROXY ignored: %d new CONNECTs to %s", after-before, bitbucketHost)
	}
	if afterCP := strings.Count(log, "CONNECT "+controlPlaneHost+":"); afterCP == beforeCP {
		t.Errorf("the control plane connection did not use HTTPS_PROXY")
	}
	if !strings.Contains(p.stderr.String(), `"proxy":"direct"`) {
		t.Errorf("the task log does not say Bitbucket is reached directly")
	}
	assertNoSecrets(t, p.stderr.String(), proxyPassword)

	// 2. Harness-style settings: both targets through the proxy.
	p = sync("harness-style", "PROXY_HOST=127.0.0.1", fmt.Sprintf("PROXY_PORT=%d", port),
		"PROXY_USER="+proxyUser, "PROXY_PASSWORD="+proxyPassword)
	log = proxyLog()
	for _, target := range []string{bitbucketHost, controlPlaneHost} {
		if !strings.Contains(log, "CONNECT "+target+":") {
			t.Errorf("the proxy log shows no CONNECT to %s:\n%s", target, log)
		}
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, `"proxy_control_plane":"http://proxyuser:[REDACTED]@127.0.0.1:`) {
		t.Errorf("start-up log does not name the redacted proxy for the control plane:\n%s", logs)
	}
	assertNoSecrets(t, logs, proxyPassword)
}
