package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startInspectingSquid starts a squid that inspects TLS (ssl-bump): it
// answers every CONNECT with a certificate it makes for the host, signed
// by a CA made here, decrypts, and speaks HTTP/1.1 only, to both sides,
// as squid 5 does. It trusts the control plane's certificate cpCert. It
// returns the squid and the CA's certificate file, for --ca-file.
func startInspectingSquid(t *testing.T, idle time.Duration, cpCert string) (*squid, string) {
	t.Helper()
	certgen := "/usr/lib/squid/security_file_certgen"
	if _, err := os.Stat(certgen); err != nil {
		requireSquid(t)
		msg := certgen + " not found: install squid-openssl"
		if os.Getenv("IDP_REQUIRE_PROXY_TEST") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var caFile string
	sq := startSquidWith(t, idle, func(dir string) (string, string) {
		var keyFile string
		caFile, keyFile = writeCA(t, dir, "Proxytest TLS Inspection CA")
		db := filepath.Join(dir, "ssl_db")
		if out, err := exec.Command(certgen, "-c", "-s", db, "-M", "4MB").CombinedOutput(); err != nil {
			t.Fatalf("%s -c: %v\n%s", certgen, err, out)
		}
		// squid's helpers run as the proxy user when the test runs as root.
		_ = filepath.Walk(db, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o777) })
		return fmt.Sprintf("ssl-bump tls-cert=%s tls-key=%s generate-host-certificates=on dynamic_cert_mem_cache_size=4MB", caFile, keyFile),
			fmt.Sprintf(`sslcrtd_program %s -s %s -M 4MB
sslcrtd_children 2
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=%s`, certgen, db, cpCert)
	})
	return sq, caFile
}

