// Package rpc is the control plane's gRPC server edge: the only package of
// the server that imports the generated wire types (idpctl imports them
// too, as a wire client of the same API, and httpapi names the services'
// descriptors; see ARCHITECTURE.md). It authenticates every call (delegate
// tokens for DelegateService, API keys with permissions and the feature
// flag for the management services, also when the HTTP face forwards a
// console session's call as its key: ActingAs),
// translates wire messages to domain types and back, and maps domain
// faults to gRPC statuses with google.rpc ErrorInfo and BadRequest details
// in one table (status.go). It holds no rules: views and decisions come
// from the domain services.
package rpc
