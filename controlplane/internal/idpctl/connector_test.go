package idpctl

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

func TestConnectorCreateBuildsTheConnector(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.mustRun(0, "connector", "create", "--name", "bb-acme", "--workspace", "acme",
		"--token-ref", "env:BITBUCKET_TOKEN", "--token-ref", "file:/run/secrets/bb-2", "--selector", "eu", "--selector", "prod,large")

	want := &integrationv1.CreateConnectorRequest{Connector: &integrationv1.Connector{
		Name:              "bb-acme",
		Url:               "https://bitbucket.org/acme",
		Username:          "x-token-auth",
		TokenRefs:         []string{"env:BITBUCKET_TOKEN", "file:/run/secrets/bb-2"},
		DelegateSelectors: []string{"eu", "prod", "large"},
	}}
	reqs := h.fake.requests("CreateConnector")
	if len(reqs) != 1 {
		t.Fatalf("CreateConnector called %d times", len(reqs))
	}
	if diff := cmp.Diff(want, reqs[0], protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if r.stdout != "Connector \"bb-acme\" created for workspace acme (id c-1).\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if r.stderr != "Next: check the token and its scopes with: idpctl connector test bb-acme\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
}

func TestConnectorCreateUsageErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		args []string
		err  string
	}{
		{[]string{"--workspace", "acme", "--token-ref", "env:T"}, "Error: --name is required"},
		{[]string{"--name", "x", "--workspace", "acme"}, "Error: --token-ref is required"},
		{[]string{"--name", "x", "--token-ref", "env:T"}, "Error: --workspace SLUG or --url URL is required"},
		{[]string{"--name", "x", "--token-ref", "env:T", "--workspace", "a", "--url", "https://bitbucket.org/a"}, "Error: give --workspace or --url, not both"},
		{[]string{"--name", "x", "--token-ref", "T0KENVALUE123", "--workspace", "a"}, `Error: invalid --token-ref: "T0KE…" is not a token reference; want env:NAME or file:/absolute/path (the delegate reads the token; it never reaches the control plane)`},
		{[]string{"--name", "x", "--token-ref", "env:T", "--workspace", "a/b"}, `Error: invalid --workspace: "a/b" is not a workspace slug; want the slug as in https://bitbucket.org/SLUG, e.g. acme`},
		{[]string{"--name", "x", "--bogus"}, "Error: unknown flag: --bogus"},
	}
	for _, tc := range cases {
		r := h.mustRun(2, append([]string{"connector", "create"}, tc.args...)...)
		want := tc.err + "\nRun 'idpctl connector create --help' for usage.\n"
		if r.stderr != want {
			t.Errorf("%v: stderr = %q, want %q", tc.args, r.stderr, want)
		}
	}
	if calls := h.fake.allCalls(); len(calls) != 0 {
		t.Errorf("usage errors reached the server: %v", calls)
	}
}

func TestConnectorCreateShowsFieldViolations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.failNext("CreateConnector", badRequest(t, "connector.username", "must be x-token-auth (a workspace access token)",
		"connector.url", "SSH URLs are not supported: use the HTTPS URL"))
	r := h.mustRun(2, "connector", "create", "--name", "x", "--url", "git@bitbucket.org:acme/repo.git", "--username", "me", "--token-ref", "env:T")
	want := "Error: invalid connector:\n  --username: must be x-token-auth (a workspace access token)\n  --url: SSH URLs are not supported: use the HTTPS URL\n"
	if r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func testConnectors() []*integrationv1.Connector {
	return []*integrationv1.Connector{
		{Id: "c-1", Name: "bb-acme", Url: "https://bitbucket.org/acme", Username: "x-token-auth", TokenRef: "env:BITBUCKET_TOKEN",
			TokenRefs: []string{"env:BITBUCKET_TOKEN", "env:BITBUCKET_TOKEN_2"}, Workspace: "acme", CreatedAt: ago(72 * time.Hour)},
		{Id: "c-2", Name: "bb-labs", Url: "https://bitbucket.org/labs", Username: "x-token-auth", TokenRef: "file:/etc/idp/labs", TokenRefs: []string{"file:/etc/idp/labs"}, Workspace: "labs",
			ApiBaseUrl: "http://127.0.0.1:8089/2.0", DelegateSelectors: []string{"eu", "prod"}, CreatedAt: ago(5 * time.Minute)},
	}
}

