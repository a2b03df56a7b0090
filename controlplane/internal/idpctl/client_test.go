package idpctl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// selfSigned makes a certificate for 127.0.0.1 and returns it with its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "control plane"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert, certPEM := selfSigned(t)
	h := newHarness(t, grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	h.mustRun(0, "connector", "list", "--ca-file", ca)
	h.env["IDP_CA_FILE"] = ca
	h.mustRun(0, "connector", "list")
	delete(h.env, "IDP_CA_FILE")
	h.mustRun(0, "connector", "list", "--insecure")
	if auth := h.fake.allCalls()[0].auth; auth != "Bearer test-key" {
		t.Errorf("authorization over TLS = %q", auth)
	}

	r := h.mustRun(1, "connector", "list", "--tls")
	if !strings.Contains(r.stderr, "x509: certificate signed by unknown authority") || !strings.Contains(r.stderr, "pass --ca-file with its CA") {
		t.Errorf("untrusted certificate: stderr = %q", r.stderr)
	}
	// Plaintext (the loopback default) against a TLS server.
	r = h.mustRun(1, "connector", "list")
	if !strings.HasPrefix(r.stderr, "Error: cannot reach the control plane at "+h.env["IDP_SERVER"]) ||
		!strings.HasSuffix(r.stderr, "(if the server uses TLS, add --tls; otherwise check --server)\n") {
		t.Errorf("plaintext to TLS: stderr = %q", r.stderr)
	}

	r = h.mustRun(2, "connector", "list", "--ca-file", filepath.Join(t.TempDir(), "none.pem"))
	if !strings.HasPrefix(r.stderr, "Error: --ca-file: open ") {
		t.Errorf("missing CA file: stderr = %q", r.stderr)
	}
}
