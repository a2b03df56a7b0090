package tlstrust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ca is a certificate authority that signs one server certificate.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key}
}

func (c *ca) leaf(t *testing.T, host string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (c *ca) pemFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func trusts(pool *x509.CertPool, leaf *x509.Certificate) bool {
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: leaf.DNSNames[0]})
	return err == nil
}

// TestCAFileAddsToTheSystemRoots: with a CA file, servers signed by the
// system's CAs and by the file's CA are both trusted; without one, only
// the system's.
func TestCAFileAddsToTheSystemRoots(t *testing.T) {
	t.Parallel()
	systemCA, privateCA, strangerCA := newCA(t, "system"), newCA(t, "private"), newCA(t, "stranger")
	system := func() (*x509.CertPool, error) {
		p := x509.NewCertPool()
		p.AddCert(systemCA.cert)
		return p, nil
	}
	public, private, stranger := systemCA.leaf(t, "cp.example.com"), privateCA.leaf(t, "cp.internal"), strangerCA.leaf(t, "evil.example")

	pool, err := withFile(system, privateCA.pemFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if !trusts(pool, public) || !trusts(pool, private) || trusts(pool, stranger) {
		t.Errorf("with a CA file: system %v, private %v, stranger %v; want true, true, false",
			trusts(pool, public), trusts(pool, private), trusts(pool, stranger))
	}
	pool, err = withFile(system, "")
	if err != nil {
		t.Fatal(err)
	}
	if !trusts(pool, public) || trusts(pool, private) {
		t.Errorf("without a CA file: system %v, private %v; want true, false", trusts(pool, public), trusts(pool, private))
	}
	// No system roots at all: the CA file alone.
	pool, err = withFile(func() (*x509.CertPool, error) { return nil, errors.New("no roots here") }, privateCA.pemFile(t))
	if err != nil {
		t.Fatal(err)
	}
	if !trusts(pool, private) || trusts(pool, public) {
		t.Errorf("without system roots: private %v, system %v; want true, false", trusts(pool, private), trusts(pool, public))
	}
}

func TestCAFileErrors(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Roots(notPEM); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a file without PEM: %v", err)
	}
	if _, err := Roots(filepath.Join(t.TempDir(), "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := Roots(""); err != nil {
		t.Errorf("no CA file: %v", err)
	}
}
