package controlplane

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestTransportErrorsSayWhatToDo checks the hints added to connection
// errors whose raw text does not tell an operator which setting is wrong.
func TestTransportErrorsSayWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		raw, hint string
	}{
		{"connection error: desc = \"transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority\"", "set --ca-file"},
		{"connection error: desc = \"transport: authentication handshake failed: tls: first record does not look like a TLS handshake\"", "--tls=false"},
		{"connection error: desc = \"transport: authentication handshake failed: credentials: cannot check peer: missing selected ALPN property\"", "exempt the control plane's host from inspection"},
	} {
		got := translate(status.Error(codes.Unavailable, tc.raw))
		if !strings.Contains(got.Error(), tc.hint) || !strings.Contains(got.Error(), tc.raw) {
			t.Errorf("translate(%q) = %q; want the original text and the hint %q", tc.raw, got, tc.hint)
		}
		if !Transient(got) {
			t.Errorf("%q is no longer transient; the delegate would stop retrying", tc.raw)
		}
	}
}
