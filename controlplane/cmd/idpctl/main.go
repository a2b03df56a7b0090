// Command idpctl is the command-line client of the control plane's
// management API; see package idpctl for everything it does.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/idpctl"
)

func main() {
	// Ctrl-C cancels the running call or wait, so idpctl can say what was
	// left running (a sync goes on without the watcher).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := idpctl.Run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
