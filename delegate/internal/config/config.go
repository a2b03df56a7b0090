// Package config turns the delegate's flags and environment variables into
// one validated Config. Every check names the setting it is about, so a
// platform engineer fixing a manifest knows which line to change.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/catalog-discovery/bitbucket/shared/logging"
	"github.com/catalog-discovery/bitbucket/shared/tag"
	"github.com/spf13/pflag"
)

// Config is the delegate's validated configuration.
type Config struct {
	ControlPlane string // host:port, gRPC; empty with --transport http1
	// ControlPlaneHTTP is the base URL of the control plane's HTTP face,
	// for the HTTP/1.1 transport; empty when not given.
	ControlPlaneHTTP string
	// Transport is --transport: grpc, http1 or auto.
	Transport     controlplane.Mode
	Account       string
	Token         string // the delegate token, never logged
	Name          string
	Tags          []string
	CAFile        string
	Plaintext     bool // --tls=false
	Concurrency   int
	Budget        Budget // zero means: learn from Bitbucket, default 1,000/h
	MetricsListen string
	ShutdownGrace time.Duration
	// Keepalive is how long the control-plane connection may be idle
	// before the delegate pings.
	Keepalive time.Duration
	// PollHold is the poll hold asked of the control plane; zero takes
	// the control plane's.
	PollHold time.Duration
	Log      logging.Config
	// Access is what tasks may make the delegate use.
	Access access.Policy
}

// Budget is a request budget override: Requests per Window.
type Budget struct {
	Requests int
	Window   time.Duration
}

// IsSet reports whether an override was given.
func (b Budget) IsSet() bool { return b.Requests > 0 }

func (b Budget) String() string {
	if !b.IsSet() {
		return "default"
	}
	return fmt.Sprintf("%d/%s", b.Requests, b.Window)
}

// Flags holds the raw flag values before validation.
type Flags struct {
	ControlPlane     string
	ControlPlaneHTTP string
	Transport        string
	Account          string
	Token            string
	TokenFile        string
	Name             string
	Tags             []string
	CAFile           string
	TLS              bool
	// Insecure is the retired --insecure, refused with what to use instead.
	Insecure      bool
	Concurrency   int
	RequestBudget string
	MetricsListen string
	ShutdownGrace time.Duration
	Keepalive     time.Duration
	PollHold      time.Duration
	LogLevel      string
	LogFormat     string
	APIHosts      []string
	TokenRefs     []string
}

// Env names the environment variable of each flag.
var Env = map[string]string{
	"control-plane":  "IDP_CONTROL_PLANE",
	"transport":      "IDP_TRANSPORT",
	"account":        "IDP_ACCOUNT",
	"token":          "IDP_DELEGATE_TOKEN",
	"token-file":     "IDP_DELEGATE_TOKEN_FILE",
	"name":           "IDP_DELEGATE_NAME",
	"tags":           "IDP_DELEGATE_TAGS",
	"ca-file":        "IDP_CA_FILE",
	"tls":            "IDP_TLS",
	"insecure":       "IDP_INSECURE",
	"concurrency":    "IDP_CONCURRENCY",
	"request-budget": "IDP_REQUEST_BUDGET",
	"metrics-listen": "IDP_METRICS_LISTEN",
	"shutdown-grace": "IDP_SHUTDOWN_GRACE",
	"keepalive":      "IDP_KEEPALIVE",
	"poll-hold":      "IDP_POLL_HOLD",
	"log-level":      "IDP_LOG_LEVEL",
	"log-format":     "IDP_LOG_FORMAT",

	"allowed-api-hosts":  "IDP_ALLOWED_API_HOSTS",
	"allowed-token-refs": "IDP_ALLOWED_TOKEN_REFS",
	"control-plane-http": "IDP_CONTROL_PLANE_HTTP",
}

