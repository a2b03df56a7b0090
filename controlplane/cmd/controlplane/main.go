// Command controlplane is the vendor side of Bitbucket Cloud auto-discovery:
// it serves the delegate and management gRPC APIs, the management API over
// HTTP and the web console (`controlplane serve`), and administers accounts
// and credentials (`controlplane admin ...`).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/shared/buildinfo"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "controlplane",
		Short:         "Control plane of Bitbucket Cloud auto-discovery for the IDP catalog",
		Version:       buildinfo.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	root.AddCommand(serveCommand(), adminCommand())
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "controlplane:", err)
		if code := cli.ExitCode(err); code == cli.ExitUsage {
			fmt.Fprintln(stderr, "Run 'controlplane --help' for usage.")
		}
	}
	return exitCode(err)
}

// exitCode maps what a command returned to the exit code, as idpctl does:
// 2 for a usage error and for a value the store refuses (an --db of no
// known form, an account or name it rejects), 1 for any other failure.
func exitCode(err error) int {
	if err != nil && fault.CodeOf(err) == fault.Invalid {
		return cli.ExitUsage
	}
	return cli.ExitCode(err)
}

// bindEnv ties flags to environment variables and applies them before the
// command runs.
func bindEnv(cmd *cobra.Command, bindings map[string]string) {
	cli.BindEnv(cmd.Flags(), bindings)
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := cli.ApplyEnv(c.Flags()); err != nil {
			return err
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// noArgs rejects positional arguments as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q", args[0])
	}
	return nil
}
