// Command mock-bitbucket serves a fake Bitbucket Cloud REST API 2.0 (package
// bitbucketmock) for trying the delegate by hand, demos and benchmarks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/buildinfo"
	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/catalog-discovery/bitbucket/shared/logging"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newCommand(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mock-bitbucket:", err)
	}
	os.Exit(cli.ExitCode(err))
}

type options struct {
	listen, tlsCertOut, workspace, rateLimit, faults string
	tls                                              bool
	seed                                             int64
	repos, projects, prsPerRepo, commitsPerRepo      int
	tokens                                           tokenFlag
	notOwners, tokenRates                            []string
	faultRate, dropDeliveries                        float64
	faultDelay, latency                              time.Duration
	deliveryTimeout, deliveryRetryDelay              time.Duration
	log                                              logging.Config
}

const long = `Serves a fake Bitbucket Cloud REST API 2.0 with a generated workspace:
repositories, projects, pull requests, commits, branches and tags, with the
real pagination, BBQL filtering, partial responses, auth errors and rate
limiting. The API is under /2.0/; a control API under /_mock/ adds, renames,
moves and deletes repositories, pushes commits, opens, merges and declines
pull requests, and reads request counters (GET /_mock/ lists its routes).
Workspace webhooks (/2.0/workspaces/{workspace}/hooks) receive signed
deliveries of every change, retried on 5xx and timeouts.

Every flag can also be set by the environment variable named in its help.
Per-request log lines are at debug level (--log-level debug).`

func newCommand(stdout, stderr io.Writer) *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "mock-bitbucket",
		Short:         "Serve a fake Bitbucket Cloud API for tests and demos",
		Long:          long,
		Version:       buildinfo.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unexpected argument %q: mock-bitbucket takes flags only", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.ApplyEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg, err := o.config()
			if err != nil {
				return err
			}
			return run(cmd.Context(), o, cfg, stdout, stderr)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	fs := cmd.Flags()
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8990", "address to serve on, host:port (port 0 picks a free one)")
	fs.BoolVar(&o.tls, "tls", false, "serve HTTPS with a self-signed certificate generated at start")
	fs.StringVar(&o.tlsCertOut, "tls-cert-out", "", "with --tls, write the certificate (PEM) here so clients can trust it")
	fs.StringVar(&o.workspace, "workspace", "acme", "workspace slug")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the generated data and of fault decisions; same seed, same data")
	fs.IntVar(&o.repos, "repos", 50, "number of generated repositories (about 1 in 20 empty, 1 in 8 with a non-ASCII name)")
	fs.IntVar(&o.projects, "projects", 0, "number of projects (0: one per 50 repositories, at least 1)")
	fs.IntVar(&o.prsPerRepo, "prs-per-repo", 10, "pull requests per non-empty repository (open, merged, declined, superseded)")
	fs.IntVar(&o.commitsPerRepo, "commits-per-repo", 30, "commits on the main branch of each non-empty repository")
	fs.Var(&o.tokens, "token", "accepted token as TOKEN[:scope,scope], repeatable; scopes default to project,repository,pullrequest (default mock-token)")
	fs.StringSliceVar(&o.notOwners, "not-owner", nil, "name of a token (token-1, token-2, ... in --token order) that is not a workspace owner: it may not manage webhooks; repeatable")
	fs.StringArrayVar(&o.tokenRates, "token-rate-limit", nil, "a token's own allowance as NAME=RATE (token-1, token-2, ... in --token order), e.g. token-2=2000/h; others follow --rate-limit; repeatable")
	fs.Float64Var(&o.dropDeliveries, "drop-deliveries", 0, "fraction (0 to 1) of webhook deliveries never sent, drawn from --seed")
	fs.DurationVar(&o.deliveryTimeout, "delivery-timeout", bitbucketmock.DefaultDeliveryTimeout, "how long a webhook receiver has to answer one attempt")
	fs.DurationVar(&o.deliveryRetryDelay, "delivery-retry-delay", bitbucketmock.DefaultDeliveryRetryDelay, "wait before each of the two retries of a failed delivery")
	fs.StringVar(&o.rateLimit, "rate-limit", "off", "requests per credential per rolling window, e.g. 1000/h or 50/10s; past it 429")
	fs.Float64Var(&o.faultRate, "fault-rate", 0, "fraction (0 to 1) of API requests that get a fault from --faults")
	fs.StringVar(&o.faults, "faults", "500,502,503", "faults to draw from: "+strings.Join(kindNames(), ","))
	fs.DurationVar(&o.faultDelay, "fault-delay", bitbucketmock.DefaultFaultDelay, "how long the slow fault waits and the trickle fault takes")
	fs.DurationVar(&o.latency, "latency", 0, "latency added to every API request, e.g. 20ms")
	fs.StringVar(&o.log.Level, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&o.log.Format, "log-format", logging.FormatAuto, "log format: auto, json, console")
	env := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		env[f.Name] = "MOCK_BITBUCKET_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
	})
	cli.BindEnv(fs, env)
	return cmd
}

