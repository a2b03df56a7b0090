package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

func adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Administer accounts, feature flags and credentials in the database",
		Long: `Administer accounts, feature flags and credentials directly in the
database (--db), on the control plane's machine. Credentials are printed
once and stored only as hashes.`,
	}
	cmd.AddCommand(bootstrapCommand(), featureFlagCommand(), apiKeyCommand(), delegateTokenCommand())
	return cmd
}

// adminFlags are the flags every admin command has.
type adminFlags struct {
	db, account, output string
}

func (a *adminFlags) register(cmd *cobra.Command, output bool) {
	cmd.Flags().StringVar(&a.db, "db", DefaultDB, "database: sqlite://PATH or postgres://USER@HOST:PORT/DB?sslmode=...")
	cmd.Flags().StringVar(&a.account, "account", "", "account name (also its id), e.g. acme")
	bindings := map[string]string{"db": "IDP_DB", "account": "IDP_ACCOUNT"}
	if output {
		cmd.Flags().StringVarP(&a.output, "output", "o", "text", "output format: text or json")
		bindings["output"] = "IDP_OUTPUT"
	}
	bindEnv(cmd, bindings)
}

func (a *adminFlags) check() error {
	if a.account == "" {
		return cli.Usagef("--account is required")
	}
	if err := auth.ValidateAccountID(a.account); err != nil {
		return cli.Usagef("--account: %v", fault.As(err).Violations[0].Description)
	}
	if a.output != "" && a.output != "text" && a.output != "json" {
		return cli.Usagef("--output %q: want text or json", a.output)
	}
	return nil
}

// open opens --db and, for a person reading text output, says on stderr
// which database that is and whether it was just created, so that a typo
// in --db is seen. JSON output is for scripts, which often merge stderr
// into what they parse, so it stays quiet.
func (a *adminFlags) open(ctx context.Context, stderr io.Writer) (*store.DB, error) {
	db, err := store.Open(ctx, a.db)
	if err != nil || a.output == "json" {
		return db, err
	}
	fmt.Fprintf(stderr, "database: %s %s\n", db.Dialect(), db.Location())
	if db.Created() {
		fmt.Fprintf(stderr, "warning: created a new, empty database at %s (check --db if you expected existing data)\n", db.Location())
	}
	return db, nil
}

// issued holds new secrets, shown once.
type issued struct {
	AccountID     string   `json:"account_id"`
	Created       bool     `json:"created"`
	APIKey        string   `json:"api_key,omitempty"`
	APIKeyName    string   `json:"api_key_name,omitempty"`
	Permissions   []string `json:"permissions,omitempty"`
	DelegateToken string   `json:"delegate_token,omitempty"`
}

func newAPIKey(ctx context.Context, db store.Store, account, name string, perms []auth.Permission, now time.Time) (string, error) {
	token := auth.NewToken(auth.APIKeyPrefix)
	return token, db.CreateAPIKey(ctx, auth.APIKey{ID: ids.New("key"), AccountID: account, Name: name, Hash: auth.Hash(token),
		Permissions: perms, CreatedAt: now})
}

func newDelegateToken(ctx context.Context, db store.Store, account, name string, now time.Time) (string, error) {
	token := auth.NewToken(auth.DelegateTokenPrefix)
	return token, db.CreateDelegateToken(ctx, auth.DelegateToken{ID: ids.New("dt"), AccountID: account, Name: name,
		Hash: auth.Hash(token), CreatedAt: now})
}

