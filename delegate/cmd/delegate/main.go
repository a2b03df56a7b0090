// Command delegate is the part of Bitbucket Cloud catalog discovery that
// runs in the customer's network: it dials out to the control plane over
// gRPC, takes sync and connection-test tasks, calls Bitbucket within a
// request budget, and uploads normalized records. See --help.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
	"github.com/catalog-discovery/bitbucket/delegate/internal/agent"
	"github.com/catalog-discovery/bitbucket/delegate/internal/bitbucket"
	"github.com/catalog-discovery/bitbucket/delegate/internal/config"
	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/metrics"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/shared/buildinfo"
	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := newCommand(os.Stderr).ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delegate:", err)
	}
	os.Exit(cli.ExitCode(err))
}

const longHelp = `The delegate runs in your network and is the only component that talks to
Bitbucket Cloud. It dials out to the control plane (gRPC, or HTTP/1.1 where
HTTP/2 cannot pass), long-polls for tasks, calls the Bitbucket REST API within
a per-token request budget, and uploads normalized records.

Every flag can also be set through the environment variable named in its
help; a flag on the command line wins over the variable.

Proxies (read once at start-up; the start-up log says which proxy serves
which target, credentials redacted):
  PROXY_HOST, PROXY_PORT, PROXY_SCHEME (http|https), PROXY_USER, PROXY_PASSWORD
      Harness-style settings. When PROXY_HOST is set it is used for every
      target and HTTPS_PROXY/HTTP_PROXY are ignored.
  HTTPS_PROXY / https_proxy, HTTP_PROXY / http_proxy
      Otherwise: HTTPS_PROXY for https targets (Bitbucket, the control plane),
      HTTP_PROXY for http targets; lowercase wins over uppercase.
  NO_PROXY / no_proxy
      Hosts, .domains, IPs and CIDRs reached directly, in both cases.
      localhost and loopback addresses are always reached directly.
  PROXY_MANAGER=false
      Connect to the control plane directly while Bitbucket uses the proxy.
The control-plane connection tunnels through the proxy with HTTP CONNECT
(Basic auth from the proxy URL or PROXY_USER/PROXY_PASSWORD), over either
transport.

Transports (--transport): grpc is gRPC over HTTP/2 to --control-plane. http1
makes the same calls with the Connect protocol over HTTP/1.1 (one HTTPS POST
per call) to the control plane's HTTP face, --control-plane-http (the URL of
its --http-listen, where the console is; the delegate adds /delegate/). It
passes proxies that speak only HTTP/1.1, TLS-inspecting ones included: give
the inspecting proxy's CA with --ca-file. auto, the default, uses gRPC and,
when a call shows that HTTP/2 cannot pass (a TLS peer that does not agree to
HTTP/2, an HTTP/1.1 answer), moves to http1 for good and logs why once;
without --control-plane-http it stays on gRPC. Long polls, cut-poll handling
and --poll-hold are the same on both; --keepalive pings exist only in gRPC.

Proxies that close idle connections (squid's read_timeout, often 15 s to a
few minutes) cut the delegate's long polls. A poll cut after it was open a
while is routine: the delegate polls again at once and logs it at debug.
To avoid the cuts, set --poll-hold below the proxy's idle timeout, or
--keepalive below it so that pings keep the connection busy (the control
plane must permit pings that often: its --keepalive-min-time, default 20s).
A proxy answering 407 (credentials refused) is not retried: the task fails
at once naming the proxy and the status, and the control-plane connection
logs it once and asks that proxy again only every 10 minutes, so that a
directory account is not locked out.

Access: the control plane names the API base URL and the token reference of
each task; the delegate decides whether to use them. A task whose API host is
not in --allowed-api-hosts, or whose token reference matches no pattern of
--allowed-token-refs, fails with a message naming the host or reference and
the setting. https is required unless the operator listed the host.

TLS: Bitbucket is verified against the system roots; SSL_CERT_FILE and
SSL_CERT_DIR add a TLS-inspecting proxy's CA as usual. --ca-file adds CAs for
the control plane (both transports), e.g. a TLS-inspecting proxy's CA.

Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on failure,
2 on invalid configuration.`

