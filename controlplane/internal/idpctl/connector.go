package idpctl

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

var connectorSubject = &subject{
	noun:     "connector",
	prefixes: []string{"connector."},
	flags: map[string]string{
		"name":               "--name",
		"url":                "--url",
		"workspace":          "--workspace",
		"username":           "--username",
		"token_ref":          "--token-ref",
		"token_refs":         "--token-ref",
		"api_base_url":       "--api-url",
		"delegate_selectors": "--selector",
	},
	list: "idpctl connector list",
}

func (a *app) connectorCommand() *cobra.Command {
	return group("connector", "Manage Bitbucket Cloud connectors",
		`A connector says how a delegate reaches one Bitbucket Cloud workspace: the
workspace URL over HTTPS, the username x-token-auth, and references to one or
more workspace access tokens (env:NAME or file:/path) that only the delegate
resolves. Each access token has its own hourly allowance at Bitbucket: with
several, the delegate spreads requests over them and skips one Bitbucket
rejects.
The token needs the scopes Projects: Read, Repositories: Read and
Pull requests: Read; 'idpctl connector test' checks them.`,
		a.connectorCreateCommand(),
		a.connectorListCommand(),
		a.connectorGetCommand(),
		a.connectorEditCommand(),
		a.connectorDeleteCommand(),
		a.connectorTestCommand(),
		a.connectorTestResultCommand(),
	)
}

