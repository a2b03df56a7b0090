package bitbucketmock

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"time"
)

// Running is a Server listening on a socket.
type Running struct {
	*Server
	// URL is the API base, ending in /2.0, e.g. http://127.0.0.1:41234/2.0.
	URL string
	// ControlURL is the control API base, ending in /_mock.
	ControlURL string
	// CertPEM is the self-signed certificate when serving TLS, else nil.
	CertPEM []byte

	client   *http.Client
	srv      *http.Server
	done     chan struct{} // closed when Serve returns, with serveErr set
	serveErr error
}

// Listen serves s over plain HTTP on addr ("127.0.0.1:0" picks a port).
func (s *Server) Listen(addr string) (*Running, error) { return s.listen(addr, nil, nil) }

// ListenTLS serves s over HTTPS on addr with cert; certPEM is handed back in
// Running.CertPEM so clients can trust it. HTTP/2 is off: the connection
// reset fault needs to hijack HTTP/1 connections.
func (s *Server) ListenTLS(addr string, cert tls.Certificate, certPEM []byte) (*Running, error) {
	return s.listen(addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, certPEM)
}

func (s *Server) listen(addr string, tc *tls.Config, certPEM []byte) (*Running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	scheme := "http"
	if tc != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tc)
	}
	root := scheme + "://" + ln.Addr().String()
	run := &Running{Server: s, URL: root + "/2.0", ControlURL: root + "/_mock", CertPEM: certPEM,
		srv: &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}},
		done: make(chan struct{})}
	run.client = &http.Client{}
	if certPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		run.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	s.deliveries.mu.Lock()
	s.deliveries.apiBase = run.URL
	s.deliveries.mu.Unlock()
	go func() {
		run.serveErr = run.srv.Serve(ln)
		close(run.done)
	}()
	return run, nil
}

// Client returns an HTTP client that trusts the server's certificate.
func (r *Running) Client() *http.Client { return r.client }

// Shutdown stops accepting requests and waits for those in flight, until ctx
// ends; webhook deliveries still in flight are abandoned.
func (r *Running) Shutdown(ctx context.Context) error {
	r.deliveries.stop()
	err := r.srv.Shutdown(ctx)
	<-r.done
	if !errors.Is(r.serveErr, http.ErrServerClosed) {
		return r.serveErr
	}
	return err
}

// Close stops the server at once, dropping requests and webhook deliveries
// in flight.
func (r *Running) Close() error {
	r.deliveries.stop()
	err := r.srv.Close()
	<-r.done
	return err
}

// SelfSignedCert makes a certificate for hosts (names or IPs), valid for a
// year from now, and its PEM encoding.
func SelfSignedCert(hosts ...string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mock-bitbucket"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: clients trust it as its own CA
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return cert, certPEM, err
}
