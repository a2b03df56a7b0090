// Package controlplane is the delegate's only door to the wire contract
// (proto/gen/idp/delegate/v1): it dials the control plane (through the
// configured proxy, with keepalive and per-RPC credentials), translates
// between wire messages and the domain types of internal/task, and turns
// gRPC statuses into the semantic errors the rest of the delegate acts on.
package controlplane
