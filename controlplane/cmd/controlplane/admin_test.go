package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

func TestAdminKeysTokensAndFlags(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
	bootstrap(t, dsn)
	out, errOut, code := runCLI(t, "admin", "api-key", "create", "--db", dsn, "--account", "acme", "--name", "viewer",
		"--permission", "idp_catalog_view", "-o", "json")
	if code != 0 {
		t.Fatalf("api-key create: %s", errOut)
	}
	var key struct {
		APIKey      string   `json:"api_key"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal([]byte(out), &key); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "admin", "delegate-token", "create", "--db", dsn, "--account", "acme", "-o", "json")
	if code != 0 {
		t.Fatalf("delegate-token create: %s", errOut)
	}
	var tok struct {
		DelegateToken string `json:"delegate_token"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "admin", "feature-flag", "set", "--db", dsn, "--account", "acme", "--enabled=false"); code != 0 {
		t.Fatalf("feature-flag set: %s", errOut)
	}
	if _, _, code := runCLI(t, "admin", "feature-flag", "set", "--db", dsn, "--account", "nobody", "--enabled=true"); code != 1 {
		t.Fatalf("flag of an unknown account: exit %d, want 1", code)
	}

	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, err := db.APIKeyByHash(context.Background(), auth.Hash(key.APIKey))
	if err != nil || k.Name != "viewer" || !slices.Equal(k.Permissions, []auth.Permission{auth.CatalogView}) {
		t.Fatalf("stored key: %+v, %v", k, err)
	}
	if d, err := db.DelegateTokenByHash(context.Background(), auth.Hash(tok.DelegateToken)); err != nil || d.AccountID != "acme" {
		t.Fatalf("stored token: %+v, %v", d, err)
	}
	if on, err := db.FeatureFlag(context.Background(), "acme", auth.FlagAutoDiscovery); err != nil || on {
		t.Fatalf("flag still on: %v", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "controlplane"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	srv := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "idp.db"), "--tls-cert", certFile, "--tls-key", keyFile)
	conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := healthgrpc.NewHealthClient(conn).Check(t.Context(), &healthgrpc.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("health over TLS: %v, %v", hc, err)
	}
}
