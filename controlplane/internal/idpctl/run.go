package idpctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc"

	"github.com/catalog-discovery/bitbucket/shared/cli"
)

// DefaultServer is where idpctl looks for the control plane unless told
// otherwise: the control plane's own --listen default.
const DefaultServer = "127.0.0.1:7443"

// envBindings ties global flags to environment variables, read through the
// injected lookup so that Run never depends on the process environment.
var envBindings = map[string]string{
	"server":  "IDP_SERVER",
	"api-key": "IDP_API_KEY",
	"tls":     "IDP_TLS",
	"ca-file": "IDP_CA_FILE",
}

// app is one run of idpctl: its streams, its injected clock and terminal
// check, the global flags, and the connection made on first use.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	env            func(string) string
	now            func() time.Time
	loc            *time.Location      // for times shown in full; tests pin it
	pollInterval   time.Duration       // sync --wait; tests shorten it
	terminalWidth  func(io.Writer) int // 0 when not a terminal

	server         string
	apiKey         string
	tls            bool
	tlsSet         bool // --tls (or IDP_TLS) given, so no guessing from the host
	caFile         string
	insecure       bool
	requestTimeout time.Duration

	conn    *grpc.ClientConn
	clients *clients

	args []string // the command line as given, for commands shown again (paging)
}

// Run runs idpctl with args (without the program name), writing results to
// stdout and messages to stderr, reading environment variables through env
// (os.Getenv in the binary). It returns the exit code: 0 done, 1 failed,
// 2 usage error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	return newApp(stdout, stderr, env).run(ctx, args)
}

func newApp(stdout, stderr io.Writer, env func(string) string) *app {
	return &app{
		stdout:        stdout,
		stderr:        stderr,
		stdin:         os.Stdin,
		env:           env,
		now:           time.Now,
		loc:           time.Local,
		pollInterval:  time.Second,
		terminalWidth: terminalWidth,
	}
}

func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
		return width
	}
	return 80 // a terminal that does not say
}

func (a *app) run(ctx context.Context, args []string) int {
	a.args = args
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if a.conn != nil {
		_ = a.conn.Close() // nothing is pending once the command returned
	}
	if err == nil {
		return cli.ExitOK
	}
	fmt.Fprintf(a.stderr, "Error: %s\n", a.describe(err))
	if cli.ExitCode(err) == cli.ExitUsage && cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return exitCode(err)
}

const rootLong = `idpctl manages Bitbucket Cloud auto-discovery for the IDP catalog through the
control plane's management API.

The usual flow:
  1. idpctl connector create    how a delegate reaches the workspace
  2. idpctl connector test      check the token and its scopes
  3. idpctl integration create  confirm and enable; the first sync starts
  4. idpctl sync NAME --wait    watch a sync
  5. idpctl discovered list     repositories found, with recommendations
  6. idpctl import              register or merge them into the catalog
  7. idpctl imported list       what is linked; idpctl entity get ID -o yaml

Connection: --server HOST:PORT (default ` + DefaultServer + `). TLS is used unless
the server is on this machine (localhost, 127.0.0.0/8, ::1), where plaintext is
the default because that is how a local control plane listens; --tls or
--tls=false decides explicitly, --ca-file trusts a private CA as well as the
system's, --insecure skips verifying the certificate (testing only).

Output: -o table (default, for people), json (stable, for scripts: proto field
names, every field present, enums by name, 64-bit integers as strings, lists as
{"items": [...], "next_page_token": "..."} with "total": N where the server
counts it) or yaml (the same structure as JSON). Hints and progress go to stderr, so stdout stays parseable.

Lists: --all-pages fetches every page; a table cut at a page prints the total
where the server counts it, and the command for the next page.

Exit codes, the same in every command: 0 done, 1 failed (server error, failed
test, sync or import), 2 usage error (bad flags or arguments, or values the
server rejects, including imports that failed only on the values given).`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "idpctl",
		Short:         "Manage Bitbucket Cloud auto-discovery for the IDP catalog",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Root().PersistentFlags()
			if err := cli.ApplyEnvFrom(fs, a.env); err != nil {
				return err
			}
			a.tlsSet = fs.Changed("tls")
			if a.requestTimeout <= 0 {
				return cli.Usagef("--request-timeout must be positive, e.g. 30s; got %s", a.requestTimeout)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.UsageError{Err: err} })

	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", DefaultServer, "control plane address, HOST:PORT")
	pf.StringVar(&a.apiKey, "api-key", "", "API key sent as 'authorization: Bearer KEY'")
	pf.BoolVar(&a.tls, "tls", false, "use TLS (default: on, except for a server on this machine)")
	pf.StringVar(&a.caFile, "ca-file", "", "PEM file of CA certificates to trust for the server (implies --tls)")
	pf.BoolVar(&a.insecure, "insecure", false, "do not verify the server's certificate; for testing only (implies --tls)")
	pf.DurationVar(&a.requestTimeout, "request-timeout", 30*time.Second, "how long one call to the control plane may take")
	cli.BindEnv(pf, envBindings)

	root.AddCommand(
		a.connectorCommand(),
		a.integrationCommand(),
		a.syncCommand(),
		a.runsCommand(),
		a.discoveredCommand(),
		a.importCommand(),
		a.autoImportCommand(),
		a.importedCommand(),
		a.unlinkCommand(),
		a.eventsCommand(),
		a.entityCommand(),
		a.versionCommand(),
	)
	return root
}

// group makes a command that only holds subcommands: alone it shows its
// help; with an unknown word it is a usage error, as in kubectl and gh.
func group(use, short, long string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.ArbitraryArgs, RunE: runGroup}
	c.AddCommand(children...)
	return c
}

func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	cmd.SuggestionsMinimumDistance = 2 // cobra sets its default only on its own error path
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return cli.Usagef("%s", msg)
}

// exactArgs requires one positional argument per name, named in the error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		return cli.Usagef("expected %s, got %s", strings.Join(names, " "), describeArgs(args))
	}
}

// minArgs requires at least the named arguments; more are allowed.
func minArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) >= len(names) {
			return nil
		}
		return cli.Usagef("expected %s, got %s", strings.Join(names, " "), describeArgs(args))
	}
}

func describeArgs(args []string) string {
	switch len(args) {
	case 0:
		return "no arguments"
	case 1:
		return fmt.Sprintf("1 argument (%s)", args[0])
	}
	return fmt.Sprintf("%d arguments (%s)", len(args), strings.Join(args, " "))
}

// requireFlags turns a missing required flag into a usage error naming it;
// cobra's own check returns a plain error, which would exit 1.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return cli.Usagef("%s is required", strings.Join(missing, " and "))
	}
	return nil
}

// hint writes advice for the next step to stderr, out of the way of
// anything a script parses on stdout.
func (a *app) hint(format string, args ...any) {
	fmt.Fprintf(a.stderr, format+"\n", args...)
}