// writeCA writes a CA certificate and its key as PEM files.
func writeCA(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "inspection-ca.pem"), filepath.Join(dir, "inspection-ca.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o644); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestDelegateThroughTLSInspectingSquid runs the real binaries behind a
// squid that inspects TLS and speaks only HTTP/1.1, with Basic auth. The
// control plane serves TLS on both faces; the delegate trusts only the
// squid's CA. With --transport auto, gRPC fails through the squid, the
// delegate says so once and moves to HTTP/1.1, and a sync completes with
// every control-plane call decrypted by squid. Idle polls that squid cuts
// (it answers 504 when the control plane sends nothing for its
// read_timeout) are made again at once, quietly, as over gRPC. A wrong
// proxy password on the HTTP/1.1 transport fails once, clearly.
func TestDelegateThroughTLSInspectingSquid(t *testing.T) {
	t.Parallel()
	var inspectionCA string
	s := startProxyStackWith(t, func(cpCert string) *squid {
		sq, ca := startInspectingSquid(t, squidIdle, cpCert)
		inspectionCA = ca
		return sq
	})
	sq, c := s.sq, s.cli
	// --ca-file last: the squid's CA, instead of the control plane's own
	// certificate, which the delegate never sees through the inspection.
	d := s.delegate("inspected", s.proxied(sq.password), "--transport", "auto", "--control-plane-http", s.cpHTTP,
		"--ca-file", inspectionCA, "--poll-hold", pollHold)
	d.waitOutput(regexp.MustCompile(`registered with the control plane`), 60*time.Second)
	// Idle: squid cuts every poll; each is made again at once, at debug.
	waitCount(t, d, "long poll cut before the hold ended", idleCuts, 10*squidIdle)
	if n := sq.count("/504", "/delegate/idp.delegate.v1.DelegateService/AcquireTask"); n < idleCuts {
		t.Errorf("squid logged no cut poll:\n%s", sq.log())
	}

	startup := logLine(t, d, "delegate starting")
	if startup["transport"] != "auto" || startup["control_plane_http"] != s.cpHTTP || startup["proxy_control_plane"] != sq.redacted() ||
		startup["proxy_control_plane_http"] != sq.redacted() {
		t.Errorf("start-up log: transport %v, control_plane_http %v, proxy_control_plane %v, proxy_control_plane_http %v; want auto, %s and %s twice",
			startup["transport"], startup["control_plane_http"], startup["proxy_control_plane"], startup["proxy_control_plane_http"], s.cpHTTP, sq.redacted())
	}
	if plan, _ := startup["transport_plan"].(string); !strings.Contains(plan, "falling back for good to HTTP/1.1 (Connect) to "+s.cpHTTP+"/delegate/") {
		t.Errorf("start-up log: transport_plan %q", plan)
	}

	// The sync: queued by creating the integration, run over HTTP/1.1
	// through the inspection, and once more asked for and waited on.
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
	d.waitOutput(regexp.MustCompile(`"outcome":"succeeded"[^\n]*"message":"task finished"`), 90*time.Second)
	c.ok("sync", integration, "--wait", "--timeout", "90s")

	var fallbacks []map[string]any
	for _, l := range d.logLines() {
		if msg, _ := l["message"].(string); strings.HasPrefix(msg, "gRPC cannot reach the control plane") {
			fallbacks = append(fallbacks, l)
		}
	}
	if len(fallbacks) != 1 {
		t.Fatalf("%d fallback messages, want 1:\n%s", len(fallbacks), d.out.String())
	}
	fb := fallbacks[0]
	t.Logf("fallback: %v", fb["message"])
	if reason, _ := fb["reason"].(string); !strings.HasPrefix(reason, "the proxy "+sq.redacted()+" does not speak HTTP/2") {
		t.Errorf("fallback reason %q, want it to name the proxy and say it does not speak HTTP/2", reason)
	}
	if grpcErr, _ := fb["grpc_error"].(string); !strings.Contains(grpcErr, "ALPN") {
		t.Errorf("fallback grpc_error %q, want gRPC's ALPN failure", grpcErr)
	}
	if noisy := atLevel(d, "warn", "error"); len(noisy) > 0 {
		t.Errorf("warnings or errors:\n%s", strings.Join(noisy, "\n"))
	}
	// squid decrypted the calls: it logs each with its https URL.
	for _, m := range []string{"Register", "AcquireTask", "UploadRecords", "CompleteTask"} {
		if n := sq.count("POST https://"+net.JoinHostPort(controlPlaneHost, s.cpHTTP[strings.LastIndex(s.cpHTTP, ":")+1:])+
			"/delegate/idp.delegate.v1.DelegateService/"+m, sq.user); n == 0 {
			t.Errorf("squid logged no inspected %s call:\n%s", m, sq.log())
		}
	}
	if err := d.stop(); err != nil {
		t.Errorf("delegate exit after SIGTERM: %v", err)
	}

	// A wrong proxy password on the HTTP/1.1 transport: one clear message
	// naming the proxy and the 407, and the proxy asked once.
	const wrong = "not-the-password"
	denied := sq.count("TCP_DENIED/407")
	bad := s.delegate("wrong-password", s.proxied(wrong), "--transport", "http1", "--control-plane-http", s.cpHTTP, "--ca-file", inspectionCA)
	msg := bad.waitOutput(regexp.MustCompile(`"error":"([^"]*)"[^\n]*"message":"the proxy refused the delegate's credentials`), 30*time.Second)
	want := "proxy " + sq.redacted() + " refused the delegate's credentials for " + strings.TrimPrefix(s.cpHTTP, "https://") +
		": 407 Proxy Authentication Required"
	if !strings.HasPrefix(msg, want) {
		t.Errorf("message %q, want it to start %q", msg, want)
	}
	time.Sleep(3 * time.Second) // retries in between must not reach squid
	if n := sq.count("TCP_DENIED/407") - denied; n != 1 {
		t.Errorf("squid refused %d requests of the delegate with the wrong password, want 1:\n%s", n, sq.log())
	}
	if errs := atLevel(bad, "error", "warn"); len(errs) != 1 {
		t.Errorf("%d warnings and errors, want the one message:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	if strings.Contains(bad.out.String(), wrong) {
		t.Error("the delegate logged the proxy password")
	}
}
