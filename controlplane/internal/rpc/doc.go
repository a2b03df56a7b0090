// Package rpc is the control plane's gRPC edge and the only package of
// this module that imports the generated wire types. It authenticates
// every call (delegate tokens for DelegateService, API keys with
// permissions and the feature flag for the management services, also when
// the HTTP face forwards a console session's call as its key: ActingAs),
// translates wire messages to domain types and back, and maps domain
// faults to gRPC statuses with google.rpc ErrorInfo and BadRequest details
// in one table (status.go).
package rpc
