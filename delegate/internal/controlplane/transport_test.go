package controlplane

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gRPC's own texts of the failures that show HTTP/2 cannot pass, and of
// ones that do not.
var (
	errNoALPN  = status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: credentials: cannot check peer: missing selected ALPN property. If you upgraded from a grpc-go version earlier than 1.67, your TLS connections may have stopped working due to ALPN enforcement."`)
	errNoProto = status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: remote error: tls: no application protocol"`)
	errHTTP1   = status.Error(codes.Unavailable, `connection error: desc = "error reading server preface: http2: failed reading the frame payload: http2: frame too large, note that the frame header looked like an HTTP/1.1 header"`)
	errNotGRPC = status.Error(codes.Unknown, `unexpected HTTP status code received from server: 502 (Bad Gateway); transport: received unexpected content-type "text/html"`)
	errRefused = status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.1:443: connect: connection refused"`)
	errX509    = status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`)
	errToken   = status.Error(codes.Unauthenticated, "unknown delegate token")
)

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mode     Mode
		haveHTTP bool
		current  Transport
		err      error
		want     Transport
	}{
		{"grpc starts on gRPC", ModeGRPC, true, "", nil, GRPC},
		{"http1 starts on HTTP/1.1", ModeHTTP1, true, "", nil, HTTP1},
		{"auto starts on gRPC", ModeAuto, true, "", nil, GRPC},
		{"auto without an HTTP address starts on gRPC", ModeAuto, false, "", nil, GRPC},

		{"auto falls back when TLS did not agree to HTTP/2", ModeAuto, true, GRPC, errNoALPN, HTTP1},
		{"auto falls back when TLS refused HTTP/2", ModeAuto, true, GRPC, errNoProto, HTTP1},
		{"auto falls back on an HTTP/1.1 answer to the preface", ModeAuto, true, GRPC, errHTTP1, HTTP1},
		{"auto falls back when HTTP/2 reached no gRPC server", ModeAuto, true, GRPC, errNotGRPC, HTTP1},
		{"auto stays on gRPC when the control plane is down", ModeAuto, true, GRPC, errRefused, GRPC},
		{"auto stays on gRPC when the certificate is not trusted", ModeAuto, true, GRPC, errX509, GRPC},
		{"auto stays on gRPC when the token is refused", ModeAuto, true, GRPC, errToken, GRPC},
		{"auto stays on gRPC after a success", ModeAuto, true, GRPC, nil, GRPC},
		{"auto without an HTTP address cannot fall back", ModeAuto, false, GRPC, errNoALPN, GRPC},
		{"auto never returns to gRPC", ModeAuto, true, HTTP1, errRefused, HTTP1},
		{"auto stays on HTTP/1.1 after a success", ModeAuto, true, HTTP1, nil, HTTP1},

		{"grpc never falls back", ModeGRPC, true, GRPC, errNoALPN, GRPC},
		{"http1 stays on HTTP/1.1", ModeHTTP1, true, HTTP1, errRefused, HTTP1},
	}
	for _, tt := range tests {
		if got := Next(tt.mode, tt.haveHTTP, tt.current, tt.err); got != tt.want {
			t.Errorf("%s: Next(%s, %v, %q, %v) = %s, want %s", tt.name, tt.mode, tt.haveHTTP, tt.current, tt.err, got, tt.want)
		}
	}
}

func TestBlockedSaysWhyInPlainWords(t *testing.T) {
	t.Parallel()
	const via = "http://svc:[REDACTED]@proxy.corp:3128"
	tests := []struct {
		err  error
		via  string
		want string
	}{
		{errNoALPN, via, "the proxy " + via + " does not speak HTTP/2: it answered the TLS handshake for the control plane without agreeing to HTTP/2"},
		{errNoALPN, "", "something between the delegate and the control plane (a TLS-inspecting firewall or a load balancer) does not speak HTTP/2"},
		{errNoProto, via, "the proxy " + via + " does not speak HTTP/2: it refused HTTP/2 in the TLS handshake"},
		{errHTTP1, via, "the proxy " + via + " does not speak HTTP/2: it answered gRPC's HTTP/2 preface in HTTP/1.1"},
		{errNotGRPC, via, "the proxy " + via + " does not pass gRPC through"},
		{errRefused, via, ""},
		{errX509, via, ""},
		{errors.New("context deadline exceeded"), via, ""},
		{nil, via, ""},
	}
	for _, tt := range tests {
		got := Blocked(tt.err, tt.via)
		if tt.want == "" && got != "" || !strings.HasPrefix(got, tt.want) {
			t.Errorf("Blocked(%v, %q) = %q, want it to start %q", tt.err, tt.via, got, tt.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Mode{"auto": ModeAuto, "grpc": ModeGRPC, "http1": ModeHTTP1, " HTTP1 ": ModeHTTP1} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "http", "h2", "grpc-web"} {
		if _, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q) accepted", in)
		}
	}
}