func TestConnectorListAndGet(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.connectors = testConnectors()
	golden(t, "connector-list", h.mustRun(0, "connector", "list").stdout)
	golden(t, "connector-list-json", h.mustRun(0, "connector", "list", "-o", "json").stdout)
	golden(t, "connector-get", h.mustRun(0, "connector", "get", "bb-labs").stdout)
	golden(t, "connector-get-yaml", h.mustRun(0, "connector", "get", "bb-labs", "-o", "yaml").stdout)
}

func TestConnectorListEmptyHints(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.mustRun(0, "connector", "list")
	if r.stdout != "" || !strings.HasPrefix(r.stderr, "No connectors. Create one with: idpctl connector create") {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
	r = h.mustRun(0, "connector", "list", "-o", "json")
	if r.stdout != "{\n  \"items\": [],\n  \"next_page_token\": \"\",\n  \"total\": 0\n}\n" || r.stderr != "" {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
}

func TestConnectorTestFailedListsEachMissingScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.testResult = &integrationv1.ConnectorTest{
		Id: "t-1", ConnectorId: "c-1", Status: integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_FAILED,
		TokenValid: true, WorkspaceReachable: true, MissingScopes: []string{"Pull requests: Read", "Projects: Read"},
		Message: "the token lacks 2 scopes", FinishedAt: ago(0),
	}
	r := h.mustRun(1, "connector", "test", "bb-acme")
	golden(t, "connector-test-failed", r.stdout)
	want := "Testing connector \"bb-acme\" on a delegate (waiting up to 2m0s)...\nError: connector test failed: the token lacks 2 scopes\n"
	if r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	req := h.fake.requests("TestConnector")[0].(*integrationv1.TestConnectorRequest)
	if !req.GetWait() || req.GetConnector() != "bb-acme" {
		t.Errorf("request = %v; want wait for bb-acme", req)
	}
}

func TestConnectorTestSucceeded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.testResult = &integrationv1.ConnectorTest{Id: "t-1", Status: integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_SUCCEEDED,
		TokenValid: true, WorkspaceReachable: true, Message: "ok"}
	r := h.mustRun(0, "connector", "test", "bb-acme", "-o", "json")
	if !strings.Contains(r.stdout, `"status": "CONNECTOR_TEST_STATUS_SUCCEEDED"`) || !strings.Contains(r.stdout, `"missing_scopes": []`) {
		t.Errorf("stdout = %s", r.stdout)
	}
}

func TestConnectorTestWithoutVerdict(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.blockTest = true
	r := h.mustRun(1, "connector", "test", "bb-acme", "--timeout", "50ms")
	want := "Error: no verdict within 50ms: no delegate ran the test. Is a delegate connected whose tags match the connector's selectors? (see idpctl connector get bb-acme)\n"
	if !strings.HasSuffix(r.stderr, want) {
		t.Errorf("stderr = %q, want suffix %q", r.stderr, want)
	}

	h = newHarness(t) // the abandoned call may still be reading the first fake
	h.fake.testResult = &integrationv1.ConnectorTest{Id: "t-9", Status: integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_PENDING}
	r = h.mustRun(0, "connector", "test", "bb-acme", "--no-wait")
	if r.stderr != "The test is PENDING. Read its verdict later: idpctl connector test-result t-9\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	if req := h.fake.requests("TestConnector")[0].(*integrationv1.TestConnectorRequest); req.GetWait() {
		t.Error("--no-wait sent wait=true")
	}
}
