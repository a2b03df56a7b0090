package idpctl

import (
	"net"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// badRequest builds INVALID_ARGUMENT with field violations (field,
// description pairs), as the server reports bad input.
func badRequest(t *testing.T, pairs ...string) error {
	t.Helper()
	br := &errdetails.BadRequest{}
	for i := 0; i+1 < len(pairs); i += 2 {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: pairs[i], Description: pairs[i+1]})
	}
	st, err := status.New(codes.InvalidArgument, "invalid request").WithDetails(br)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// reasonError builds a status with an ErrorInfo.
func reasonError(t *testing.T, code codes.Code, msg, reason string, md map[string]string) error {
	t.Helper()
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "idp.integration.v1", Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestFeatureFlagAndPermissionErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.failNext("ListIntegrations", reasonError(t, codes.FailedPrecondition, "feature flag disabled", "FEATURE_FLAG_DISABLED",
		map[string]string{"flag": "IDP_CATALOG_CD_AUTO_DISCOVERY", "account": "acct-1"}))
	r := h.mustRun(1, "integration", "list")
	want := "Error: the feature flag IDP_CATALOG_CD_AUTO_DISCOVERY is off for this account. Ask an administrator to run: controlplane admin feature-flag set --account acct-1 --flag IDP_CATALOG_CD_AUTO_DISCOVERY --enabled\n"
	if r.stderr != want || r.stdout != "" {
		t.Errorf("stderr = %q\nwant     %q", r.stderr, want)
	}

	h.fake.failNext("SyncIntegration", reasonError(t, codes.PermissionDenied, "permission missing", "PERMISSION_MISSING",
		map[string]string{"permission": "IDP_INTEGRATION_EDIT", "resourceType": "IDP_INTEGRATION"}))
	r = h.mustRun(1, "sync", "acme")
	want = "Error: your API key lacks permission IDP_INTEGRATION_EDIT on IDP_INTEGRATION. Ask an administrator to grant it, or use a key that has it (--api-key, IDP_API_KEY)\n"
	if r.stderr != want {
		t.Errorf("stderr = %q\nwant     %q", r.stderr, want)
	}
}

func TestFieldViolationsNameTheFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.failNext("CreateIntegration", badRequest(t,
		"integration.type", "must be empty when behavior is merge",
		"integration.correlation.rules[1].catalog_path", `"metadata..tags" is not a path`,
		"integration.field_mappings.mappings[0].name", "must be snake_case",
		"integration.update_frequency", "unknown frequency",
		"integration.something_new", "is wrong"))
	r := h.mustRun(2, "integration", "create", "--name", "acme", "--connector", "bb", "--behavior", "merge", "--type", "service",
		"--correlate", "name=name", "--correlate", "slug=metadata..tags", "--field", "Name=name")
	want := `Error: invalid integration:
  --type: must be empty when behavior is merge
  --correlate #2: "metadata..tags" is not a path
  --field #1: must be snake_case
  --frequency: unknown frequency
  integration.something_new: is wrong
`
	if r.stderr != want {
		t.Errorf("stderr = %q\nwant     %q", r.stderr, want)
	}

	// Entity YAML violations name YAML paths, which stay as they are.
	h.fake.failNext("CreateEntity", badRequest(t, "spec.lifecycle", "required for a Component (line 7)"))
	h.stdin = "kind: Component\n"
	r = h.mustRun(2, "entity", "create", "-f", "-")
	if want := "Error: invalid entity:\n  spec.lifecycle: required for a Component (line 7)\n"; r.stderr != want {
		t.Errorf("stderr = %q\nwant     %q", r.stderr, want)
	}
}

func TestReasonsSayWhatToDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct {
		method string
		err    error
		args   []string
		want   string
	}{
		{"CreateIntegration", reasonError(t, codes.AlreadyExists, "workspace acme is integrated", "WORKSPACE_ALREADY_INTEGRATED", map[string]string{"workspace": "acme", "integration": "Acme"}),
			[]string{"integration", "create", "--name", "x", "--connector", "bb"},
			"Error: acme already has an integration, Acme, and a workspace has only one. Change that one instead: idpctl integration edit Acme ...\n"},
		{"UpdateIntegration", reasonError(t, codes.FailedPrecondition, "secondary kinds are locked", "SECONDARY_KINDS_LOCKED", nil),
			[]string{"integration", "edit", "acme", "--secondary-kinds", "commits"},
			"Error: secondary kinds are fixed when an integration is created and cannot be changed; run the edit again without --secondary-kinds (or the secondary-kinds key of -f FILE)\n"},
		{"SyncIntegration", reasonError(t, codes.FailedPrecondition, "suspended", "INTEGRATION_SUSPENDED", map[string]string{"integration": "acme"}),
			[]string{"sync", "acme"},
			"Error: integration acme is suspended, so it does not sync; resume it first: idpctl integration resume acme\n"},
		{"DeleteConnector", reasonError(t, codes.FailedPrecondition, `connector "bb" is used by integration "acme"`, "CONNECTOR_IN_USE", nil),
			[]string{"connector", "delete", "bb"},
			"Error: connector \"bb\" is used by integration \"acme\" (point its integrations at another connector first: idpctl integration edit NAME --connector OTHER)\n"},
		{"GetEntity", reasonError(t, codes.FailedPrecondition, `identifier "payments" is ambiguous`, "AMBIGUOUS_IDENTIFIER", map[string]string{"kinds": "Component,API"}),
			[]string{"entity", "get", "payments"},
			"Error: identifier \"payments\" is ambiguous: it exists under several kinds or scopes (Component,API); add --kind or --scope\n"},
		{"GetIntegration", status.Error(codes.NotFound, `integration "acme" not found`),
			[]string{"integration", "get", "acme"},
			"Error: integration \"acme\" not found (list them with `idpctl integration list`)\n"},
		{"UnlinkRepository", status.Error(codes.NotFound, `repository "x" not found`),
			[]string{"unlink", "acme", "x"},
			"Error: repository \"x\" not found\n"},
	}
	// A reason that names a value to change exits 2, as a bad flag does.
	exit := map[string]int{"UpdateIntegration": 2, "GetEntity": 2}
	for _, tc := range cases {
		h.fake.failNext(tc.method, tc.err)
		code, ok := exit[tc.method]
		if !ok {
			code = 1
		}
		if r := h.mustRun(code, tc.args...); r.stderr != tc.want {
			t.Errorf("%v: stderr = %q\nwant %q", tc.args, r.stderr, tc.want)
		}
	}
}

func TestUnauthenticatedMentionsTheAPIKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// No key at all is a usage error, found before any call.
	delete(h.env, "IDP_API_KEY")
	if r := h.mustRun(2, "connector", "list"); !strings.HasPrefix(r.stderr, "Error: no API key given: pass --api-key KEY or set IDP_API_KEY\n") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if calls := h.fake.allCalls(); len(calls) != 0 {
		t.Errorf("called the server without a key: %v", calls)
	}
	h.fake.failNext("ListConnectors", status.Error(codes.Unauthenticated, "unknown API key"))
	if r := h.mustRun(1, "connector", "list", "--api-key", "wrong"); r.stderr != "Error: the control plane rejected the API key (unknown API key): check --api-key or IDP_API_KEY\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	if auth := h.fake.allCalls()[0].auth; auth != "Bearer wrong" {
		t.Errorf("authorization = %q, want Bearer wrong", auth)
	}
}

// A bad --scope reaches the server, which names the request field; the
// error names the flag, and exits 2 like any rejected input.
func TestEntityKeyViolationsNameTheFlags(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fake.failNext("GetEntity", badRequest(t, "key.scope", `"bogus" is not a scope`))
	r := h.mustRun(2, "entity", "get", "payments", "--scope", "bogus")
	if want := "Error: invalid entity:\n  --scope: \"bogus\" is not a scope\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestRequestTimeoutMustBePositive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, v := range []string{"0s", "-5s"} {
		r := h.mustRun(2, "connector", "list", "--request-timeout", v)
		if !strings.Contains(r.stderr, "--request-timeout must be positive") {
			t.Errorf("--request-timeout %s: stderr = %q", v, r.stderr)
		}
	}
	if calls := h.fake.allCalls(); len(calls) != 0 {
		t.Errorf("called the server: %v", calls)
	}
}

func TestUnavailableNamesTheServer(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens there.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()

	h := newHarness(t)
	h.env["IDP_SERVER"] = addr
	r := h.mustRun(1, "integration", "list")
	wantPrefix := "Error: cannot reach the control plane at " + addr + ": dial tcp " + addr + ": connect: connection refused"
	if !strings.HasPrefix(r.stderr, wantPrefix) || !strings.HasSuffix(r.stderr, "(is it running? check --server or IDP_SERVER)\n") {
		t.Errorf("stderr = %q\nwant %q...", r.stderr, wantPrefix)
	}
}

func TestDescribeTransportAdvice(t *testing.T) {
	t.Parallel()
	a := newApp(nil, nil, func(string) string { return "" })
	a.server = "cp.example.com:7443"
	cases := map[string]string{
		`connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`:                             "cannot reach the control plane at cp.example.com:7443: authentication handshake failed: tls: first record does not look like a TLS handshake (the server does not speak TLS: try --tls=false)",
		`connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`: "cannot reach the control plane at cp.example.com:7443: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority (the server's certificate is not trusted: pass --ca-file with its CA, or --insecure while testing)",
	}
	for msg, want := range cases {
		if got := a.describe(status.Error(codes.Unavailable, msg)); got != want {
			t.Errorf("describe(%q)\n = %q\nwant %q", msg, got, want)
		}
	}
}
