package idpctl

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

// Names with spaces, as people give them: every command line printed for
// pasting must quote them.
const (
	spacedIntegration = "Bitbucket acme"
	spacedConnector   = "bb pre qa"
	spacedEntity      = "pay ments"
)

// invocations runs every leaf command of idpctl once, with names that need
// quoting. A command without a row fails TestWalkCoversEveryCommand: a new
// command gets a row, and with it the checks of the walks below.
func invocations(t *testing.T) map[string][]string {
	file := filepath.Join(t.TempDir(), "entity.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: harness.io/v1\nkind: Component\nidentifier: x\nname: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	backstageFile := filepath.Join(t.TempDir(), "catalog-info.yaml")
	if err := os.WriteFile(backstageFile, []byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\nspec:\n  type: service\n  owner: team-a\n  lifecycle: production\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	N, C, E := spacedIntegration, spacedConnector, spacedEntity
	return map[string][]string{
		"connector create":      {"--name", C, "--workspace", "acme", "--token-ref", "env:BITBUCKET_TOKEN"},
		"connector list":        {"--page-size", "1"},
		"connector get":         {C},
		"connector delete":      {C},
		"connector edit":        {C, "--token-ref", "env:BITBUCKET_TOKEN"},
		"connector test":        {C, "--no-wait"},
		"connector test-result": {"t-1"},
		"integration create":    {"--name", N, "--connector", C},
		"integration list":      {"--page-size", "1"},
		"integration get":       {N},
		"integration edit":      {N, "--correlate", "name=name"},
		"integration suspend":   {N},
		"integration resume":    {N},
		"integration sync":      {N},
		"sync":                  {N},
		"runs":                  {N},
		"discovered list":       {N, "--page-size", "1"},
		"discovered get":        {N, "a"},
		"discovered ignore":     {N, "a"},
		"discovered unignore":   {N, "a"},
		"import":                {N, "repo-1"},
		"auto-import":           {N, "on"},
		"imported list":         {N},
		"unlink":                {N, "repo-1"},
		"events":                {N, "--page-size", "1"},
		"entity create":         {"-f", file},
		"entity update":         {"-f", file},
		"entity list":           {"--page-size", "1", "--search", E},
		"entity get":            {E, "--kind", "Component"},
		"entity activity":       {E},
		"entity delete":         {E},
		"entity export":         {E, "--format", "backstage"},
		"entity import":         {"--format", "backstage", backstageFile},
		"version":               {},
	}
}

// localOnly are the commands that never call the server.
var localOnly = []string{"version"}

// leafCommands lists every runnable command by its path under idpctl.
func leafCommands() []string {
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.HasSubCommands() {
			out = append(out, strings.TrimPrefix(c.CommandPath(), "idpctl "))
			return
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newApp(nil, nil, nil).rootCommand())
	return out
}

func argsOf(path string, rest []string) []string {
	return append(strings.Fields(path), rest...)
}

func TestWalkCoversEveryCommand(t *testing.T) {
	t.Parallel()
	inv := invocations(t)
	for _, path := range leafCommands() {
		if _, ok := inv[path]; !ok {
			t.Errorf("idpctl %s has no row in invocations: add one, so that its hints and exit codes are checked", path)
		}
	}
}

// Every command that lists takes --all-pages and --page-token, and
// reports a total in JSON where the server counts one.
func TestEveryListCommandOffersAllPages(t *testing.T) {
	t.Parallel()
	root := newApp(nil, nil, nil).rootCommand()
	for _, path := range leafCommands() {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil {
			t.Fatal(err)
		}
		lists := cmd.Name() == "list" || cmd.Flags().Lookup("page-token") != nil || cmd.Flags().Lookup("page-size") != nil
		if !lists {
			continue
		}
		for _, flag := range []string{"all-pages", "page-token", "page-size"} {
			if cmd.Flags().Lookup(flag) == nil {
				t.Errorf("idpctl %s lists but has no --%s", path, flag)
			}
		}
	}
}

// rejectAll answers every call as the server answers a value it refuses.
func rejectAll(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
	st, _ := status.New(codes.InvalidArgument, "invalid request").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "name", Description: "must not contain control characters"}},
	})
	return nil, st.Err()
}

