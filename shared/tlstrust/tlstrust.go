// Package tlstrust builds the certificate roots the delegate and idpctl
// trust for the control plane. A CA file (--ca-file, IDP_CA_FILE) adds to
// the system roots and never replaces them, in both binaries: a private CA
// for the control plane must not drop the roots the machine's
// administrators installed, such as a TLS-inspecting proxy's CA added
// through SSL_CERT_FILE or SSL_CERT_DIR.
package tlstrust

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Roots returns the system roots plus the certificates of the PEM file at
// caFile, if one is given.
func Roots(caFile string) (*x509.CertPool, error) {
	return withFile(x509.SystemCertPool, caFile)
}

// withFile adds caFile's certificates to a copy of the roots system gives;
// a system without roots (some minimal containers) starts empty.
func withFile(system func() (*x509.CertPool, error), caFile string) (*x509.CertPool, error) {
	pool, err := system()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return pool, nil
}