// Bind defines the flags on fs and ties each to its environment variable.
func (f *Flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.ControlPlane, "control-plane", "", "control plane gRPC address, HOST:PORT (required unless --transport http1)")
	fs.StringVar(&f.ControlPlaneHTTP, "control-plane-http", "", "base URL of the control plane's HTTP face (its --http-listen, where the console is), e.g. https://idp.example.com:7480; the delegate calls it under /delegate/ over HTTP/1.1. Needed by --transport http1, and by auto to fall back")
	fs.StringVar(&f.Transport, "transport", string(controlplane.ModeAuto), "how to reach the control plane: grpc (HTTP/2 to --control-plane), http1 (the Connect protocol over HTTP/1.1 to --control-plane-http, which passes proxies that speak only HTTP/1.1, TLS-inspecting ones included), or auto (gRPC, falling back to http1 for good, and saying so once, when HTTP/2 cannot pass and --control-plane-http is set)")
	fs.StringVar(&f.Account, "account", "", "account id the delegate token belongs to (required)")
	fs.StringVar(&f.Token, "token", "", "delegate token (or use --token-file)")
	fs.StringVar(&f.TokenFile, "token-file", "", "file holding the delegate token, e.g. a mounted secret")
	fs.StringVar(&f.Name, "name", "", "delegate name, unique in the account (default: the host name)")
	fs.StringSliceVar(&f.Tags, "tags", nil, "comma-separated tags matched against connector delegate selectors")
	fs.StringVar(&f.CAFile, "ca-file", "", "PEM file of extra CAs trusted for the control plane's TLS certificate, besides the system's")
	fs.BoolVar(&f.TLS, "tls", true, "TLS to the control plane; --tls=false is plaintext (gRPC, and http:// for --control-plane-http), for local development only, never in production")
	fs.BoolVar(&f.Insecure, "insecure", false, "retired: --tls=false is plaintext")
	_ = fs.MarkHidden("insecure")
	fs.IntVar(&f.Concurrency, "concurrency", 2, "tasks run at once")
	fs.StringVar(&f.RequestBudget, "request-budget", "", "Bitbucket requests allowed per credential, N/h (e.g. 1000/h); also N/10s, N/m. Default: 1000/h, or what Bitbucket's X-RateLimit-Limit says")
	fs.StringVar(&f.MetricsListen, "metrics-listen", "", "address to serve Prometheus metrics on, e.g. :9464 (off when empty)")
	fs.DurationVar(&f.ShutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, time to finish or hand back running tasks before exiting")
	fs.DurationVar(&f.Keepalive, "keepalive", DefaultKeepalive, "ping the control plane after this long without traffic, to keep proxies and load balancers from closing an idle connection: 10s to 5m. The control plane permits pings down to its --keepalive-min-time (default 20s) and closes connections that ping more often; the delegate stops at registration if this is shorter. gRPC only: HTTP/1.1 (--transport http1) has no pings")
	fs.DurationVar(&f.PollHold, "poll-hold", 0, "longest time a poll for tasks waits open, 1s to 5m in whole seconds: set it below the idle timeout of a proxy that cuts idle connections. The control plane's --poll-hold (default 50s) is the maximum; 0 uses it")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.StringVar(&f.LogFormat, "log-format", logging.FormatAuto, "log format: auto, json, console")
	fs.StringSliceVar(&f.APIHosts, "allowed-api-hosts", nil, "Bitbucket API hosts tasks may call, comma-separated HOST[:PORT] (no port: the scheme's default). Hosts given here may also be called over plain http, e.g. a local mock at 127.0.0.1:8990 (default api.bitbucket.org, https only)")
	fs.StringSliceVar(&f.TokenRefs, "allowed-token-refs", access.DefaultTokenRefs, "token references tasks may resolve, comma-separated patterns of env:NAME or file:/path where * matches any characters. References to the delegate's own settings (env:IDP_*, proxy variables, --token-file) are always refused")
	cli.BindEnv(fs, Env)
}

// Bounds of --keepalive and --poll-hold. gRPC raises a shorter ping
// interval to 10 s; the control plane holds a poll at most 5 minutes.
const (
	DefaultKeepalive = 30 * time.Second
	MinKeepalive     = 10 * time.Second
	MaxKeepalive     = 5 * time.Minute
	MaxPollHold      = 5 * time.Minute
)

