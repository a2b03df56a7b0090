package controlplane

import (
	"fmt"
	"strings"
)

// Mode is how the delegate reaches the control plane (--transport).
type Mode string

const (
	// ModeAuto makes calls over gRPC and, once HTTP/2 proves unable to
	// reach the control plane, over HTTP/1.1 for good.
	ModeAuto Mode = "auto"
	// ModeGRPC makes every call over gRPC (HTTP/2) to --control-plane.
	ModeGRPC Mode = "grpc"
	// ModeHTTP1 makes every call over HTTP/1.1 (the Connect protocol) to
	// --control-plane-http.
	ModeHTTP1 Mode = "http1"
)

// Modes are the values of --transport, the default first.
var Modes = []Mode{ModeAuto, ModeGRPC, ModeHTTP1}

// ParseMode reads a --transport value.
func ParseMode(v string) (Mode, error) {
	for _, m := range Modes {
		if strings.EqualFold(strings.TrimSpace(v), string(m)) {
			return m, nil
		}
	}
	return "", fmt.Errorf("want auto, grpc or http1, got %q", v)
}

// Transport is the protocol a call travels by.
type Transport string

const (
	GRPC  Transport = "grpc"
	HTTP1 Transport = "http1"
)

// DelegatePath is where the control plane's HTTP face serves the
// DelegateService; --control-plane-http names the face, the delegate adds
// this path.
const DelegatePath = "/delegate"

// Next is the transport of the next call. current is that of the call
// that failed with err, or "" before the first call. Only auto ever moves,
// once and one way, from gRPC to HTTP/1.1, and only when there is an HTTP
// address to move to and err shows that HTTP/2 cannot pass (Blocked): a
// control plane that is down, refuses the token or whose certificate is
// not trusted would fail over HTTP/1.1 all the same. Such a failure
// happens before the request reaches the control plane, so the call is
// safe to make again over the new transport at once.
func Next(mode Mode, haveHTTP bool, current Transport, err error) Transport {
	switch {
	case mode == ModeHTTP1:
		return HTTP1
	case mode == ModeGRPC, !haveHTTP:
		return GRPC
	case current == HTTP1:
		return HTTP1
	case current == GRPC && err != nil && Blocked(err, "") != "":
		return HTTP1
	}
	return GRPC
}

// Blocked says, in plain words, why err shows that gRPC's HTTP/2 cannot
// reach the control plane, or returns "" when it does not. via is the
// proxy of the gRPC connection (credentials redacted), "" when direct.
func Blocked(err error, via string) string {
	if err == nil {
		return ""
	}
	who := "something between the delegate and the control plane (a TLS-inspecting firewall or a load balancer)"
	if via != "" {
		who = "the proxy " + via
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "missing selected ALPN property"):
		// TLS completed, but the server side did not agree to HTTP/2:
		// a TLS-inspecting proxy answering for the control plane.
		return who + " does not speak HTTP/2: it answered the TLS handshake for the control plane without agreeing to HTTP/2 (no h2 in ALPN), as TLS-inspecting proxies that speak only HTTP/1.1 do"
	case strings.Contains(msg, "tls: no application protocol"):
		return who + " does not speak HTTP/2: it refused HTTP/2 in the TLS handshake for the control plane (no application protocol in common)"
	case strings.Contains(msg, "looked like an HTTP/1.1 header"):
		return who + " does not speak HTTP/2: it answered gRPC's HTTP/2 preface in HTTP/1.1"
	case strings.Contains(msg, "malformed header: missing HTTP content-type"),
		strings.Contains(msg, "transport: received unexpected content-type"):
		return who + " does not pass gRPC through: HTTP/2 reached something that answered without gRPC's content type (" + firstLine(msg) + ")"
	}
	return ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
