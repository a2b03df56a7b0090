package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/catalog-discovery/bitbucket/controlplane/console"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/hooksvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/httpapi"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/metrics"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/rpc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/schedule"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/buildinfo"
	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// DefaultDB is the embedded database used when --db is not given.
const DefaultDB = "sqlite://./idp.db"

type serveOptions struct {
	db, listen       string
	metricsListen    string
	httpListen       string
	sessionIdle      time.Duration
	sessionMax       time.Duration
	tlsCert, tlsKey  string
	logLevel         string
	logFormat        string
	grace            time.Duration
	lease            dispatch.Config
	scheduleInterval time.Duration
	keepaliveMinTime time.Duration
}

func serveCommand() *cobra.Command {
	o := serveOptions{lease: dispatch.DefaultConfig}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the delegate and management APIs and the web console",
		Long: `Serve the delegate and management gRPC APIs on --listen, with the
grpc.health.v1 health service and server reflection, and on --http-listen
the web console at / and the management API over HTTP/1.1 under /api/
(Connect JSON or binary, gRPC-Web and gRPC), and the DelegateService under
/delegate/ the same way, for delegates started with --transport http1 or
auto and --control-plane-http set to this address (their path to the
control plane may not pass HTTP/2). Both listeners use TLS when --tls-cert
is set, with the same certificate. Pending database migrations
are applied at start. SIGTERM or SIGINT stops accepting calls, ends
waiting AcquireTask polls and lets running calls finish for up to
--grace-period.

Every flag can also be set with the environment variable named in its help.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), o, cmd.ErrOrStderr()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.db, "db", DefaultDB, "database: sqlite://PATH (embedded, created if missing) or postgres://USER@HOST:PORT/DB?sslmode=...")
	f.StringVar(&o.listen, "listen", ":7443", "address to serve gRPC on, host:port")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "address to serve Prometheus metrics on (plain HTTP, GET /metrics), e.g. 127.0.0.1:9464; off when empty. The metrics hold no secrets or identifiers, but keep the address off public networks")
	f.StringVar(&o.httpListen, "http-listen", "127.0.0.1:7480", "address of the web console and the HTTP API, host:port; empty serves neither")
	f.DurationVar(&o.sessionIdle, "console-session-idle", httpapi.DefaultSessionIdle, "a console session unused this long ends (at least 1m)")
	f.DurationVar(&o.sessionMax, "console-session-max", httpapi.DefaultSessionMax, "a console session ends this long after sign-in, however active (at least --console-session-idle)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate chain for TLS; with --tls-key, serve TLS instead of plaintext")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: trace, debug (one line per RPC), info, warn, error")
	f.StringVar(&o.logFormat, "log-format", logging.FormatAuto, "log format: json, console, or auto (console on a terminal, else json)")
	f.DurationVar(&o.grace, "grace-period", 20*time.Second, "on SIGTERM, how long running calls may take to finish before they are cut")
	f.DurationVar(&o.lease.LeaseDuration, "lease-duration", o.lease.LeaseDuration, "how long a task lease lasts unless renewed; an expired lease hands the task to another delegate")
	f.DurationVar(&o.lease.RenewInterval, "renew-interval", o.lease.RenewInterval, "how often delegates are told to renew their leases: 15s to 30s, at most a third of --lease-duration")
	f.DurationVar(&o.lease.PollHold, "poll-hold", o.lease.PollHold, "how long AcquireTask waits for work before answering with no task: 1s to 5m; delegates may ask for less (their --poll-hold)")
	f.DurationVar(&o.keepaliveMinTime, "keepalive-min-time", rpc.DefaultKeepaliveMinTime, "shortest interval between keepalive pings a client may send (10s to 5m); a client pinging more often is disconnected. Delegates pinging more often (their --keepalive) refuse to start, so lower this first")
	f.IntVar(&o.lease.MaxAttempts, "max-attempts", o.lease.MaxAttempts, "leases a task gets before it fails because delegates keep losing it (at least 1)")
	f.DurationVar(&o.scheduleInterval, "schedule-interval", 15*time.Second, "how often due integrations are looked for")
	f.StringVar(&o.lease.PublicURL, "public-url", "", "the address of --http-listen as Bitbucket reaches it (e.g. https://idp.example.com, behind your load balancer); when set, delegates register a workspace webhook delivering to PUBLIC-URL/hooks/bitbucket/INTEGRATION-ID, so changes reach the catalog in seconds. Empty: no webhooks, changes arrive with the scheduled syncs")
	bindEnv(cmd, map[string]string{
		"db": "IDP_DB", "listen": "IDP_LISTEN", "metrics-listen": "IDP_METRICS_LISTEN", "tls-cert": "IDP_TLS_CERT", "tls-key": "IDP_TLS_KEY",
		"log-level": "IDP_LOG_LEVEL", "log-format": "IDP_LOG_FORMAT", "grace-period": "IDP_GRACE_PERIOD",
		"lease-duration": "IDP_LEASE_DURATION", "renew-interval": "IDP_RENEW_INTERVAL", "poll-hold": "IDP_POLL_HOLD",
		"max-attempts": "IDP_MAX_ATTEMPTS", "schedule-interval": "IDP_SCHEDULE_INTERVAL",
		"keepalive-min-time": "IDP_KEEPALIVE_MIN_TIME", "public-url": "IDP_PUBLIC_URL",
		"http-listen": "IDP_HTTP_LISTEN", "console-session-idle": "IDP_CONSOLE_SESSION_IDLE", "console-session-max": "IDP_CONSOLE_SESSION_MAX",
	})
	return cmd
}

// Bounds of the serve flags. Renewal and poll hold reach delegates in whole
// seconds; the poll hold stays under the idle timeout of common proxies
// and load balancers, which would otherwise cut waiting polls.
const (
	minRenewInterval = 15 * time.Second
	maxRenewInterval = 30 * time.Second
	minLeaseDuration = 10 * time.Second
	maxPollHold      = 5 * time.Minute
	minSchedule      = time.Second
	// grpc-go clients never ping more often than every 10 s.
	minKeepaliveMinTime = 10 * time.Second
	maxKeepaliveMinTime = 5 * time.Minute
	minSessionIdle      = time.Minute
)

func (o serveOptions) validate() error {
	l := o.lease
	if o.metricsListen != "" {
		if _, _, err := net.SplitHostPort(o.metricsListen); err != nil {
			return cli.Usagef("--metrics-listen %q: want HOST:PORT or :PORT: %v", o.metricsListen, err)
		}
	}
	if o.lease.PublicURL != "" {
		if err := webhook.CheckPublicURL(o.lease.PublicURL); err != nil {
			return cli.Usagef("--public-url %q: %v", o.lease.PublicURL, err)
		}
		if o.httpListen == "" {
			return cli.Usagef("--public-url needs --http-listen: webhook deliveries arrive on the HTTP address")
		}
	}
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return cli.Usagef("--tls-cert and --tls-key go together")
	case l.LeaseDuration < minLeaseDuration:
		return cli.Usagef("--lease-duration %v: at least %v", l.LeaseDuration, minLeaseDuration)
	case l.RenewInterval < minRenewInterval || l.RenewInterval > maxRenewInterval || l.RenewInterval%time.Second != 0:
		return cli.Usagef("--renew-interval %v: whole seconds from %v to %v; more often loads the database with renewals, less often risks losing leases", l.RenewInterval, minRenewInterval, maxRenewInterval)
	case l.RenewInterval*3 > l.LeaseDuration:
		return cli.Usagef("--renew-interval %v: at most a third of --lease-duration (%v), so a lease survives two lost renewals; raise --lease-duration", l.RenewInterval, l.LeaseDuration)
	case l.PollHold < time.Second || l.PollHold > maxPollHold || l.PollHold%time.Second != 0:
		return cli.Usagef("--poll-hold %v: whole seconds from 1s to %v; proxies and load balancers often cut connections idle longer", l.PollHold, maxPollHold)
	case l.MaxAttempts < 1:
		return cli.Usagef("--max-attempts %d: at least 1", l.MaxAttempts)
	case o.grace < 0:
		return cli.Usagef("--grace-period %v: must not be negative", o.grace)
	case o.scheduleInterval < minSchedule:
		return cli.Usagef("--schedule-interval %v: at least %v", o.scheduleInterval, minSchedule)
	case o.keepaliveMinTime < minKeepaliveMinTime || o.keepaliveMinTime > maxKeepaliveMinTime || o.keepaliveMinTime%time.Second != 0:
		return cli.Usagef("--keepalive-min-time %v: whole seconds from %v to %v", o.keepaliveMinTime, minKeepaliveMinTime, maxKeepaliveMinTime)
	case o.sessionIdle < minSessionIdle:
		return cli.Usagef("--console-session-idle %v: at least %v; activity is recorded to the minute", o.sessionIdle, minSessionIdle)
	case o.sessionMax < o.sessionIdle:
		return cli.Usagef("--console-session-max %v: at least --console-session-idle (%v)", o.sessionMax, o.sessionIdle)
	}
	return nil
}

// exitBeforeFollowUpEnv, set to 1, makes the process exit (status
// exitBeforeFollowUpCode) right after the first sync run's end is stored
// and before its follow-up runs: the one crash window the follow-up table
// exists for, made deterministic for the crash tests. It is for tests
// only; nothing else reads it.
const (
	exitBeforeFollowUpEnv  = "IDP_TEST_EXIT_BEFORE_FOLLOW_UP"
	exitBeforeFollowUpCode = 75
)

// clockOffsetFileEnv names a file holding a duration (e.g. 3h) that the
// process adds to the wall clock, read at every look at the time, so an
// end-to-end test moves schedules and sweep windows forward without
// waiting. Waits are unchanged. It is for tests only; nothing else reads
// it.
const clockOffsetFileEnv = "IDP_TEST_CLOCK_OFFSET_FILE"

// serverClock is the wall clock, shifted when clockOffsetFileEnv is set.
func serverClock(log zerolog.Logger) clock.Clock {
	path := os.Getenv(clockOffsetFileEnv)
	if path == "" {
		return clock.Real{}
	}
	log.Warn().Str("env", clockOffsetFileEnv).Str("file", path).Msg("test clock: the time is the wall clock plus the duration in the file")
	return clock.Shifted{Base: clock.Real{}, Offset: func() time.Duration {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return 0
		}
		return d
	}}
}

func serve(ctx context.Context, o serveOptions, stderr io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	secrets := &logging.Secrets{}
	log, err := logging.New(stderr, logging.Config{Level: o.logLevel, Format: o.logFormat}, secrets)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	var opts []grpc.ServerOption
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return cli.Usagef("TLS certificate: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	log.Info().Str("version", buildinfo.Get().String()).Msg("control plane starting")
	db, err := store.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer db.Close()
	logDatabase(log, db)
	lis, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	var httpLis net.Listener
	if o.httpListen != "" {
		if httpLis, err = net.Listen("tcp", o.httpListen); err != nil {
			lis.Close()
			return fmt.Errorf("listen on %s (--http-listen; empty turns the console off): %w", o.httpListen, err)
		}
	}

	clk := serverClock(log)
	// Discovery subscribes to finished sync runs (dispatch.SyncObserver) and
	// recomputes stale recommendations after catalog changes.
	disc := discoverysvc.New(db, clk, log)
	entities := catalogsvc.New(db, clk)
	entities.Changed = disc.Notify
	leases := dispatch.New(db, o.lease, clk, log, disc)
	var meter *metrics.Metrics
	var metricsLis net.Listener
	if o.metricsListen != "" {
		meter = metrics.New()
		meter.Observe(db, clk, o.lease.ConnectedWindow())
		leases.Measure(meter)
		if metricsLis, err = net.Listen("tcp", o.metricsListen); err != nil {
			lis.Close()
			if httpLis != nil {
				httpLis.Close()
			}
			return fmt.Errorf("metrics listener on %s: %w", o.metricsListen, err)
		}
	}
	if os.Getenv(exitBeforeFollowUpEnv) == "1" {
		log.Warn().Str("env", exitBeforeFollowUpEnv).Msg("crash test mode: the process exits after the first sync run ends, before its follow-up")
		leases.BeforeFollowUp = func(run tasks.SyncRun) {
			log.Warn().Str("run", run.ID).Msg("crash test mode: exiting before the run's follow-up")
			os.Exit(exitBeforeFollowUpCode)
		}
	}
	sched := schedule.New(db, clk, log, leases.Queued)
	sched.Interval = o.scheduleInterval
	authn := &auth.Authenticator{Store: db, Seen: func(token string) { secrets.Add(token) }}
	mgr := integrationsvc.New(db, leases, clk, log)
	hooks := hooksvc.New(db, leases, clk, log)
	hooks.Discovery = disc
	if meter != nil {
		hooks.Measure(meter)
	}
	g, srv := rpc.NewServer(rpc.Deps{Store: db, Auth: authn, Tasks: leases, Manage: mgr, Log: log,
		Discovery: rpc.NewDiscoveryServer(disc, mgr), Previewer: disc, Catalog: rpc.NewCatalogServer(entities), KeepaliveMinTime: o.keepaliveMinTime, Metrics: meter}, opts...)

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go leases.RunSweeper(bg)
	// Replicas on one PostgreSQL wake each other's polls at once.
	go func() {
		if err := leases.Listen(bg, db, backoff.New(uint64(time.Now().UnixNano()))); err != nil {
			log.Error().Err(err).Msg("not listening for the other replicas' tasks; polls find them at the re-check")
		}
	}()
	go leases.RunFollowUps(bg)
	go sched.Run(bg)
	go disc.Run(bg, 30*time.Second)
	go hooks.Run(bg)
	go watchDatabase(bg, clk, db, srv.Health, log)
	if metricsLis != nil {
		go meter.Serve(bg, metricsLis, log)
		log.Info().Str("addr", metricsLis.Addr().String()).Msg("serving Prometheus metrics on /metrics")
	}

	served := make(chan error, 2)
	go func() { served <- g.Serve(lis) }()
	log.Info().Str("addr", lis.Addr().String()).Str("db", db.Dialect()).Bool("tls", o.tlsCert != "").
		Stringer("lease", o.lease.LeaseDuration).Stringer("poll_hold", o.lease.PollHold).
		Stringer("keepalive_min_time", o.keepaliveMinTime).Str("public_url", o.lease.PublicURL).Msg("control plane listening")
	var web *http.Server
	if httpLis != nil {
		web, err = startConsole(httpLis, tlsConfig, httpapi.Config{GRPC: g, Services: rpc.ManagementServices, Auth: authn,
			Sessions: db, Console: console.Assets(), SessionIdle: o.sessionIdle, SessionMax: o.sessionMax, Clock: clk, Log: log,
			Hooks: hooks}, served)
		if err != nil {
			return err
		}
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Stringer("grace_period", o.grace).Msg("stopping: no new calls; waiting for running calls")
	srv.Health.Shutdown()
	leases.Stop()
	// The HTTP shutdown ends when the grace period does.
	shutdownCtx, cancelShutdown := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelShutdown()
	stopped := make(chan struct{})
	grace, release := clock.After(clk, o.grace)
	defer release()
	go func() {
		// HTTP first: its calls run inside the gRPC server, which waits for them.
		if web != nil {
			_ = web.Shutdown(shutdownCtx)
		}
		g.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-grace:
		cancelShutdown()
		log.Warn().Msg("grace period over; cutting the remaining calls")
		if web != nil {
			web.Close()
		}
		g.Stop()
	}
	stopBackground()
	log.Info().Msg("control plane stopped")
	return nil
}

// startConsole serves the web console and the HTTP API on lis, with TLS
// when tlsConfig is set, and logs its URL. A failure of the server later
// is sent to served; a shutdown is not a failure.
func startConsole(lis net.Listener, tlsConfig *tls.Config, c httpapi.Config, served chan<- error) (*http.Server, error) {
	c.TLS = tlsConfig != nil
	handler, err := httpapi.New(c)
	if err != nil {
		return nil, err
	}
	web := &http.Server{Handler: handler, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, ErrorLog: stdlog.New(c.Log, "", 0)}
	go func() {
		var err error
		if c.TLS {
			err = web.ServeTLS(lis, "", "")
		} else {
			err = web.Serve(lis)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			served <- fmt.Errorf("console: %w", err)
		}
	}()
	scheme := "http"
	if c.TLS {
		scheme = "https"
	}
	url := scheme + "://" + lis.Addr().String() + "/"
	// control_plane_http is what delegates take as --control-plane-http
	// (with the host name they reach this address by).
	c.Log.Info().Str("url", url).Str("http_addr", lis.Addr().String()).Str("control_plane_http", strings.TrimSuffix(url, "/")).
		Msg("console: " + url)
	return web, nil
}

// logDatabase says which database is served, and warns when it was just
// created: with an existing installation that means --db has a typo.
func logDatabase(log zerolog.Logger, db *store.DB) {
	log.Info().Str("db", db.Dialect()).Str("location", db.Location()).Msg("database opened")
	if db.Created() {
		log.Warn().Str("path", db.Location()).Msgf("created a new, empty database at %s (check --db if you expected existing data)", db.Location())
	}
}

// watchDatabase reports NOT_SERVING on the health service while the
// database does not answer, so load balancers and probes see an outage
// the process itself cannot fix.
func watchDatabase(ctx context.Context, clk clock.Clock, db *store.DB, h *health.Server, log zerolog.Logger) {
	t := clk.NewTicker(10 * time.Second)
	defer t.Stop()
	healthy := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := db.Ping(pingCtx)
		cancel()
		switch {
		case err != nil && healthy && ctx.Err() == nil:
			log.Error().Err(err).Msg("database unreachable; health is NOT_SERVING")
			h.SetServingStatus("", healthgrpc.HealthCheckResponse_NOT_SERVING)
		case err == nil && !healthy:
			log.Info().Msg("database reachable again; health is SERVING")
			h.SetServingStatus("", healthgrpc.HealthCheckResponse_SERVING)
		}
		healthy = err == nil
	}
}