func newCommand(stderr io.Writer) *cobra.Command {
	var flags config.Flags
	cmd := &cobra.Command{
		Use:           "delegate",
		Short:         "Bitbucket Cloud discovery delegate for the developer portal catalog",
		Long:          longHelp,
		Version:       buildinfo.Get().String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.ApplyEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg, err := flags.Validate()
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg, stderr)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cli.UsageError{Err: err} })
	flags.Bind(cmd.Flags())
	return cmd
}

func run(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	secrets := &logging.Secrets{}
	secrets.Add(cfg.Token)
	px, err := proxy.FromEnv(os.Getenv)
	if err != nil {
		return cli.Usagef("proxy settings: %v", err)
	}
	secrets.Add(px.Secrets()...)
	log, err := logging.New(stderr, cfg.Log, secrets)
	if err != nil {
		return cli.Usagef("%v", err)
	}

	info := buildinfo.Get()
	var cpProxy, httpProxy *url.URL
	var cpProxyErr, httpProxyErr error
	if cfg.ControlPlane != "" {
		cpProxy, cpProxyErr = px.ForControlPlane(cfg.ControlPlane)
	}
	if cfg.ControlPlaneHTTP != "" {
		httpProxy, httpProxyErr = px.ForControlPlane(hostPort(cfg.ControlPlaneHTTP))
	}
	budget := bitbucket.DefaultBudget
	if cfg.Budget.IsSet() {
		budget = bitbucket.BudgetLimit{Requests: cfg.Budget.Requests, Window: cfg.Budget.Window}
	}
	ev := log.Info().Str("version", info.Version).Str("go", info.GoVersion).
		Str("transport", string(cfg.Transport)).Str("transport_plan", transportPlan(cfg)).
		Str("control_plane", cfg.ControlPlane).Str("control_plane_http", cfg.ControlPlaneHTTP).Bool("tls", !cfg.Plaintext).
		Str("account", cfg.Account).
		Str("name", cfg.Name).Strs("tags", cfg.Tags).Int("concurrency", cfg.Concurrency).
		Str("proxy_source", px.Source)
	if cfg.ControlPlane != "" {
		ev = ev.Str("proxy_control_plane", logging.URL(cpProxy))
	}
	if cfg.ControlPlaneHTTP != "" {
		ev = ev.Str("proxy_control_plane_http", logging.URL(httpProxy))
	}
	ev = ev.
		Dict("proxy_bitbucket", bitbucketProxies(px, cfg.Access)).
		Dur("keepalive", cfg.Keepalive).Str("poll_hold", pollHold(cfg.PollHold)).
		Str("request_budget", fmt.Sprintf("%d/%s", budget.Requests, budget.Window)).
		Bool("request_budget_override", cfg.Budget.IsSet()).
		Str("metrics", cfg.MetricsListen).Dur("shutdown_grace", cfg.ShutdownGrace).
		Stringers("allowed_api_hosts", hostStringers(cfg.Access.Hosts)).Strs("allowed_token_refs", cfg.Access.TokenRefs)
	if err := cmp.Or(cpProxyErr, httpProxyErr); err != nil {
		ev = ev.AnErr("proxy_error", err)
	}
	ev.Msg("delegate starting")
	if cfg.Plaintext {
		log.Warn().Msg("INSECURE: --tls=false is set; the control-plane connection is plaintext and the delegate token travels unencrypted. For local development only.")
	}

	m := metrics.New()
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		log.Info().Str("address", ln.Addr().String()).Msg("serving Prometheus metrics on /metrics")
		go m.Serve(ctx, ln, log)
	}

	ua := "idp-delegate/" + info.Version
	cp, err := controlplane.Dial(controlplane.DialConfig{
		Mode: cfg.Transport, Address: cfg.ControlPlane, HTTPURL: cfg.ControlPlaneHTTP,
		Account: cfg.Account, Token: cfg.Token, Plaintext: cfg.Plaintext,
		CAFile: cfg.CAFile, Dial: px.DialContext, UserAgent: ua, Keepalive: cfg.Keepalive,
		Via: logging.URL(cpProxy), Log: log,
	})
	if err != nil {
		return fmt.Errorf("control plane client: %w", err)
	}
	defer cp.Close()

	seed := uint64(time.Now().UnixNano())
	bb := bitbucket.New(bitbucket.Options{
		Proxy:     px.ForRequest,
		Budgets:   bitbucket.NewBudgets(clock.Real{}, budget, cfg.Budget.IsSet()),
		Retry:     bitbucket.NewRetryPolicy(log, seed),
		UserAgent: ua,
		Log:       log,
		Metrics:   m,
	})
	exec := &agent.Executor{
		Bitbucket: bb, Proxy: px, Secrets: secrets, Access: cfg.Access,
		Getenv: os.LookupEnv, ReadFile: os.ReadFile,
	}
	hostname, _ := os.Hostname()
	a := agent.New(cp, exec.NewWork, agent.Config{
		Registration: task.Registration{
			Name: cfg.Name, Tags: cfg.Tags, Version: info.Version, Hostname: hostname, Concurrency: cfg.Concurrency,
		},
		ShutdownGrace: cfg.ShutdownGrace,
		PollHold:      cfg.PollHold,
		Keepalive:     keepalive(cfg),
		Seed:          seed,
		Log:           log,
		Metrics:       m,
		Secrets:       secrets,
	})
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("delegate stopped")
		return err
	}
	return nil
}

