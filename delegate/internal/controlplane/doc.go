// Package controlplane is the delegate's only door to the wire contract
// (proto/gen/idp/delegate/v1): it reaches the control plane over gRPC or,
// where HTTP/2 cannot pass, over HTTP/1.1 with the Connect protocol, or
// both with auto's one-way fallback (transport.go decides, as a pure
// function); either way through the configured proxy and with the
// delegate's credentials. It translates between wire messages and the
// domain types of internal/task, and turns statuses, whichever transport
// brought them, into the semantic errors the rest of the delegate acts on.
package controlplane