func (a *app) connectorCreateCommand() *cobra.Command {
	var (
		name, workspace, rawURL, username, apiURL string
		tokenRefs, selectors                      []string
		output                                    outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME (--workspace SLUG | --url URL) --token-ref REF [--token-ref REF ...]",
		Short: "Create a connector",
		Long: `Create a connector to a Bitbucket Cloud workspace.

--workspace SLUG stands for --url https://bitbucket.org/SLUG. Use HTTPS: SSH
URLs are rejected. --token-ref names where the delegate finds the workspace
access token: env:NAME (a variable in the delegate's environment) or
file:/absolute/path (a file on the delegate's machine). The token itself never
reaches the control plane.

Repeat --token-ref to give the connector several access tokens of the same
workspace (up to 16). Bitbucket gives each access token its own hourly
allowance, so the first full sync of a large workspace finishes about that many
times sooner. The delegate spreads requests over the tokens by their remaining
budgets, moves work off a token that is rate limited, and skips a token that
Bitbucket rejects (revoked or expired), naming it in the delegate's log and in
the sync run ('idpctl runs', 'idpctl integration get').`,
		Example: `  # The delegate reads the token from $BITBUCKET_TOKEN
  idpctl connector create --name bb-acme --workspace acme --token-ref env:BITBUCKET_TOKEN

  # Three access tokens: three hourly allowances
  idpctl connector create --name bb-acme --workspace acme \
      --token-ref env:BITBUCKET_TOKEN_1 --token-ref env:BITBUCKET_TOKEN_2 \
      --token-ref file:/run/secrets/bitbucket-token-3

  # Only delegates tagged "eu" run this connector's tasks
  idpctl connector create --name bb-acme --workspace acme \
      --token-ref file:/etc/idp/bitbucket-token --selector eu

  # Against a Bitbucket mock
  idpctl connector create --name bb-test --url https://bitbucket.org/acme \
      --token-ref env:BB_TOKEN --api-url http://127.0.0.1:8089/2.0`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "name", "token-ref"); err != nil {
				return err
			}
			switch {
			case workspace != "" && rawURL != "":
				return cli.Usagef("give --workspace or --url, not both")
			case workspace != "":
				u, err := workspaceURL(workspace)
				if err != nil {
					return cli.Usagef("invalid --workspace: %v", err)
				}
				rawURL = u
			case rawURL == "":
				return cli.Usagef("--workspace SLUG or --url URL is required")
			}
			for _, ref := range tokenRefs {
				if err := checkTokenRef(ref); err != nil {
					return cli.Usagef("invalid --token-ref: %v", err)
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.connectors.CreateConnector, &integrationv1.CreateConnectorRequest{
				Connector: &integrationv1.Connector{
					Name:              name,
					Url:               rawURL,
					Username:          username,
					TokenRefs:         tokenRefs,
					ApiBaseUrl:        apiURL,
					DelegateSelectors: selectors,
				},
			})
			if err != nil {
				return about(connectorSubject, err)
			}
			conn := resp.GetConnector()
			return a.writeMessage(output, conn, func(w io.Writer) {
				fmt.Fprintf(w, "Connector %q created for workspace %s (id %s).\n", conn.GetName(), conn.GetWorkspace(), conn.GetId())
				a.hint("Next: check the token and its scopes with: %s", cmdLine("connector", "test", conn.GetName()))
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "connector name, unique in the account")
	f.StringVar(&workspace, "workspace", "", "workspace slug; means --url https://bitbucket.org/SLUG")
	f.StringVar(&rawURL, "url", "", "workspace or repository URL over HTTPS")
	f.StringVar(&username, "username", "x-token-auth", "username; workspace access tokens use x-token-auth")
	f.StringArrayVar(&tokenRefs, "token-ref", nil, "where the delegate finds an access token: env:NAME or file:/absolute/path; repeatable, one per token (up to 16)")
	f.StringVar(&apiURL, "api-url", "", "Bitbucket API base URL (default: the server's, https://api.bitbucket.org/2.0)")
	f.StringSliceVar(&selectors, "selector", nil, "delegate tag required to run this connector's tasks; repeatable")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) connectorListCommand() *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List connectors",
		Example: `  idpctl connector list
  idpctl connector list -o json | jq -r '.items[].name'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, true, func(ctx context.Context, size int32, token string) ([]*integrationv1.Connector, string, int64, error) {
				resp, err := c.connectors.ListConnectors(ctx, &integrationv1.ListConnectorsRequest{PageSize: size, PageToken: token})
				return resp.GetConnectors(), resp.GetNextPageToken(), resp.GetTotal(), err
			})
			if err != nil {
				return about(connectorSubject, err)
			}
			return writeList(a, &o, p, []column[*integrationv1.Connector]{
				{"NAME", (*integrationv1.Connector).GetName},
				{"ID", (*integrationv1.Connector).GetId},
				{"WORKSPACE", (*integrationv1.Connector).GetWorkspace},
				{"TOKEN REFS", func(c *integrationv1.Connector) string { return strings.Join(connectorTokenRefs(c), ",") }},
				{"SELECTORS", func(c *integrationv1.Connector) string { return strings.Join(c.GetDelegateSelectors(), ",") }},
				{"CREATED", func(c *integrationv1.Connector) string { return a.age(c.GetCreatedAt()) }},
			}, "No connectors. Create one with: "+cmdLine("connector", "create", "--name", "NAME", "--workspace", "SLUG", "--token-ref", "env:BITBUCKET_TOKEN"))
		},
	}
	addListFlags(cmd, &o)
	return cmd
}

func (a *app) connectorGetCommand() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "get CONNECTOR",
		Short: "Show a connector (by id or name)",
		Example: `  idpctl connector get bb-acme
  idpctl connector get bb-acme -o yaml`,
		Args: exactArgs("CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.connectors.GetConnector, &integrationv1.GetConnectorRequest{Connector: args[0]})
			if err != nil {
				return about(connectorSubject, err)
			}
			conn := resp.GetConnector()
			return a.writeMessage(output, conn, func(w io.Writer) {
				d := newDetails(w)
				d.add("Name", conn.GetName())
				d.add("ID", conn.GetId())
				d.add("Workspace", conn.GetWorkspace())
				d.add("URL", conn.GetUrl())
				d.add("Username", conn.GetUsername())
				for _, ref := range connectorTokenRefs(conn) {
					d.add("Token ref", ref)
				}
				d.add("API URL", conn.GetApiBaseUrl())
				d.add("Selectors", strings.Join(conn.GetDelegateSelectors(), ","))
				d.add("Created", a.when(conn.GetCreatedAt()))
				d.flush()
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) connectorEditCommand() *cobra.Command {
	var (
		name, apiURL         string
		tokenRefs, selectors []string
		output               outputFormat
	)
	cmd := &cobra.Command{
		Use:   "edit CONNECTOR [--name NAME] [--token-ref REF ...] [--api-url URL] [--selector TAG ...]",
		Short: "Change a connector's name, tokens, API URL or selectors",
		Long: `Change the settings given, and only those. --token-ref, repeated, replaces the
whole list of tokens (give every token the connector should keep); --selector,
repeated, replaces the selectors (--selector "" clears them). The workspace
URL cannot change: the connector's integrations belong to its workspace.

The next tasks of the connector's integrations use the new values; a running
sync keeps the tokens it started with.`,
		Example: `  # Add a second and a third token (the list is replaced: keep the first)
  idpctl connector edit bb-acme --token-ref env:BITBUCKET_TOKEN \
      --token-ref env:BITBUCKET_TOKEN_2 --token-ref env:BITBUCKET_TOKEN_3

  # Drop a revoked token
  idpctl connector edit bb-acme --token-ref env:BITBUCKET_TOKEN_2 --token-ref env:BITBUCKET_TOKEN_3

  idpctl connector edit bb-acme --name bb-acme-prod --selector eu`,
		Args: exactArgs("CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			changes := &integrationv1.Connector{}
			var mask []string
			f := cmd.Flags()
			if f.Changed("name") {
				changes.Name, mask = name, append(mask, "name")
			}
			if f.Changed("token-ref") {
				for _, ref := range tokenRefs {
					if err := checkTokenRef(ref); err != nil {
						return cli.Usagef("invalid --token-ref: %v", err)
					}
				}
				changes.TokenRefs, mask = tokenRefs, append(mask, "token_refs")
			}
			if f.Changed("api-url") {
				changes.ApiBaseUrl, mask = apiURL, append(mask, "api_base_url")
			}
			if f.Changed("selector") {
				for _, s := range selectors {
					if s != "" {
						changes.DelegateSelectors = append(changes.DelegateSelectors, s)
					}
				}
				mask = append(mask, "delegate_selectors")
			}
			if len(mask) == 0 {
				return cli.Usagef("nothing to change: give --name, --token-ref, --api-url or --selector")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.connectors.UpdateConnector, &integrationv1.UpdateConnectorRequest{
				Connector: args[0], Changes: changes, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
			})
			if err != nil {
				return about(connectorSubject, err)
			}
			conn := resp.GetConnector()
			return a.writeMessage(output, conn, func(w io.Writer) {
				fmt.Fprintf(w, "Connector %q updated: %s.\n", conn.GetName(), strings.Join(mask, ", "))
				if f.Changed("token-ref") {
					a.hint("Check every token with: idpctl connector test %s", conn.GetName())
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name, unique in the account")
	f.StringArrayVar(&tokenRefs, "token-ref", nil, "where the delegate finds an access token: env:NAME or file:/absolute/path; repeatable; replaces the list")
	f.StringVar(&apiURL, "api-url", "", "Bitbucket API base URL (empty: the default, https://api.bitbucket.org/2.0)")
	f.StringSliceVar(&selectors, "selector", nil, "delegate tag required to run this connector's tasks; repeatable; replaces the list (\"\" clears it)")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) connectorDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "delete CONNECTOR",
		Aliases: []string{"rm"},
		Short:   "Delete a connector that no integration uses",
		Example: `  idpctl connector delete bb-acme`,
		Args:    exactArgs("CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(cmd.Context(), a, c.connectors.DeleteConnector, &integrationv1.DeleteConnectorRequest{Connector: args[0]}); err != nil {
				return about(connectorSubject, err)
			}
			fmt.Fprintf(a.stdout, "Connector %q deleted.\n", args[0])
			return nil
		},
	}
}

func (a *app) connectorTestCommand() *cobra.Command {
	var (
		timeout time.Duration
		noWait  bool
		output  outputFormat
	)
	cmd := &cobra.Command{
		Use:   "test CONNECTOR",
		Short: "Test a connector on a delegate: token, workspace, scopes",
		Long: `Test a connector: a delegate that matches its selectors checks that the token
is valid, that the workspace is reachable, and that the token has the scopes
Projects: Read, Repositories: Read and Pull requests: Read. Each missing scope
is listed. Each token of the connector is checked on its own, with a line per
token: valid or not, the scopes Bitbucket says it has, and its hourly limit as
Bitbucket states it (X-RateLimit-Limit). The test succeeds when every token
passes.

idpctl waits for the verdict (up to --timeout) and exits 1 when the test
failed or gave no verdict in time. --no-wait prints the queued test; read its
verdict later with 'idpctl connector test-result TEST_ID'.`,
		Example: `  idpctl connector test bb-acme
  idpctl connector test bb-acme --timeout 5m -o json`,
		Args: exactArgs("CONNECTOR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return cli.Usagef("--timeout must be positive")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), a.requestTimeout)
			if !noWait {
				a.hint("Testing connector %q on a delegate (waiting up to %s)...", args[0], timeout)
				cancel()
				ctx, cancel = context.WithTimeout(cmd.Context(), timeout)
			}
			defer cancel()
			resp, err := c.connectors.TestConnector(ctx, &integrationv1.TestConnectorRequest{Connector: args[0], Wait: !noWait})
			if status.Code(err) == codes.DeadlineExceeded && !noWait {
				return fmt.Errorf("no verdict within %s: no delegate ran the test. Is a delegate connected whose tags match the connector's selectors? (see %s)", timeout, cmdLine("connector", "get", args[0]))
			}
			if err != nil {
				return about(connectorSubject, err)
			}
			return a.reportConnectorTest(args[0], resp.GetTest(), output, !noWait)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the verdict")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "queue the test and return at once")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) connectorTestResultCommand() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:     "test-result TEST_ID",
		Short:   "Show a connection test's verdict",
		Example: `  idpctl connector test-result 7f3c9a`,
		Args:    exactArgs("TEST_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.connectors.GetConnectorTest, &integrationv1.GetConnectorTestRequest{Id: args[0]})
			if err != nil {
				return err
			}
			return a.reportConnectorTest(resp.GetTest().GetConnectorId(), resp.GetTest(), output, false)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// reportConnectorTest prints a test and fails when it failed, or when a
// verdict was awaited and none came.
func (a *app) reportConnectorTest(connector string, t *integrationv1.ConnectorTest, output outputFormat, awaited bool) error {
	err := a.writeMessage(output, t, func(w io.Writer) {
		d := newDetails(w)
		d.add("Connector", connector)
		d.add("Test ID", t.GetId())
		d.add("Status", enumName(t.GetStatus(), "CONNECTOR_TEST_STATUS_"))
		if t.GetStatus() == integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_SUCCEEDED ||
			t.GetStatus() == integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_FAILED {
			d.add("Token valid", yesNo(t.GetTokenValid()))
			d.add("Workspace reachable", yesNo(t.GetWorkspaceReachable()))
			for _, s := range t.GetMissingScopes() {
				d.add("Missing scope", s)
			}
			for _, tc := range t.GetTokens() {
				d.add("Token "+tc.GetTokenRef(), tokenCheckLine(tc))
			}
		}
		d.add("Message", t.GetMessage())
		d.flush()
	})
	if err != nil {
		return err
	}
	switch t.GetStatus() {
	case integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_FAILED:
		return fmt.Errorf("connector test failed: %s", cmp.Or(t.GetMessage(), "see above"))
	case integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_SUCCEEDED:
		return nil
	}
	if awaited {
		return fmt.Errorf("no verdict yet: test %s is %s. Is a delegate connected whose tags match the connector's selectors? Check later: %s",
			t.GetId(), enumName(t.GetStatus(), "CONNECTOR_TEST_STATUS_"), cmdLine("connector", "test-result", t.GetId()))
	}
	a.hint("The test is %s. Read its verdict later: %s", enumName(t.GetStatus(), "CONNECTOR_TEST_STATUS_"), cmdLine("connector", "test-result", t.GetId()))
	return nil
}

// connectorTokenRefs are a connector's token references, from a server
// that may send token_ref alone.
func connectorTokenRefs(c *integrationv1.Connector) []string {
	if refs := c.GetTokenRefs(); len(refs) > 0 {
		return refs
	}
	return []string{c.GetTokenRef()}
}

// tokenCheckLine is the verdict on one token: valid, scopes, limit.
func tokenCheckLine(tc *integrationv1.ConnectorTokenCheck) string {
	parts := []string{"valid"}
	if !tc.GetValid() {
		parts = []string{"NOT VALID"}
	}
	if sc := tc.GetScopes(); len(sc) > 0 {
		parts = append(parts, "scopes "+strings.Join(sc, ","))
	}
	if ms := tc.GetMissingScopes(); len(ms) > 0 {
		parts = append(parts, "missing "+strings.Join(ms, ", "))
	}
	if l := tc.GetLimitPerHour(); l > 0 {
		parts = append(parts, fmt.Sprintf("limit %d/h", l))
	} else if tc.GetValid() {
		parts = append(parts, "limit not stated")
	}
	line := strings.Join(parts, "; ")
	if !tc.GetValid() || len(tc.GetMissingScopes()) > 0 {
		line += " (" + tc.GetMessage() + ")"
	}
	return line
}

// enumName shows an enum value without its type prefix; "-" for unset.
func enumName(e fmt.Stringer, prefix string) string {
	s := strings.TrimPrefix(e.String(), prefix)
	if s == "UNSPECIFIED" {
		return "-"
	}
	return s
}