// Validate checks the flags and returns the Config, or a cli usage error
// naming the first bad setting.
func (f *Flags) Validate() (Config, error) {
	c := Config{
		Account:       strings.TrimSpace(f.Account),
		CAFile:        f.CAFile,
		Plaintext:     !f.TLS,
		Concurrency:   f.Concurrency,
		MetricsListen: f.MetricsListen,
		ShutdownGrace: f.ShutdownGrace,
		Keepalive:     f.Keepalive,
		PollHold:      f.PollHold,
		Log:           logging.Config{Level: f.LogLevel, Format: f.LogFormat},
	}
	var err error
	if c.Transport, err = controlplane.ParseMode(cmp.Or(f.Transport, string(controlplane.ModeAuto))); err != nil {
		return Config{}, usage("transport", "%v", err)
	}
	if c.ControlPlaneHTTP, err = controlPlaneHTTP(f.ControlPlaneHTTP, c.Plaintext); err != nil {
		return Config{}, err
	}
	switch {
	case c.Transport == controlplane.ModeHTTP1 && c.ControlPlaneHTTP == "":
		return Config{}, usage("control-plane-http", "is required with --transport http1 (the URL of the control plane's HTTP face, e.g. https://idp.example.com:7480)")
	case c.Transport == controlplane.ModeHTTP1 && f.ControlPlane == "":
		// Only the HTTP face is used.
	default:
		if c.ControlPlane, err = controlPlane(f.ControlPlane); err != nil {
			return Config{}, err
		}
	}
	if c.Account == "" {
		return Config{}, usage("account", "is required")
	}
	if c.Token, err = token(f.Token, f.TokenFile); err != nil {
		return Config{}, err
	}
	if c.Name, err = name(f.Name); err != nil {
		return Config{}, err
	}
	for _, t := range f.Tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !tag.Valid(t) {
			return Config{}, usage("tags", "tag %q: %s", t, tag.Rule)
		}
		c.Tags = append(c.Tags, t)
	}
	if f.Insecure {
		// It meant plaintext here and "TLS without verifying the
		// certificate" in idpctl; the delegate offers only the first, by
		// the name idpctl uses for it.
		return Config{}, usage("insecure", "no longer exists: for plaintext gRPC to a local development control plane use --tls=false (IDP_TLS=false); to trust a private CA use --ca-file")
	}
	if c.Plaintext && c.CAFile != "" {
		return Config{}, usage("ca-file", "has no effect with --tls=false (plaintext); drop one of them")
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			return Config{}, usage("ca-file", "%v", err)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		return Config{}, usage("concurrency", "must be between 1 and 64, got %d", c.Concurrency)
	}
	if f.RequestBudget != "" {
		if c.Budget, err = ParseBudget(f.RequestBudget); err != nil {
			return Config{}, usage("request-budget", "%v", err)
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return Config{}, usage("metrics-listen", "want HOST:PORT or :PORT: %v", err)
		}
	}
	if c.ShutdownGrace < time.Second {
		return Config{}, usage("shutdown-grace", "must be at least 1s, got %s", c.ShutdownGrace)
	}
	if c.Keepalive < MinKeepalive || c.Keepalive > MaxKeepalive {
		return Config{}, usage("keepalive", "must be from %s to %s, got %s (gRPC pings no more often than every %s)", MinKeepalive, MaxKeepalive, c.Keepalive, MinKeepalive)
	}
	if c.PollHold != 0 && (c.PollHold < time.Second || c.PollHold > MaxPollHold || c.PollHold%time.Second != 0) {
		return Config{}, usage("poll-hold", "must be 0 (the control plane's) or whole seconds from 1s to %s, got %s", MaxPollHold, c.PollHold)
	}
	if c.Access, err = accessPolicy(f); err != nil {
		return Config{}, err
	}
	if _, err := logging.New(io.Discard, c.Log, nil); err != nil {
		return Config{}, cli.Usagef("%v", err)
	}
	return c, nil
}