func kindNames() []string {
	var names []string
	for _, k := range bitbucketmock.AllFaultKinds {
		names = append(names, string(k))
	}
	return names
}

// config turns the flags into a Config; every error names its flag.
func (o *options) config() (bitbucketmock.Config, error) {
	cfg := bitbucketmock.Config{Workspace: o.workspace, Seed: o.seed, Repos: o.repos, Projects: o.projects,
		PRsPerRepo: o.prsPerRepo, CommitsPerRepo: o.commitsPerRepo, Tokens: o.tokens.tokens, Latency: o.latency}
	for name, v := range map[string]int{"repos": o.repos, "projects": o.projects, "prs-per-repo": o.prsPerRepo, "commits-per-repo": o.commitsPerRepo} {
		if v < 0 {
			return cfg, cli.Usagef("--%s %d: want 0 or more", name, v)
		}
	}
	_, port, err := net.SplitHostPort(o.listen)
	if err != nil {
		return cfg, cli.Usagef("--listen %q: want host:port, e.g. 127.0.0.1:8990 or :0", o.listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return cfg, cli.Usagef("--listen %q: the port must be a number from 0 to 65535", o.listen)
	}
	rate, err := bitbucketmock.ParseRate(o.rateLimit)
	if err != nil {
		return cfg, cli.Usagef("--rate-limit: %v", err)
	}
	cfg.RateLimit = rate
	kinds, err := bitbucketmock.ParseFaultKinds(o.faults)
	if err != nil {
		return cfg, cli.Usagef("--faults: %v", err)
	}
	if o.faultRate < 0 || o.faultRate > 1 {
		return cfg, cli.Usagef("--fault-rate %v: want a fraction between 0 and 1", o.faultRate)
	}
	if o.faultDelay < 0 {
		return cfg, cli.Usagef("--fault-delay %v: want 0 or more", o.faultDelay)
	}
	if o.latency < 0 {
		return cfg, cli.Usagef("--latency %v: want 0 or more", o.latency)
	}
	if o.tlsCertOut != "" && !o.tls {
		return cfg, cli.Usagef("--tls-cert-out needs --tls")
	}
	cfg.Faults = bitbucketmock.Faults{Rate: o.faultRate, Kinds: kinds, Delay: o.faultDelay}
	if o.dropDeliveries < 0 || o.dropDeliveries > 1 {
		return cfg, cli.Usagef("--drop-deliveries %v: want a fraction between 0 and 1", o.dropDeliveries)
	}
	if o.deliveryTimeout <= 0 {
		return cfg, cli.Usagef("--delivery-timeout %v: want more than 0", o.deliveryTimeout)
	}
	if o.deliveryRetryDelay <= 0 {
		return cfg, cli.Usagef("--delivery-retry-delay %v: want more than 0", o.deliveryRetryDelay)
	}
	cfg.Deliveries = bitbucketmock.DeliveryConfig{Drop: o.dropDeliveries, Timeout: o.deliveryTimeout, RetryDelay: o.deliveryRetryDelay}
	if len(cfg.Tokens) == 0 && (len(o.notOwners) > 0 || len(o.tokenRates) > 0) {
		cfg.Tokens = []bitbucketmock.Token{bitbucketmock.DefaultToken}
	}
	cfg.Tokens = slices.Clone(cfg.Tokens)
	for _, name := range o.notOwners {
		i := slices.IndexFunc(cfg.Tokens, func(t bitbucketmock.Token) bool { return tokenName(t, cfg.Tokens) == name })
		if i < 0 {
			return cfg, cli.Usagef("--not-owner %q: no such token; tokens are named token-1, token-2, ... in --token order, and the default token default", name)
		}
		cfg.Tokens[i].NotOwner = true
	}
	for _, v := range o.tokenRates {
		name, raw, ok := strings.Cut(v, "=")
		if !ok {
			return cfg, cli.Usagef("--token-rate-limit %q: want NAME=RATE, e.g. token-2=2000/h", v)
		}
		i := slices.IndexFunc(cfg.Tokens, func(t bitbucketmock.Token) bool { return tokenName(t, cfg.Tokens) == name })
		if i < 0 {
			return cfg, cli.Usagef("--token-rate-limit %q: no such token; tokens are named token-1, token-2, ... in --token order, and the default token default", name)
		}
		r, err := bitbucketmock.ParseRate(raw)
		if err != nil {
			return cfg, cli.Usagef("--token-rate-limit %s: %v", name, err)
		}
		cfg.Tokens[i].RateLimit = r
	}
	return cfg, nil
}

func run(ctx context.Context, o options, cfg bitbucketmock.Config, stdout, stderr io.Writer) error {
	var secrets logging.Secrets
	for _, t := range cfg.Tokens {
		secrets.Add(t.Value)
	}
	log, err := logging.New(stderr, o.log, &secrets)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	cfg.Logger = log
	srv, err := bitbucketmock.New(cfg)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	var running *bitbucketmock.Running
	if o.tls {
		host, _, _ := net.SplitHostPort(o.listen)
		cert, certPEM, err := bitbucketmock.SelfSignedCert(certHosts(host)...)
		if err != nil {
			return fmt.Errorf("generating the TLS certificate: %w", err)
		}
		if o.tlsCertOut != "" {
			if err := os.WriteFile(o.tlsCertOut, certPEM, 0o644); err != nil {
				return fmt.Errorf("--tls-cert-out: %w", err)
			}
		}
		running, err = srv.ListenTLS(o.listen, cert, certPEM)
		if err != nil {
			return fmt.Errorf("--listen %s: %w", o.listen, err)
		}
	} else if running, err = srv.Listen(o.listen); err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	fmt.Fprintf(stdout, "mock Bitbucket Cloud API: %s\ncontrol API:              %s/\n", running.URL, running.ControlURL)
	log.Info().Str("version", buildinfo.Get().String()).Str("url", running.URL).Str("workspace", srv.Workspace()).
		Int("repos", len(srv.Repos())).Str("rate_limit", srv.RateLimit().String()).
		Float64("fault_rate", cfg.Faults.Rate).Msg("serving")

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := running.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// tokenName is the name Config gives t among tokens: its own, else
// token-N by position.
func tokenName(t bitbucketmock.Token, tokens []bitbucketmock.Token) string {
	if t.Name != "" {
		return t.Name
	}
	return fmt.Sprintf("token-%d", slices.IndexFunc(tokens, func(u bitbucketmock.Token) bool { return u.Value == t.Value })+1)
}

// certHosts names the certificate after the listen host and the loopback
// names clients use.
func certHosts(host string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if host != "" && host != "0.0.0.0" && host != "::" {
		hosts = append(hosts, host)
	}
	return hosts
}

// tokenFlag collects --token values. One value may hold several tokens
// separated by spaces, so that MOCK_BITBUCKET_TOKEN can give more than one.
type tokenFlag struct{ tokens []bitbucketmock.Token }

func (f *tokenFlag) Set(v string) error {
	for field := range strings.FieldsSeq(v) {
		t, err := bitbucketmock.ParseToken(field)
		if err != nil {
			return err
		}
		f.tokens = append(f.tokens, t)
	}
	return nil
}

// String never shows token values, since --help and errors print it.
func (f *tokenFlag) String() string {
	if len(f.tokens) == 0 {
		return ""
	}
	return fmt.Sprintf("%d tokens", len(f.tokens))
}

func (f *tokenFlag) Type() string { return "token" }
