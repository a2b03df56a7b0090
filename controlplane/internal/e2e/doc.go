// Package e2e holds the end-to-end tests: they build the real binaries
// (mock-bitbucket, controlplane, delegate, idpctl), start them on loopback
// against each other and walk the user's journey with idpctl, checking
// every printed table and JSON document. They need the Go toolchain and the
// workspace (go.work); `go test -short` skips them.
package e2e
