package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Host names the proxy tests reach their loopback servers by. Go never
// proxies localhost or loopback addresses, so the tests need names that
// resolve to 127.0.0.1 without looking like loopback: .ci/run adds
//
//	127.0.0.1 bitbucket.proxytest.internal controlplane.proxytest.internal
//
// to /etc/hosts, which squid's resolver reads too.
const (
	bitbucketHost    = "bitbucket.proxytest.internal"
	controlPlaneHost = "controlplane.proxytest.internal"
)

// squid is a real squid proxy with Basic auth, run for one test.
type squid struct {
	port      int
	user      string
	password  string
	accessLog string
	cmd       *exec.Cmd
}

// requireSquid returns the squid binary and its Basic auth helper, or
// skips the test saying what is missing; IDP_REQUIRE_PROXY_TEST=1 makes
// that a failure.
func requireSquid(t *testing.T) (bin, helper string) {
	t.Helper()
	skip := func(why string) {
		msg := why + ": install squid (apt-get install -y squid-openssl) and add \"127.0.0.1 " +
			bitbucketHost + " " + controlPlaneHost + "\" to /etc/hosts"
		if os.Getenv("IDP_REQUIRE_PROXY_TEST") == "1" {
			t.Fatal(msg + " (IDP_REQUIRE_PROXY_TEST=1 makes this a failure)")
		}
		t.Skip(msg)
	}
	bin, err := exec.LookPath("squid")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/squid"); statErr != nil {
			skip("squid not found")
		}
		bin = "/usr/sbin/squid"
	}
	helpers, _ := filepath.Glob("/usr/lib*/squid*/basic_ncsa_auth")
	if len(helpers) == 0 {
		skip("squid's basic_ncsa_auth helper not found under /usr/lib/squid")
	}
	for _, h := range []string{bitbucketHost, controlPlaneHost} {
		addrs, err := net.LookupHost(h)
		if err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
			skip(h + " does not resolve to 127.0.0.1")
		}
	}
	return bin, helpers[0]
}

// startSquid runs squid on a free loopback port, requiring Basic auth as
// user/password (checked by basic_ncsa_auth against a password file made
// here) and closing CONNECT tunnels idle for idle: squid's read_timeout,
// which is what ends an idle tunnel (client_idle_pconn_timeout only covers
// idle keep-alive connections between requests).
func startSquid(t *testing.T, idle time.Duration) *squid {
	t.Helper()
	return startSquidWith(t, idle, nil)
}

// startSquidWith is startSquid with more settings: extra, given squid's
// directory, returns options for the http_port line and lines to add.
func startSquidWith(t *testing.T, idle time.Duration, extra func(dir string) (portOptions, lines string)) *squid {
	t.Helper()
	bin, helper := requireSquid(t)
	// Not t.TempDir: squid's helpers run as the proxy user when the test
	// runs as root, and must reach the password file.
	dir, err := os.MkdirTemp("", "squid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	s := &squid{user: "svc-delegate", password: "Pr0xy-pa55word", accessLog: filepath.Join(dir, "access.log")}
	sum := md5.Sum([]byte(s.password)) // basic_ncsa_auth accepts unsalted MD5
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(s.user+":"+hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var portOptions, lines string
	if extra != nil {
		portOptions, lines = extra(dir)
	}
	conf := fmt.Sprintf(`http_port 127.0.0.1:%d %s
%s
auth_param basic program %s %s
auth_param basic realm proxytest
auth_param basic children 2
acl authenticated proxy_auth REQUIRED
http_access allow authenticated
http_access deny all
read_timeout %d seconds
cache deny all
access_log stdio:%s
cache_log %s
pid_filename %s
coredump_dir %s
netdb_filename none
pinger_enable off
logfile_rotate 0
shutdown_lifetime 0 seconds
`, s.port, portOptions, lines, helper, passwd, int(idle/time.Second), s.accessLog, filepath.Join(dir, "cache.log"),
		filepath.Join(dir, "squid.pid"), dir)
	confPath := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{s.accessLog, filepath.Join(dir, "cache.log")} {
		if err := os.WriteFile(f, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(f, 0o666)
	}
	s.cmd = exec.Command(bin, "-N", "-f", confPath)
	out := &lockedBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			cache, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			t.Logf("--- squid output:\n%s\n--- cache.log:\n%s\n--- access.log:\n%s", out.String(), cache, s.log())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			cache, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			t.Fatalf("squid exited at start:\n%s\n%s", out.String(), cache)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("squid did not listen within 20s:\n%s", out.String())
		}
	}
}

// url is the proxy's URL with the given password.
func (s *squid) url(password string) string {
	return fmt.Sprintf("http://%s:%s@127.0.0.1:%d", s.user, password, s.port)
}

// redacted is how the delegate names the proxy in logs and messages.
func (s *squid) redacted() string {
	return fmt.Sprintf("http://%s:[REDACTED]@127.0.0.1:%d", s.user, s.port)
}

// log returns squid's access log: one line per finished request or
// tunnel, e.g. "... TCP_TUNNEL/200 4242 CONNECT host:port user ...".
func (s *squid) log() string {
	b, _ := os.ReadFile(s.accessLog)
	return string(b)
}

// count counts the access log lines holding every one of parts.
func (s *squid) count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(s.log(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}
