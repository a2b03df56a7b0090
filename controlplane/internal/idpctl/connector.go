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
		"api_base_url":       "--api-url",
		"delegate_selectors": "--selector",
	},
	list: "idpctl connector list",
}

func (a *app) connectorCommand() *cobra.Command {
	return group("connector", "Manage Bitbucket Cloud connectors",
		`A connector says how a delegate reaches one Bitbucket Cloud workspace: the
workspace URL over HTTPS, the username x-token-auth, and a reference to a
workspace access token (env:NAME or file:/path) that only the delegate resolves.
The token needs the scopes Projects: Read, Repositories: Read and
Pull requests: Read; 'idpctl connector test' checks them.`,
		a.connectorCreateCommand(),
		a.connectorListCommand(),
		a.connectorGetCommand(),
		a.connectorDeleteCommand(),
		a.connectorTestCommand(),
		a.connectorTestResultCommand(),
	)
}

func (a *app) connectorCreateCommand() *cobra.Command {
	var (
		name, workspace, rawURL, username, tokenRef, apiURL string
		selectors                                           []string
		output                                              outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME (--workspace SLUG | --url URL) --token-ref REF",
		Short: "Create a connector",
		Long: `Create a connector to a Bitbucket Cloud workspace.

--workspace SLUG stands for --url https://bitbucket.org/SLUG. Use HTTPS: SSH
URLs are rejected. --token-ref names where the delegate finds the workspace
access token: env:NAME (a variable in the delegate's environment) or
file:/absolute/path (a file on the delegate's machine). The token itself never
reaches the control plane.`,
		Example: `  # The delegate reads the token from $BITBUCKET_TOKEN
  idpctl connector create --name bb-acme --workspace acme --token-ref env:BITBUCKET_TOKEN

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
			if err := checkTokenRef(tokenRef); err != nil {
				return cli.Usagef("invalid --token-ref: %v", err)
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
					TokenRef:          tokenRef,
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
	f.StringVar(&tokenRef, "token-ref", "", "where the delegate finds the token: env:NAME or file:/absolute/path")
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
				{"TOKEN REF", (*integrationv1.Connector).GetTokenRef},
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
				d.add("Token ref", conn.GetTokenRef())
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
is listed.

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

// enumName shows an enum value without its type prefix; "-" for unset.
func enumName(e fmt.Stringer, prefix string) string {
	s := strings.TrimPrefix(e.String(), prefix)
	if s == "UNSPECIFIED" {
		return "-"
	}
	return s
}
