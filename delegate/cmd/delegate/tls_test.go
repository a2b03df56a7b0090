package main

import (
	"context"
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

	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
)

// selfSignedCA makes a CA and a server certificate for 127.0.0.1 signed
// by it; it returns the server's TLS config and the CA's PEM file.
func selfSignedCA(t *testing.T) (*tls.Config, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test control plane CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "control plane"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caFile
}

func TestTLSToTheControlPlaneTrustsTheGivenCA(t *testing.T) {
	t.Parallel()
	server, caFile := selfSignedCA(t)
	cp := fakecontrol.New(t, fakecontrol.Options{Token: testenv.DelegateToken, Account: testenv.Account, TLS: server})

	trusted := start(t, delegateEnv(cp, "IDP_TLS=true", "IDP_CA_FILE="+caFile))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(cp.Registrations()) == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the delegate with --ca-file did not register over TLS:\n%s", trusted.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	untrusted := start(t, delegateEnv(cp, "IDP_TLS=true", "IDP_DELEGATE_NAME=no-ca"))
	for _, want := range []string{"x509: certificate signed by unknown authority", "set --ca-file to the CA that signed it"} {
		for !strings.Contains(untrusted.stderr.String(), want) {
			if ctx.Err() != nil {
				t.Fatalf("the delegate without --ca-file logged no %q:\n%s", want, untrusted.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, r := range cp.Registrations() {
		if r.GetName() == "no-ca" {
			t.Error("the delegate without the CA registered anyway")
		}
	}
	assertNoSecrets(t, untrusted.stderr.String())
}