// bitbucketProxies says which proxy serves each Bitbucket API host tasks
// may call, after NO_PROXY, over https and (for hosts the operator listed)
// http.
func bitbucketProxies(px *proxy.Config, policy access.Policy) *zerolog.Event {
	d := zerolog.Dict()
	schemes := []string{"https"}
	if policy.PlainHTTP {
		schemes = append(schemes, "http")
	}
	for _, h := range policy.Hosts {
		host := h.Name
		if h.Port != "" && h.Port != "*" {
			host = net.JoinHostPort(h.Name, h.Port)
		}
		for _, scheme := range schemes {
			u := &url.URL{Scheme: scheme, Host: host}
			via, err := px.ForURL(u)
			if err != nil {
				d = d.Str(u.String(), "error: "+err.Error())
				continue
			}
			d = d.Str(u.String(), logging.URL(via))
		}
	}
	return d
}

// transportPlan says in words where calls go, for the start-up log.
func transportPlan(cfg config.Config) string {
	grpcTo := "gRPC (HTTP/2) to " + cfg.ControlPlane
	httpTo := "HTTP/1.1 (Connect) to " + cfg.ControlPlaneHTTP + controlplane.DelegatePath + "/"
	switch {
	case cfg.Transport == controlplane.ModeHTTP1:
		return httpTo
	case cfg.Transport == controlplane.ModeGRPC:
		return grpcTo
	case cfg.ControlPlaneHTTP == "":
		return grpcTo + "; no fallback to HTTP/1.1 without --control-plane-http"
	}
	return grpcTo + ", falling back for good to " + httpTo + " if HTTP/2 cannot pass"
}

// keepalive is the ping interval the agent checks against the control
// plane's limit at registration: none over HTTP/1.1, which has no pings.
func keepalive(cfg config.Config) time.Duration {
	if cfg.Transport == controlplane.ModeHTTP1 {
		return 0
	}
	return cfg.Keepalive
}

// hostPort is the host:port a URL connects to.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// pollHold describes --poll-hold for the start-up log.
func pollHold(d time.Duration) string {
	if d == 0 {
		return "the control plane's"
	}
	return d.String()
}

func hostStringers(hosts []access.Host) []fmt.Stringer {
	out := make([]fmt.Stringer, len(hosts))
	for i, h := range hosts {
		out[i] = h
	}
	return out
}