// Whatever the command, a value the server rejects exits 2, as --help
// promises, and the message names it.
func TestEveryCommandExitsTwoOnARejectedValue(t *testing.T) {
	t.Parallel()
	h := newHarness(t, grpc.ChainUnaryInterceptor(rejectAll))
	for path, rest := range invocations(t) {
		if slices.Contains(localOnly, path) {
			continue
		}
		r := h.run(argsOf(path, rest)...)
		if r.code != cli.ExitUsage {
			t.Errorf("idpctl %s: exit %d, want 2\nstderr: %s", path, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "invalid") {
			t.Errorf("idpctl %s: the message does not say what was invalid: %s", path, r.stderr)
		}
	}
}

// spacedFake is a server whose names all need quoting, with lists of two
// items served a page of one at a time, so that every hint shows: next
// steps, empty lists, more pages.
func spacedFake(h *harness) {
	f := h.fake
	f.connectors = []*integrationv1.Connector{{Id: "c-1", Name: spacedConnector, Workspace: "acme"}, {Id: "c-2", Name: "other", Workspace: "beta"}}
	f.integrations = []*integrationv1.Integration{
		{Id: "i-1", Name: spacedIntegration, Connector: "c-1", ConnectorName: spacedConnector, Workspace: "acme"},
		{Id: "i-2", Name: "other", Connector: "c-2", Workspace: "beta"},
	}
	f.testResult = &integrationv1.ConnectorTest{Id: "t-1", Status: integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_PENDING}
	f.runScript = []*integrationv1.SyncRun{{Id: "r-1", Status: integrationv1.SyncStatus_SYNC_STATUS_QUEUED}}
	f.events = []*integrationv1.Event{{Message: "one"}, {Message: "two"}}
	f.discovered = []*integrationv1.DiscoveredRepository{{Name: "a", Slug: "a"}, {Name: "b", Slug: "b"}}
	f.entities = []*catalogv1.Entity{{Identifier: "x", Kind: "Component"}, {Identifier: "y", Kind: "Component"}}
	f.pageSize = 1
}

// Every command line a command prints for pasting quotes the names that
// need it, whether in a next step, an empty list's advice, a "more pages"
// hint or an error's advice.
func TestEveryHintQuotesNames(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spacedFake(h)
	check := func(what string, r result) int {
		t.Helper()
		commands := 0
		for _, line := range strings.Split(r.stdout+r.stderr, "\n") {
			for _, prog := range []string{"idpctl ", "controlplane admin "} {
				i := strings.Index(line, prog)
				if i < 0 {
					continue
				}
				commands++
				shown := line[i:]
				for _, name := range []string{spacedIntegration, spacedConnector, spacedEntity, "acme corp"} {
					if strings.Count(shown, name) != strings.Count(shown, cli.Quote(name)) {
						t.Errorf("%s prints %q unquoted in: %s", what, name, line)
					}
				}
			}
		}
		return commands
	}
	printed := 0
	for path, rest := range invocations(t) {
		printed += check("idpctl "+path, h.run(argsOf(path, rest)...))
	}
	// The advice of errors that name a resource.
	for _, e := range []struct {
		method string
		err    error
		args   []string
	}{
		{"SyncIntegration", reasonError(t, codes.FailedPrecondition, "suspended", "INTEGRATION_SUSPENDED", map[string]string{"integration": spacedIntegration}), []string{"sync", spacedIntegration}},
		{"CreateIntegration", reasonError(t, codes.AlreadyExists, "integrated", "WORKSPACE_ALREADY_INTEGRATED", map[string]string{"workspace": "acme", "integration": spacedIntegration}),
			[]string{"integration", "create", "--name", "x", "--connector", "c"}},
		{"ListIntegrations", reasonError(t, codes.FailedPrecondition, "off", "FEATURE_FLAG_DISABLED", map[string]string{"account": "acme corp"}), []string{"integration", "list"}},
		{"TestConnector", status.Error(codes.DeadlineExceeded, "late"), []string{"connector", "test", spacedConnector, "--timeout", "1ms"}},
	} {
		h.fake.failNext(e.method, e.err)
		printed += check("idpctl "+strings.Join(e.args, " "), h.run(e.args...))
	}
	if printed < 25 {
		t.Fatalf("only %d command lines printed: the walk no longer reaches the hints", printed)
	}
}

// The next-page command repeats the command line as given, with the new
// token, and never the API key.
func TestNextPageHintRepeatsTheCommandWithoutTheKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	spacedFake(h)
	key := h.env["IDP_API_KEY"]
	for _, args := range [][]string{
		{"--api-key", key, "discovered", "list", spacedIntegration, "--page-token", "0"},
		{"--api-key=" + key, "discovered", "list", spacedIntegration, "--page-token=0"},
	} {
		r := h.mustRun(0, args...)
		want := "Showing 1 of 2. All of them: add --all-pages. Next page:\n  idpctl discovered list 'Bitbucket acme' --page-token 1\n"
		if r.stderr != want {
			t.Errorf("%q: stderr %q, want %q", args, r.stderr, want)
		}
	}
}
