package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestParseBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Budget
		wantErr bool
	}{
		{"1000/h", Budget{1000, time.Hour}, false},
		{"2500/1h", Budget{2500, time.Hour}, false},
		{"60/10s", Budget{60, 10 * time.Second}, false},
		{"50/m", Budget{50, time.Minute}, false},
		{"1000", Budget{}, true},
		{"0/h", Budget{}, true},
		{"-5/h", Budget{}, true},
		{"10/500ms", Budget{}, true},
		{"x/h", Budget{}, true},
		{"10/fortnight", Budget{}, true},
	}
	for _, tt := range tests {
		got, err := ParseBudget(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBudget(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestValidateReadsTokenFileAndKeepsSettings(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("  s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := Flags{
		ControlPlane: "cp.example.com:443", Account: "acct", TokenFile: file, Name: "dlg-1", TLS: true,
		Tags: []string{"prod", " eu-west ", ""}, Concurrency: 3, RequestBudget: "60/10s",
		MetricsListen: ":9464", ShutdownGrace: 20 * time.Second, LogLevel: "debug", LogFormat: "json",
		Keepalive: 15 * time.Second, PollHold: 12 * time.Second,
	}
	got, err := f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ControlPlane: "cp.example.com:443", Transport: controlplane.ModeAuto, Account: "acct", Token: "s3cret-token", Name: "dlg-1",
		Tags: []string{"prod", "eu-west"}, Concurrency: 3, Budget: Budget{60, 10 * time.Second},
		MetricsListen: ":9464", ShutdownGrace: 20 * time.Second, Keepalive: 15 * time.Second, PollHold: 12 * time.Second,
		Access: access.Policy{Hosts: access.DefaultHosts, TokenRefs: access.DefaultTokenRefs, Reserved: []string{file}},
	}
	want.Log.Level, want.Log.Format = "debug", "json"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestNameDefaultsToHostName(t *testing.T) {
	t.Parallel()
	f := Flags{ControlPlane: "cp:1", Account: "a", Token: "t", Concurrency: 1, ShutdownGrace: time.Second, Keepalive: DefaultKeepalive}
	got, err := f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := os.Hostname(); got.Name != h {
		t.Errorf("name %q, want the host name %q", got.Name, h)
	}
}

func TestAccessSettings(t *testing.T) {
	t.Parallel()
	base := Flags{ControlPlane: "cp:1", Account: "a", Token: "t", Name: "n", Concurrency: 1, ShutdownGrace: time.Second, Keepalive: DefaultKeepalive}
	f := base
	f.APIHosts = []string{"api.bitbucket.org", " 127.0.0.1:8990"}
	f.TokenRefs = []string{"env:BB_*", "file:/secrets/*"}
	got, err := f.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := access.Policy{
		Hosts:     []access.Host{{Name: "api.bitbucket.org"}, {Name: "127.0.0.1", Port: "8990"}},
		PlainHTTP: true, TokenRefs: []string{"env:BB_*", "file:/secrets/*"}, Reserved: []string{""},
	}
	if diff := cmp.Diff(want, got.Access); diff != "" {
		t.Errorf("access (-want +got):\n%s", diff)
	}
	for _, bad := range []struct {
		hosts, refs []string
		want        string
	}{
		{[]string{"https://api.bitbucket.org"}, nil, "--allowed-api-hosts (IDP_ALLOWED_API_HOSTS) want host[:port]"},
		{nil, []string{"BITBUCKET_*"}, "--allowed-token-refs (IDP_ALLOWED_TOKEN_REFS) pattern \"BITBUCKET_*\" must start with env: or file:"},
		{nil, []string{"file:secrets/*"}, "must name an absolute path"},
	} {
		f := base
		f.APIHosts, f.TokenRefs = bad.hosts, bad.refs
		if _, err := f.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v %v: got %v, want %q", bad.hosts, bad.refs, err, bad.want)
		}
	}
	// Refusals name the setting by the names this package binds.
	for flag, setting := range map[string]string{"allowed-api-hosts": access.HostsSetting, "allowed-token-refs": access.TokenRefsSetting} {
		if want := "--" + flag + " (" + Env[flag] + ")"; want != setting {
			t.Errorf("access names %s, the flag is %s", setting, want)
		}
	}
}

// TestTLSFlag: TLS unless --tls=false; the retired --insecure, which meant
// plaintext here and TLS without verification in idpctl, is refused from
// the flag and the environment alike, naming what to use instead.
func TestTLSFlag(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args      []string
		env       map[string]string
		plaintext bool
		err       string
	}{
		{nil, nil, false, ""},
		{[]string{"--tls"}, nil, false, ""},
		{[]string{"--tls=false"}, nil, true, ""},
		{nil, map[string]string{"IDP_TLS": "false"}, true, ""},
		{[]string{"--insecure"}, nil, false, "--insecure (IDP_INSECURE) no longer exists: for plaintext gRPC to a local development control plane use --tls=false (IDP_TLS=false)"},
		{nil, map[string]string{"IDP_INSECURE": "true"}, false, "--insecure (IDP_INSECURE) no longer exists"},
		{nil, map[string]string{"IDP_INSECURE": "false"}, false, ""},
		{[]string{"--tls=false", "--ca-file", "/etc/hostname"}, nil, false, "--ca-file (IDP_CA_FILE) has no effect with --tls=false (plaintext)"},
	}
	for _, tc := range cases {
		got, err := validate(t, tc.args, tc.env)
		if valid(t, tc.args, tc.env, err, tc.err) && got.Plaintext != tc.plaintext {
			t.Errorf("%v %v: plaintext %v, want %v", tc.args, tc.env, got.Plaintext, tc.plaintext)
		}
	}
	fs := pflag.NewFlagSet("delegate", pflag.ContinueOnError)
	(&Flags{}).Bind(fs)
	if !fs.Lookup("insecure").Hidden {
		t.Error("--insecure is still shown in the help")
	}
}

// TestKeepaliveAndPollHold: the defaults are 30 s of keepalive and the
// control plane's poll hold; out-of-range values are refused naming the
// flag, its variable and the range.
func TestKeepaliveAndPollHold(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args      []string
		env       map[string]string
		keepalive time.Duration
		pollHold  time.Duration
		err       string
	}{
		{nil, nil, 30 * time.Second, 0, ""},
		{[]string{"--keepalive", "10s", "--poll-hold", "12s"}, nil, 10 * time.Second, 12 * time.Second, ""},
		{nil, map[string]string{"IDP_KEEPALIVE": "5m", "IDP_POLL_HOLD": "5m"}, 5 * time.Minute, 5 * time.Minute, ""},
		{[]string{"--keepalive", "9s"}, nil, 0, 0, "--keepalive (IDP_KEEPALIVE) must be from 10s to 5m0s, got 9s"},
		{nil, map[string]string{"IDP_KEEPALIVE": "6m"}, 0, 0, "--keepalive (IDP_KEEPALIVE) must be from 10s to 5m0s"},
		{[]string{"--poll-hold", "1500ms"}, nil, 0, 0, "--poll-hold (IDP_POLL_HOLD) must be 0 (the control plane's) or whole seconds from 1s to 5m0s, got 1.5s"},
		{[]string{"--poll-hold", "-1s"}, nil, 0, 0, "--poll-hold (IDP_POLL_HOLD) must be 0"},
		{nil, map[string]string{"IDP_POLL_HOLD": "301s"}, 0, 0, "--poll-hold (IDP_POLL_HOLD) must be 0"},
	}
	for _, tc := range cases {
		got, err := validate(t, tc.args, tc.env)
		if valid(t, tc.args, tc.env, err, tc.err) && (got.Keepalive != tc.keepalive || got.PollHold != tc.pollHold) {
			t.Errorf("%v %v: keepalive %v, poll hold %v; want %v, %v", tc.args, tc.env, got.Keepalive, got.PollHold, tc.keepalive, tc.pollHold)
		}
	}
}

// TestTransportFlags: auto by default; http1 needs the HTTP face's URL and
// not the gRPC address; the URL's scheme follows --tls, since the token
// travels in every request.
func TestTransportFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args      []string
		env       map[string]string
		transport controlplane.Mode
		grpc      string
		http      string
		err       string
	}{
		{nil, nil, controlplane.ModeAuto, "cp:1", "", ""},
		{[]string{"--transport", "grpc"}, nil, controlplane.ModeGRPC, "cp:1", "", ""},
		{[]string{"--control-plane-http", "https://cp.example.com:7480/"}, nil, controlplane.ModeAuto, "cp:1", "https://cp.example.com:7480", ""},
		{nil, map[string]string{"IDP_TRANSPORT": "HTTP1", "IDP_CONTROL_PLANE_HTTP": "https://idp.example.com/base"}, controlplane.ModeHTTP1, "cp:1", "https://idp.example.com/base", ""},
		{[]string{"--transport", "http1", "--control-plane", "", "--control-plane-http", "https://cp:7480"}, nil, controlplane.ModeHTTP1, "", "https://cp:7480", ""},
		{[]string{"--transport", "grpc", "--control-plane", ""}, nil, "", "", "", "--control-plane (IDP_CONTROL_PLANE) is required"},
		{[]string{"--transport", "http1"}, nil, "", "", "", "--control-plane-http (IDP_CONTROL_PLANE_HTTP) is required with --transport http1"},
		{[]string{"--transport", "h2"}, nil, "", "", "", "--transport (IDP_TRANSPORT) want auto, grpc or http1, got \"h2\""},
		{[]string{"--control-plane-http", "cp.example.com:7480"}, nil, "", "", "", "--control-plane-http (IDP_CONTROL_PLANE_HTTP) want a URL such as https://idp.example.com:7480"},
		{[]string{"--control-plane-http", "http://cp:7480"}, nil, "", "", "", "--control-plane-http (IDP_CONTROL_PLANE_HTTP) must be https://"},
		{[]string{"--tls=false", "--control-plane-http", "http://cp:7480"}, nil, controlplane.ModeAuto, "cp:1", "http://cp:7480", ""},
		{[]string{"--tls=false", "--control-plane-http", "https://cp:7480"}, nil, "", "", "", "is https:// but --tls=false"},
		{[]string{"--control-plane-http", "https://u:p4ss@cp:7480"}, nil, "", "", "", "takes no credentials, query or fragment, got \"https://u:[REDACTED]@cp:7480\""},
		{[]string{"--control-plane-http", "https://cp:99999"}, nil, "", "", "", "port must be 1-65535"},
	}
	for _, tc := range cases {
		got, err := validate(t, tc.args, tc.env)
		if valid(t, tc.args, tc.env, err, tc.err) && (got.Transport != tc.transport || got.ControlPlane != tc.grpc || got.ControlPlaneHTTP != tc.http) {
			t.Errorf("%v %v: transport %q, gRPC %q, HTTP %q; want %q, %q, %q", tc.args, tc.env, got.Transport, got.ControlPlane, got.ControlPlaneHTTP,
				tc.transport, tc.grpc, tc.http)
		}
	}
}

// validate binds the flags, parses the required ones and args, applies
// env as the environment and validates.
func validate(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("delegate", pflag.ContinueOnError)
	var f Flags
	f.Bind(fs)
	if err := fs.Parse(append([]string{"--control-plane", "cp:1", "--account", "a", "--token", "t"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := cli.ApplyEnvFrom(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	return f.Validate()
}

// valid checks err against want (a part of the message, or "" for no
// error) and reports whether the settings were valid, so that the caller
// compares the Config.
func valid(t *testing.T, args []string, env map[string]string, err error, want string) bool {
	t.Helper()
	switch {
	case want != "":
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v %v: error %v, want %q", args, env, err, want)
		}
		return false
	case err != nil:
		t.Errorf("%v %v: %v", args, env, err)
		return false
	}
	return true
}