// accessPolicy builds what tasks may use. Hosts the operator lists are
// trusted over plain http too; the built-in default is https only.
func accessPolicy(f *Flags) (access.Policy, error) {
	p := access.Default()
	p.Reserved = []string{f.TokenFile}
	var hosts []access.Host
	for _, v := range f.APIHosts {
		if strings.TrimSpace(v) == "" {
			continue
		}
		h, err := access.ParseHost(v)
		if err != nil {
			return access.Policy{}, usage("allowed-api-hosts", "%v", err)
		}
		hosts = append(hosts, h)
	}
	if len(hosts) > 0 {
		p.Hosts, p.PlainHTTP = hosts, true
	}
	var refs []string
	for _, v := range f.TokenRefs {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if err := access.CheckTokenRefPattern(v); err != nil {
			return access.Policy{}, usage("allowed-token-refs", "%v", err)
		}
		refs = append(refs, v)
	}
	if len(refs) > 0 {
		p.TokenRefs = refs
	}
	return p, nil
}

func usage(flag, format string, args ...any) error {
	return cli.Usagef("--%s (%s) %s", flag, Env[flag], fmt.Sprintf(format, args...))
}

// controlPlaneHTTP checks --control-plane-http: an http(s) URL, https
// unless the control-plane connection is plaintext (--tls=false), since
// the delegate token travels in every request; a path is kept, for a
// reverse proxy serving the control plane under one.
func controlPlaneHTTP(v string, plaintext bool) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", usage("control-plane-http", "want a URL such as https://idp.example.com:7480, got %q: %v", v, err)
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
		return "", usage("control-plane-http", "want a URL such as https://idp.example.com:7480, got %q", v)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", usage("control-plane-http", "takes no credentials, query or fragment, got %q", logging.URL(u))
	case u.Hostname() == "":
		return "", usage("control-plane-http", "needs a host name, got %q", v)
	case u.Scheme == "http" && !plaintext:
		return "", usage("control-plane-http", "must be https:// (the delegate token travels in every request); http:// is for a local development control plane with --tls=false")
	case u.Scheme == "https" && plaintext:
		return "", usage("control-plane-http", "is https:// but --tls=false makes the control-plane connection plaintext; use http:// or drop --tls=false")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", usage("control-plane-http", "port must be 1-65535, got %q", p)
		}
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func controlPlane(v string) (string, error) {
	if v == "" {
		return "", usage("control-plane", "is required (HOST:PORT)")
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", usage("control-plane", "want HOST:PORT, got %q", v)
	}
	if host == "" {
		return "", usage("control-plane", "needs a host name, got %q", v)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", usage("control-plane", "port must be 1-65535, got %q", port)
	}
	return v, nil
}

func token(value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", usage("token", "and --token-file are both set; give only one")
	case value != "":
		return strings.TrimSpace(value), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usage("token-file", "cannot be read: %v", errors.Unwrap(err))
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", usage("token-file", "%s is empty", file)
		}
		return t, nil
	default:
		return "", usage("token", "is required (or --token-file)")
	}
}

func name(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return "", usage("name", "is required: the host name is unknown")
		}
		v = h
	}
	if len(v) > 128 {
		return "", usage("name", "must be at most 128 characters")
	}
	return v, nil
}

// ParseBudget parses N/h (the documented form) and also N/m, N/10s or any
// N/<Go duration>, so tests can match a mock's short window.
func ParseBudget(v string) (Budget, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return Budget{}, fmt.Errorf("want N/h, e.g. 1000/h, got %q", v)
	}
	requests, err := strconv.Atoi(n)
	if err != nil || requests < 1 {
		return Budget{}, fmt.Errorf("request count must be a positive integer, got %q", n)
	}
	if per != "" && (per[0] < '0' || per[0] > '9') {
		per = "1" + per
	}
	window, err := time.ParseDuration(per)
	if err != nil || window < time.Second {
		return Budget{}, fmt.Errorf("window must be h, m or a duration of at least 1s, got %q", v)
	}
	return Budget{Requests: requests, Window: window}, nil
}