func bootstrapCommand() *cobra.Command {
	var a adminFlags
	var fresh bool
	cmd := &cobra.Command{
		Use:   "bootstrap",
		Short: "Create an account with the feature flag on, an admin API key and a delegate token",
		Long: `Create an account with feature flag IDP_CATALOG_CD_AUTO_DISCOVERY on, an
admin API key carrying every permission, and a delegate token, and print
the two credentials once. Running it again for an existing account changes
nothing unless --new-credentials is given, which issues a new admin key
and delegate token (the old ones stay valid).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.open(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer db.Close()
			now := time.Now().UTC()
			out := issued{AccountID: a.account, Created: true}
			err = db.CreateAccount(ctx, auth.Account{ID: a.account, CreatedAt: now}, []auth.Flag{auth.FlagAutoDiscovery})
			if fault.CodeOf(err) == fault.AlreadyExists {
				out.Created = false
				if !fresh {
					return printBootstrap(cmd.OutOrStdout(), a.output, out)
				}
			} else if err != nil {
				return err
			}
			name := "admin"
			if !out.Created {
				name = "admin-" + strconv.FormatInt(now.Unix(), 10)
			}
			if out.APIKey, err = newAPIKey(ctx, db, a.account, name, auth.AllPermissions, now); err != nil {
				return err
			}
			out.APIKeyName = name
			for _, p := range auth.AllPermissions {
				out.Permissions = append(out.Permissions, string(p))
			}
			if out.DelegateToken, err = newDelegateToken(ctx, db, a.account, name, now); err != nil {
				return err
			}
			return printBootstrap(cmd.OutOrStdout(), a.output, out)
		},
	}
	a.register(cmd, true)
	cmd.Flags().BoolVar(&fresh, "new-credentials", false, "for an existing account, issue a new admin API key and delegate token")
	return cmd
}

func printBootstrap(w io.Writer, format string, c issued) error {
	if format == "json" {
		return writeJSON(w, c)
	}
	switch {
	case c.Created:
		fmt.Fprintf(w, "Account %s created; feature flag %s is on.\n", c.AccountID, auth.FlagAutoDiscovery)
	case c.APIKey == "":
		fmt.Fprintf(w, "Account %s already exists; nothing changed.\nRun again with --new-credentials to issue a new admin API key and delegate token.\n", c.AccountID)
		return nil
	default:
		fmt.Fprintf(w, "Account %s already exists; new credentials issued (the old ones stay valid).\n", c.AccountID)
	}
	fmt.Fprintf(w, "\nAdmin API key (%s):\n  %s\nDelegate token:\n  %s\n\nThey are shown only now: store them in your secret manager.\n",
		strings.Join(c.Permissions, ", "), c.APIKey, c.DelegateToken)
	fmt.Fprintf(w, "Delegates use: --account %s with the delegate token; idpctl uses the API key.\n", cli.Quote(c.AccountID))
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func featureFlagCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "feature-flag", Short: "Set per-account feature flags"}
	var a adminFlags
	var flag string
	var enabled bool
	set := &cobra.Command{
		Use:   "set",
		Short: "Switch a feature flag of an account on or off",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.check(); err != nil {
				return err
			}
			f, err := auth.ParseFlag(flag)
			if err != nil {
				return cli.Usagef("--flag: %v", err)
			}
			if !cmd.Flags().Changed("enabled") {
				return cli.Usagef("--enabled is required: --enabled=true or --enabled=false")
			}
			db, err := a.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.SetFeatureFlag(cmd.Context(), a.account, f, enabled, time.Now().UTC()); err != nil {
				return err
			}
			state := "off"
			if enabled {
				state = "on"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Feature flag %s is %s for account %s.\n", f, state, a.account)
			return nil
		},
	}
	a.register(set, false)
	set.Flags().StringVar(&flag, "flag", string(auth.FlagAutoDiscovery), "flag name")
	set.Flags().BoolVar(&enabled, "enabled", false, "true to switch the flag on, false to switch it off")
	cmd.AddCommand(set)
	return cmd
}

func apiKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "api-key", Short: "Issue management API keys"}
	var a adminFlags
	var name string
	var perms []string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key with chosen permissions and print it once",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.check(); err != nil {
				return err
			}
			if strings.TrimSpace(name) == "" {
				return cli.Usagef("--name is required")
			}
			var list []auth.Permission
			for _, p := range perms {
				for part := range strings.SplitSeq(p, ",") {
					perm, err := auth.ParsePermission(part)
					if err != nil {
						return cli.Usagef("--permission: %v", err)
					}
					list = append(list, perm)
				}
			}
			db, err := a.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer db.Close()
			key, err := newAPIKey(cmd.Context(), db, a.account, name, list, time.Now().UTC())
			if err != nil {
				return err
			}
			out := issued{AccountID: a.account, APIKey: key, APIKeyName: name, Permissions: permissionNames(list)}
			if a.output == "json" {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "API key %q for account %s (permissions: %s):\n  %s\nIt is shown only now.\n",
				name, a.account, strings.Join(out.Permissions, ", "), key)
			return nil
		},
	}
	a.register(create, true)
	create.Flags().StringVar(&name, "name", "", "name of the key, shown in event logs as key:NAME")
	create.Flags().StringSliceVar(&perms, "permission", nil, "permission to grant, repeatable: IDP_INTEGRATION_EDIT, IDP_CATALOG_VIEW, IDP_CATALOG_EDIT")
	cmd.AddCommand(create)
	return cmd
}

func permissionNames(list []auth.Permission) []string {
	out := []string{}
	for _, p := range list {
		out = append(out, string(p))
	}
	return out
}

func delegateTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "delegate-token", Short: "Issue delegate tokens"}
	var a adminFlags
	var name string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a delegate token for an account and print it once",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.check(); err != nil {
				return err
			}
			db, err := a.open(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer db.Close()
			tok, err := newDelegateToken(cmd.Context(), db, a.account, name, time.Now().UTC())
			if err != nil {
				return err
			}
			if a.output == "json" {
				return writeJSON(cmd.OutOrStdout(), issued{AccountID: a.account, DelegateToken: tok})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Delegate token for account %s:\n  %s\nIt is shown only now.\n", a.account, tok)
			return nil
		},
	}
	a.register(create, true)
	create.Flags().StringVar(&name, "name", "delegates", "name of the token, for support")
	cmd.AddCommand(create)
	return cmd
}
