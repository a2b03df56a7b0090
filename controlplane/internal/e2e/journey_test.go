package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	workspace   = "acme"
	repoCount   = 60
	bitbucketTK = "e2e-bitbucket-token-value"
	// limitedTK is accepted with the repository scope only; the delegate
	// reads it from BITBUCKET_LIMITED_TOKEN.
	limitedTK = "e2e-limited-token-value"
	// hookTK also has the webhook scope; the delegate reads it from
	// BITBUCKET_HOOK_TOKEN.
	hookTK      = "e2e-hook-token-value"
	integration = "Bitbucket acme"
)

// stack is one running product: the mock Bitbucket, the control plane on
// SQLite and one delegate, all real binaries on loopback.
type stack struct {
	db           string // the control plane's database DSN, for admin commands
	mockURL      string // ends in /2.0
	controlURL   string // the mock's control API, ends in /_mock
	cpAddr       string
	consoleURL   string // the web console and HTTP API, ends in /
	apiKey       string
	cp, delegate *process
	cli          cli
}

// startStack starts the stack; cpArgs are more flags of controlplane serve.
func startStack(t *testing.T, cpArgs ...string) *stack {
	t.Helper()
	return startStackWith(t, nil, cpArgs)
}

// startStackWith starts the stack with more flags of mock-bitbucket and of
// controlplane serve.
func startStackWith(t *testing.T, mockArgs, cpArgs []string) *stack {
	t.Helper()
	dir := t.TempDir()
	s := &stack{}

	mock := start(t, "mock-bitbucket", nil, append([]string{"--listen", "127.0.0.1:0", "--workspace", workspace,
		"--repos", itoa(repoCount), "--prs-per-repo", "6", "--commits-per-repo", "8",
		"--token", bitbucketTK, "--token", limitedTK + ":repository", "--token", hookTK + ":project,repository,pullrequest,webhook",
		"--log-format", "json"}, mockArgs...)...)
	s.mockURL = mock.waitOutput(regexp.MustCompile(`mock Bitbucket Cloud API: (\S+)`), 30*time.Second)
	s.controlURL = strings.TrimSuffix(s.mockURL, "/2.0") + "/_mock"

	db := "sqlite://" + filepath.Join(dir, "idp.db")
	s.db = db
	creds := bootstrap(t, db)
	s.apiKey = creds.APIKey

	s.cp = start(t, "controlplane", nil, append([]string{"serve", "--db", db, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--poll-hold", "1s", "--schedule-interval", "1s", "--log-level", "debug", "--log-format", "json"}, cpArgs...)...)
	s.cpAddr = s.cp.waitOutput(regexp.MustCompile(`"addr":"([^"]+)"[^\n]*control plane listening`), 60*time.Second)
	s.consoleURL = s.cp.waitOutput(regexp.MustCompile(`"url":"(http[^"]+)"[^\n]*console: `), 30*time.Second)

	// The delegate resolves the connector's token reference from its own
	// environment; the control plane only ever sees "env:BITBUCKET_TOKEN".
	mockHost := strings.TrimSuffix(strings.TrimPrefix(s.mockURL, "http://"), "/2.0")
	s.delegate = start(t, "delegate", []string{"BITBUCKET_TOKEN=" + bitbucketTK, "BITBUCKET_LIMITED_TOKEN=" + limitedTK,
		"BITBUCKET_HOOK_TOKEN=" + hookTK},
		"--control-plane", s.cpAddr, "--tls=false", "--account", "e2e", "--token", creds.DelegateToken,
		"--allowed-api-hosts", mockHost,
		"--name", "e2e-delegate", "--log-level", "debug", "--log-format", "json")
	s.delegate.waitOutput(regexp.MustCompile(`registered with the control plane`), 30*time.Second)

	s.cli = cli{t: t, server: s.cpAddr, apiKey: s.apiKey}
	return s
}

func runBinary(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return exec.CommandContext(ctx, filepath.Join(binDir, name), args...).CombinedOutput()
}

// TestBinariesStartAndDelegatePolls is the skeleton's promise: the real
// control plane serves health SERVING, and the real delegate registers and
// long-polls it.
func TestBinariesStartAndDelegatePolls(t *testing.T) {
	s := startStack(t)

	conn, err := grpc.NewClient(s.cpAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v; want SERVING", resp, err)
	}

	// With a 1 s poll hold, a polling delegate shows up as successful
	// Register and repeated AcquireTask calls in the control plane's per-RPC
	// debug log.
	for _, want := range []struct {
		method string
		calls  int
	}{{"/idp.delegate.v1.DelegateService/Register", 1}, {"/idp.delegate.v1.DelegateService/AcquireTask", 2}} {
		deadline := time.Now().Add(15 * time.Second)
		for okCalls(s.cp, want.method) < want.calls {
			if time.Now().After(deadline) {
				t.Fatalf("%d successful %s calls logged, want %d", okCalls(s.cp, want.method), want.method, want.calls)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	if err := s.delegate.stop(); err != nil {
		t.Errorf("delegate exit after SIGTERM: %v; want 0", err)
	}
	if err := s.cp.stop(); err != nil {
		t.Errorf("control plane exit after SIGTERM: %v; want 0", err)
	}
	for _, p := range []*process{s.cp, s.delegate} {
		if strings.Contains(p.out.String(), s.apiKey) {
			t.Errorf("%s logged the API key", p.name)
		}
	}
}

// TestAccessErrorsSayWhatToDo checks, through the real binaries, that a
// missing permission and a disabled feature flag are refused with messages
// that name them and say what to do, and exit 1.
func TestAccessErrorsSayWhatToDo(t *testing.T) {
	s := startStack(t)

	out, err := runBinary("controlplane", "admin", "api-key", "create", "--db", s.db, "--account", "e2e",
		"--name", "catalog-reader", "--permission", "IDP_CATALOG_VIEW", "-o", "json")
	if err != nil {
		t.Fatalf("api-key create: %v\n%s", err, out)
	}
	var key struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(out, &key); err != nil || key.APIKey == "" {
		t.Fatalf("api-key create -o json printed %s (%v)", out, err)
	}
	reader := cli{t: t, server: s.cpAddr, apiKey: key.APIKey}
	reader.ok("entity", "list")
	if msg := reader.fails(1, "integration", "list"); !strings.Contains(msg, "IDP_INTEGRATION_EDIT") || !strings.Contains(msg, "IDP_INTEGRATION") {
		t.Errorf("missing permission message: %s", msg)
	}
	if msg := (cli{t: t, server: s.cpAddr, apiKey: "idp_ak_wrong"}).fails(1, "integration", "list"); !strings.Contains(msg, "--api-key") {
		t.Errorf("wrong key message does not point at --api-key: %s", msg)
	}

	if out, err := runBinary("controlplane", "admin", "feature-flag", "set", "--db", s.db, "--account", "e2e",
		"--flag", "IDP_CATALOG_CD_AUTO_DISCOVERY", "--enabled=false"); err != nil {
		t.Fatalf("feature-flag set: %v\n%s", err, out)
	}
	msg := s.cli.fails(1, "integration", "list")
	if !strings.Contains(msg, "IDP_CATALOG_CD_AUTO_DISCOVERY") || !strings.Contains(msg, "feature-flag set") {
		t.Errorf("feature flag message: %s", msg)
	}
	s.cli.fails(2, "integration", "create", "--name", "x", "--connector", "bb", "--correlate", "no-equals-sign")
}

// okCalls counts the control plane's per-RPC log lines for method with code OK.
func okCalls(cp *process, method string) int {
	n := 0
	for _, l := range cp.logLines() {
		if l["message"] == "rpc" && l["method"] == method && l["code"] == "OK" {
			n++
		}
	}
	return n
}

// TestJourney walks the user's whole journey with idpctl
// against the real binaries, checking every printed result.
func TestJourney(t *testing.T) {
	s := startStack(t)
	c := s.cli
	dir := t.TempDir()

	// A catalog entity that already exists: the merge target.
	c.ok("entity", "create", "-f", writeFile(t, dir, "shipping.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: shipping
name: shipping-service
owner: group:logistics
spec:
  lifecycle: production
metadata:
  description: Ships parcels.
`))
	c.ok("entity", "create", "-f", writeFile(t, dir, "search.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: search_svc
name: search
owner: group:search
spec:
  lifecycle: experimental
`))

	// Connector: SSH is refused with the reason, HTTPS works and tests OK.
	errOut := c.fails(2, "connector", "create", "--name", "ssh", "--url", "git@bitbucket.org:acme/x.git", "--token-ref", "env:BITBUCKET_TOKEN")
	if !strings.Contains(strings.ToLower(errOut), "http") {
		t.Errorf("SSH connector error does not say to use HTTP: %s", errOut)
	}
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	var test map[string]any
	c.json(&test, "connector", "test", "bb")
	if test["status"] != "CONNECTOR_TEST_STATUS_SUCCEEDED" || test["token_valid"] != true {
		t.Fatalf("connector test: %v", test)
	}

	// Integration with defaults; the first sync is queued at once.
	var created map[string]any
	c.json(&created, "integration", "create", "--name", integration, "--connector", "bb")
	for field, want := range map[string]any{
		"behavior": "BEHAVIOR_REGISTER_AND_MERGE", "kind": "Component", "type": "service",
		"update_frequency": "UPDATE_FREQUENCY_3_HOURS", "state": "INTEGRATION_STATE_ENABLED", "workspace": workspace,
	} {
		if created[field] != want {
			t.Errorf("integration %s = %v, want %v", field, created[field], want)
		}
	}
	if kinds := path(created, "secondary_kinds", "kinds"); len(kinds.([]any)) != 2 {
		t.Errorf("secondary kinds = %v, want both", kinds)
	}
	c.fails(1, "integration", "create", "--name", "again", "--connector", "bb") // one per workspace

	run := syncWait(t, c)
	if run["repositories"] != itoa(repoCount) {
		t.Fatalf("first sync saw %v repositories, want %d", run["repositories"], repoCount)
	}

	// Discovered: every repository, shipping-service recommended for Merge
	// into the existing entity, the rest for Register.
	discovered := listAll(t, c, "discovered", "list", integration)
	if len(discovered) != repoCount {
		t.Fatalf("discovered %d repositories, want %d", len(discovered), repoCount)
	}
	ship := find(t, discovered, "slug", "shipping-service")
	if ship["recommended_action"] != "IMPORT_ACTION_MERGE" || path(ship, "suggested_entity", "identifier") != "shipping" {
		t.Fatalf("shipping-service: %v; want Merge into shipping", ship)
	}
	if a := find(t, discovered, "slug", "audit-api")["recommended_action"]; a != "IMPORT_ACTION_REGISTER" {
		t.Fatalf("audit-api recommended %v, want Register", a)
	}
	header, rows := table(t, c.ok("discovered", "list", integration, "--search", "shipping-service"))
	if strings.Join(header, "|") != "NAME|RECOMMENDED|SUGGESTED MATCH|KIND|TYPE|OWNER|DETECTED|NOTE" {
		t.Errorf("discovered table header %v", header)
	}
	if len(rows) != 1 || rows[0][0] != "shipping-service" || rows[0][1] != "Merge" || !strings.Contains(rows[0][2], "shipping") {
		t.Errorf("discovered table rows %v", rows)
	}

	// Editing the correlation to Contains changes recommendations: the
	// entity named "search" now matches search-service and its siblings.
	searchRepos := 0
	for _, r := range discovered {
		if strings.Contains(strings.ToLower(r["name"].(string)), "search") {
			searchRepos++
			if r["recommended_action"] != "IMPORT_ACTION_REGISTER" {
				t.Fatalf("%v recommended %v before the edit, want Register", r["name"], r["recommended_action"])
			}
		}
	}
	if searchRepos == 0 {
		t.Fatal("the generated workspace has no search repository; pick another seed")
	}
	c.ok("integration", "edit", integration, "--correlate", "name=name:contains")
	discovered = listAll(t, c, "discovered", "list", integration)
	for _, r := range discovered {
		if strings.Contains(strings.ToLower(r["name"].(string)), "search") && r["recommended_action"] != "IMPORT_ACTION_MERGE" {
			t.Errorf("%v recommended %v after the Contains edit, want Merge", r["name"], r["recommended_action"])
		}
	}
	// One path syntax everywhere: a list index in a correlation rule
	// reaches the repository's first clone link, and a field mapping to a
	// path the repository JSON cannot have is refused, naming the field.
	c.ok("entity", "create", "-f", writeFile(t, dir, "clone-probe.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: clone_probe
name: clone-probe
owner: group:platform
spec:
  lifecycle: production
metadata:
  annotations:
    bitbucket.org/repo-clone: bitbucket.org/acme/audit-api.git
`))
	c.ok("integration", "edit", integration, "--correlate", "links.clone.0.href=metadata.annotations.bitbucket.org/repo-clone:contains")
	probed := find(t, listAll(t, c, "discovered", "list", integration), "slug", "audit-api")
	if probed["recommended_action"] != "IMPORT_ACTION_MERGE" || path(probed, "suggested_entity", "identifier") != "clone_probe" {
		t.Errorf("audit-api by its clone link: %v; want Merge into clone_probe", probed)
	}
	errOut = c.fails(2, "integration", "edit", integration, "--field", "x=no.such.path")
	if !strings.Contains(errOut, "--field #1") || !strings.Contains(errOut, "no.such.path") || !strings.Contains(errOut, "can never match") {
		t.Errorf("unmatchable field path error: %s", errOut)
	}
	c.ok("entity", "delete", "clone_probe")

	// Secondary kinds are locked after creation: a value refused, exit 2.
	errOut = c.fails(2, "integration", "edit", integration, "--secondary-kinds", "commits")
	if !strings.Contains(errOut, "secondary kinds") {
		t.Errorf("secondary kinds edit error: %s", errOut)
	}
	c.ok("integration", "edit", integration, "--correlate", "name=name:equals")

	// Import: one register, one merge, one bulk call with a bad item.
	var imported struct{ Results []map[string]any }
	c.json(&imported, "import", integration, "audit-api", "shipping-service", "catalog-web")
	for i, want := range []string{"IMPORT_ACTION_REGISTER", "IMPORT_ACTION_MERGE", "IMPORT_ACTION_REGISTER"} {
		if r := imported.Results[i]; r["ok"] != true || r["action"] != want {
			t.Fatalf("import result %d: %v, want ok %s", i, r, want)
		}
	}
	out, _, code := c.run("import", integration, "audit-api", "no-such-repo", "-o", "json")
	if code != 1 {
		t.Fatalf("import of an imported and a missing repository exited %d, want 1", code)
	}
	if err := json.Unmarshal([]byte(out), &imported); err != nil {
		t.Fatal(err)
	}
	if len(imported.Results) != 2 || imported.Results[0]["ok"] != false || imported.Results[1]["ok"] != false {
		t.Fatalf("bad items: %v", imported.Results)
	}

	importedList := listAll(t, c, "imported", "list", integration)
	if len(importedList) != 3 {
		t.Fatalf("imported list has %d rows, want 3", len(importedList))
	}
	if st := find(t, importedList, "name", "shipping-service")["status"]; st != "IMPORT_STATUS_MERGED" {
		t.Errorf("shipping-service status %v", st)
	}
	if st := find(t, importedList, "name", "audit-api")["status"]; st != "IMPORT_STATUS_REGISTERED" {
		t.Errorf("audit-api status %v", st)
	}

	// The merged entity keeps its own fields and gains both ingested sections.
	yaml := c.ok("entity", "get", "shipping", "-o", "yaml")
	for _, want := range []string{"name: shipping-service", "owner: group:logistics", "lifecycle: production",
		"integration:", "entity_action: MERGE", "entity_uuid:", "imported_at:", "integration_properties:", "BitbucketCloud:", "default_branch:"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("entity YAML lacks %q:\n%s", want, yaml)
		}
	}

	// Between syncs: rename an imported repository, delete another, add one.
	mockControl(t, s.controlURL, "POST", "/repos/audit-api/rename", `{"name": "audit-gateway"}`)
	mockControl(t, s.controlURL, "DELETE", "/repos/catalog-web", "")
	run = syncWait(t, c)
	var audit map[string]any
	c.json(&audit, "entity", "get", "audit_api")
	if y := audit["yaml"].(string); !strings.Contains(y, "name: audit-gateway") {
		t.Errorf("renamed repository not reflected in its entity:\n%s", y)
	}
	var web map[string]any
	c.json(&web, "entity", "get", "catalog_web")
	if web["source_deleted"] != true {
		t.Errorf("entity of a deleted repository not flagged: %v", web)
	}
	if n := len(listAll(t, c, "imported", "list", integration)); n != 3 {
		t.Errorf("after rename and delete the imported list has %d rows, want 3 (no duplicate)", n)
	}

	// Activity from the secondary records.
	act := c.ok("entity", "activity", "shipping")
	if !strings.Contains(act, "RECENT PULL REQUESTS") || !strings.Contains(act, "acme/shipping-service") {
		t.Errorf("activity output:\n%s", act)
	}

	// Unlink keeps the entity and returns the repository to Discovered.
	c.ok("unlink", integration, "shipping-service")
	ship = find(t, listAll(t, c, "discovered", "list", integration), "slug", "shipping-service")
	if ship["unlinked"] != true {
		t.Errorf("unlinked repository not marked in Discovered: %v", ship)
	}
	if y := c.ok("entity", "get", "shipping", "-o", "yaml"); !strings.Contains(y, "owner: group:logistics") {
		t.Errorf("unlinked entity changed:\n%s", y)
	}

	// Auto-import: a new repository imports itself; the unlinked one does not.
	c.ok("auto-import", integration, "on")
	mockControl(t, s.controlURL, "POST", "/repos", `{"name": "fresh-service", "project_key": "PLAT", "commits": 2}`)
	syncWait(t, c)
	importedList = listAll(t, c, "imported", "list", integration)
	if fresh := find(t, importedList, "name", "fresh-service"); fresh["automatic"] != true {
		t.Errorf("fresh-service not auto-imported: %v", fresh)
	}
	if has(importedList, "name", "shipping-service") {
		t.Error("an unlinked repository was auto-imported")
	}

	// Suspend stops syncs; resume restarts them.
	var got map[string]any
	c.json(&got, "integration", "suspend", integration)
	if got["state"] != "INTEGRATION_STATE_SUSPENDED" {
		t.Fatalf("suspend: %v", got)
	}
	if errOut := c.fails(1, "sync", integration); !strings.Contains(strings.ToLower(errOut), "suspended") {
		t.Errorf("sync of a suspended integration: %s", errOut)
	}
	c.json(&got, "integration", "resume", integration)
	if got["state"] != "INTEGRATION_STATE_ENABLED" {
		t.Fatalf("resume: %v", got)
	}
	syncWait(t, c)

	// Runs and events tell the story.
	runs := listAll(t, c, "runs", integration)
	if len(runs) < 4 {
		t.Errorf("%d runs recorded, want at least 4", len(runs))
	}
	events := listAll(t, c, "events", integration)
	for _, typ := range []string{"EVENT_TYPE_SYNC", "EVENT_TYPE_CONFIG_CHANGED", "EVENT_TYPE_IMPORTED", "EVENT_TYPE_AUTO_IMPORTED",
		"EVENT_TYPE_UNLINKED", "EVENT_TYPE_SUSPENDED", "EVENT_TYPE_RESUMED", "EVENT_TYPE_IMPORT_FAILED"} {
		if !has(events, "type", typ) {
			t.Errorf("no %s event", typ)
		}
	}

	// The Bitbucket token never left the delegate's environment.
	for _, p := range []*process{s.cp, s.delegate} {
		if strings.Contains(p.out.String(), bitbucketTK) {
			t.Errorf("%s logged the Bitbucket token", p.name)
		}
	}
}

// syncWait runs a sync to its end and checks it succeeded.
func syncWait(t *testing.T, c cli) map[string]any {
	t.Helper()
	var run map[string]any
	c.json(&run, "sync", integration, "--wait", "--timeout", "2m")
	if run["status"] != "SYNC_STATUS_SUCCESS" {
		t.Fatalf("sync ended %v: %v", run["status"], run)
	}
	return run
}

// listAll runs a list command over all pages and returns its items.
func listAll(t *testing.T, c cli, args ...string) []map[string]any {
	t.Helper()
	var list map[string]any
	c.json(&list, append(args, "--all-pages")...)
	return items(t, list)
}

// writeFile writes a file into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }
