package idpctl

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	t.Parallel()
	a := newApp(nil, nil, func(string) string { return "" })
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.Parent() != nil && c.Parent().Name() == "completion" {
			return // cobra's own
		}
		if c.Short == "" {
			t.Errorf("%s has no short help", c.CommandPath())
		}
		if c.HasSubCommands() {
			for _, sub := range c.Commands() {
				walk(sub)
			}
			return
		}
		if c.Example == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
		// Help runs offline, exits 0 and shows the examples.
		var out bytes.Buffer
		args := append(strings.Fields(strings.TrimPrefix(c.CommandPath(), "idpctl ")), "--help")
		code := Run(context.Background(), args, &out, &out, func(string) string { return "" })
		if code != 0 || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("idpctl %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
	}
	walk(a.rootCommand())
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := map[string][]string{
		"Error: unknown command \"conector\" for \"idpctl\"; did you mean connector?\nRun 'idpctl --help' for usage.\n":                                     {"conector"},
		"Error: unknown command \"remove\" for \"idpctl integration\"\nRun 'idpctl integration --help' for usage.\n":                                        {"integration", "remove"},
		"Error: expected INTEGRATION, got no arguments\nRun 'idpctl sync --help' for usage.\n":                                                              {"sync"},
		"Error: expected INTEGRATION NAME, got 3 arguments (acme a b)\nRun 'idpctl unlink --help' for usage.\n":                                             {"unlink", "acme", "a", "b"},
		"Error: invalid argument \"xml\" for \"-o, --output\" flag: want table, json or yaml\nRun 'idpctl connector list --help' for usage.\n":              {"connector", "list", "-o", "xml"},
		"Error: invalid argument \"soon\" for \"--request-timeout\" flag: must be a duration like \"30s\" or \"5m\"\nRun 'idpctl runs --help' for usage.\n": {"runs", "acme", "--request-timeout", "soon"},
		"Error: --server \"http://a b\" is not an address; want HOST:PORT, e.g. 127.0.0.1:7443\nRun 'idpctl integration list --help' for usage.\n":          {"integration", "list", "--server", "http://a b"},
		"Error: --tls=false contradicts --ca-file and --insecure, which need TLS\nRun 'idpctl integration list --help' for usage.\n":                        {"integration", "list", "--tls=false", "--insecure"},
		"Error: invalid --frequency: \"2h\" is not an update frequency; want 30m, 1h, 3h, 6h, 12h or 1d\nRun 'idpctl integration edit --help' for usage.\n": {"integration", "edit", "acme", "--frequency", "2h"},
	}
	for want, args := range cases {
		if r := h.mustRun(2, args...); r.stderr != want {
			t.Errorf("%v: stderr = %q\nwant %q", args, r.stderr, want)
		}
	}
	if len(h.fake.allCalls()) != 0 {
		t.Errorf("usage errors reached the server: %v", h.fake.allCalls())
	}
}

func TestGroupAloneShowsHelp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.mustRun(0, "connector")
	if !strings.Contains(r.stdout, "Available Commands:") || !strings.Contains(r.stdout, "test-result") {
		t.Errorf("stdout = %s", r.stdout)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustRun(0, "connector", "list")
	h.mustRun(0, "connector", "list", "--api-key", "from-flag")
	calls := h.fake.allCalls()
	if calls[0].auth != "Bearer test-key" || calls[1].auth != "Bearer from-flag" {
		t.Errorf("authorization: env gave %q, flag gave %q", calls[0].auth, calls[1].auth)
	}
	h.env["IDP_TLS"] = "maybe"
	r := h.mustRun(2, "connector", "list")
	if !strings.HasPrefix(r.stderr, `Error: IDP_TLS (for --tls): invalid argument "maybe" for "--tls" flag: must be true or false`) {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestEndpointDecidesTLS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		server      string
		tls, tlsSet bool
		caFile      string
		insecure    bool
		target      string
		wantTLS     bool
	}{
		{server: "127.0.0.1:7443", target: "127.0.0.1:7443"},
		{server: "localhost:9000", target: "localhost:9000"},
		{server: "[::1]:7443", target: "[::1]:7443"},
		{server: "cp.example.com:443", target: "cp.example.com:443", wantTLS: true},
		{server: "cp.example.com", target: "cp.example.com:7443", wantTLS: true},
		{server: "http://10.0.0.5:7443", target: "10.0.0.5:7443"},
		{server: "https://localhost:7443/", target: "localhost:7443", wantTLS: true},
		{server: "cp.example.com:7443", tlsSet: true, tls: false, target: "cp.example.com:7443"},
		{server: "127.0.0.1:7443", tlsSet: true, tls: true, target: "127.0.0.1:7443", wantTLS: true},
		{server: "127.0.0.1:7443", caFile: "/ca.pem", target: "127.0.0.1:7443", wantTLS: true},
		{server: "127.0.0.1:7443", insecure: true, target: "127.0.0.1:7443", wantTLS: true},
	}
	for _, tc := range cases {
		a := &app{server: tc.server, tls: tc.tls, tlsSet: tc.tlsSet, caFile: tc.caFile, insecure: tc.insecure}
		target, useTLS, err := a.endpoint()
		if err != nil || target != tc.target || useTLS != tc.wantTLS {
			t.Errorf("%+v: endpoint() = %q, %v, %v; want %q, %v", tc, target, useTLS, err, tc.target, tc.wantTLS)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.mustRun(0, "version"); !strings.HasPrefix(r.stdout, "idpctl ") {
		t.Errorf("stdout = %q", r.stdout)
	}
	if r := h.mustRun(0, "version", "-o", "json"); !strings.Contains(r.stdout, `"go_version": "go`) {
		t.Errorf("stdout = %q", r.stdout)
	}
}

// The root help promises total only where the server counts it: entity,
// discovered, imported, connector, integration and runs lists carry it;
// the event log, which grows without bound, does not.
func TestListTotalMatchesTheHelp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if r := h.mustRun(0, "--help"); !strings.Contains(r.stdout, `"total": N where the server`) {
		t.Errorf("root help does not qualify total:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"events", "acme"}} {
		r := h.mustRun(0, append(args, "-o", "json")...)
		if strings.Contains(r.stdout, `"total"`) || !strings.Contains(r.stdout, `"next_page_token"`) {
			t.Errorf("%v -o json: %s", args, r.stdout)
		}
	}
	for _, args := range [][]string{{"entity", "list"}, {"connector", "list"}, {"integration", "list"}, {"runs", "acme"}} {
		if r := h.mustRun(0, append(args, "-o", "json")...); !strings.Contains(r.stdout, `"total"`) {
			t.Errorf("%v -o json has no total: %s", args, r.stdout)
		}
	}
}
