package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

// freeAddr returns a loopback address nothing listens on, for a control
// plane whose public address must be known before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// hookStack is a stack whose control plane is reachable by the mock's
// webhook deliveries, with an integration on a token that has the webhook
// scope, synced once (which registers the hook), and one repository
// imported.
type hookStack struct {
	*stack
	publicURL, hookURL, repo, entity, integrationID string
}

func startHookStack(t *testing.T) hookStack {
	t.Helper()
	addr := freeAddr(t)
	public := "http://" + addr
	s := startStackWith(t, nil, []string{"--http-listen", addr, "--public-url", public})
	c := s.cli
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_HOOK_TOKEN", "--api-url", s.mockURL)
	var created map[string]any
	c.json(&created, "integration", "create", "--name", integration, "--connector", "bb")
	syncWait(t, c)

	var in map[string]any
	c.json(&in, "integration", "get", integration)
	hook, _ := in["webhook"].(map[string]any)
	id, _ := in["id"].(string)
	if hook["state"] != "INTEGRATION_WEBHOOK_STATE_ACTIVE" || hook["url"] != public+"/hooks/bitbucket/"+id {
		t.Fatalf("webhook after the first sync: %v", hook)
	}
	// The delegate registered exactly one hook, on that url, signed.
	var hooks []bitbucketmock.HookInfo
	getJSON(t, s.controlURL+"/hooks", &hooks)
	if len(hooks) != 1 || hooks[0].URL != hook["url"] || !hooks[0].Active || !hooks[0].SecretSet || !slices.Contains(hooks[0].Events, "pullrequest:fulfilled") {
		t.Fatalf("hooks in the mock: %+v", hooks)
	}

	repo := find(t, listAll(t, c, "discovered", "list", integration), "slug", "shipping-service")["slug"].(string)
	c.ok("import", integration, repo)
	var imported map[string]any
	c.json(&imported, "imported", "list", integration)
	entity := path(find(t, items(t, imported), "name", repo), "entity", "identifier").(string)
	return hookStack{stack: s, publicURL: public, hookURL: hook["url"].(string), repo: repo, entity: entity, integrationID: id}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func postJSON(t *testing.T, url, body string, v any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %s: %s", url, resp.Status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("POST %s: %v: %s", url, err, b)
		}
	}
}

// pullRequest returns the entity's pull request number id as the catalog
// shows it, or nil.
func (h hookStack) pullRequest(t *testing.T, id float64) map[string]any {
	t.Helper()
	var act map[string]any
	h.cli.json(&act, "entity", "activity", h.entity, "--limit", "100")
	list, _ := act["recent_pull_requests"].([]any)
	for _, p := range list {
		if pr := p.(map[string]any); pr["id"] == id || pr["id"] == fmt.Sprint(int64(id)) {
			return pr
		}
	}
	return nil
}

func (h hookStack) runCount(t *testing.T) int {
	t.Helper()
	return len(listAll(t, h.cli, "runs", integration))
}

// TestWebhookMergedPullRequestWithoutSync: a pull request merged in
// Bitbucket reaches the entity's activity from the delivery alone; no sync
// (full or targeted) runs for it.
func TestWebhookMergedPullRequestWithoutSync(t *testing.T) {
	h := startHookStack(t)
	runsBefore := h.runCount(t)

	var opened map[string]any
	postJSON(t, h.controlURL+"/repos/"+h.repo+"/pullrequests", `{"title": "Speed up the label printer", "source_branch": "fast-labels"}`, &opened)
	id := opened["id"].(float64)
	start := time.Now()
	postJSON(t, h.controlURL+fmt.Sprintf("/repos/%s/pullrequests/%d/merge", h.repo, int64(id)), `{}`, nil)

	deadline := start.Add(30 * time.Second)
	for {
		if pr := h.pullRequest(t, id); pr != nil && pr["state"] == "MERGED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("merged pull request %d not in the activity of %s after 30 s; control plane log:\n%s", int64(id), h.entity, h.cp.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	delay := time.Since(start)
	t.Logf("merged in the mock -> MERGED in the entity's activity: %v (webhook delivery, no sync)", delay.Round(time.Millisecond))
	fmt.Printf("webhook e2e: merge to catalog delay %v\n", delay.Round(time.Millisecond))
	if n := h.runCount(t); n != runsBefore {
		t.Fatalf("runs went from %d to %d: the merge should need no sync", runsBefore, n)
	}

	// A targeted refresh by hand: that repository only, beside no full sync.
	var run map[string]any
	h.cli.json(&run, "sync", integration, "--repo", h.repo, "--wait", "--timeout", "2m")
	if run["status"] != "SYNC_STATUS_SUCCESS" || fmt.Sprint(run["targeted_repositories"]) != "["+h.repo+"]" || fmt.Sprint(run["repositories"]) != "1" {
		t.Fatalf("targeted refresh: %v", run)
	}

	// Suspend deactivates the hook (through a task the delegate runs);
	// resume's sync activates it again, still one hook.
	h.cli.ok("integration", "suspend", integration)
	h.waitHook(t, "INTEGRATION_WEBHOOK_STATE_INACTIVE", false)
	h.cli.ok("integration", "resume", integration)
	h.waitHook(t, "INTEGRATION_WEBHOOK_STATE_ACTIVE", true)
}

// waitHook waits until the integration shows the webhook state and the
// mock's one hook is (in)active.
func (h hookStack) waitHook(t *testing.T, state string, active bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var in map[string]any
		h.cli.json(&in, "integration", "get", integration)
		var hooks []bitbucketmock.HookInfo
		getJSON(t, h.controlURL+"/hooks", &hooks)
		if path(in, "webhook", "state") == state && len(hooks) == 1 && hooks[0].Active == active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %v, mock hooks %+v; want %s and active=%v", in["webhook"], hooks, state, active)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestWebhookWithoutScopeStaysOnPolling: a token without the webhook scope
// syncs as before; the integration says it polls, and why, and the
// connection test reports the scope as optional.
func TestWebhookWithoutScopeStaysOnPolling(t *testing.T) {
	addr := freeAddr(t)
	s := startStackWith(t, nil, []string{"--http-listen", addr, "--public-url", "http://" + addr})
	c := s.cli
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	var test map[string]any
	c.json(&test, "connector", "test", "bb")
	if test["status"] != "CONNECTOR_TEST_STATUS_SUCCEEDED" || !strings.Contains(fmt.Sprint(test["message"]), "optional scope Webhooks") {
		t.Fatalf("connector test: %v; want success naming the optional webhook scope", test)
	}
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
	syncWait(t, c)
	var in map[string]any
	c.json(&in, "integration", "get", integration)
	hook, _ := in["webhook"].(map[string]any)
	if hook["state"] != "INTEGRATION_WEBHOOK_STATE_MISSING_SCOPE" || !strings.Contains(fmt.Sprint(hook["hint"]), "Webhooks") {
		t.Fatalf("webhook without the scope: %v", hook)
	}
	if out := c.ok("integration", "get", integration); !strings.Contains(out, "missing_scope") || !strings.Contains(out, "scheduled syncs") {
		t.Fatalf("integration get does not show the state and hint:\n%s", out)
	}
	var hooks []bitbucketmock.HookInfo
	getJSON(t, s.controlURL+"/hooks", &hooks)
	if len(hooks) != 0 {
		t.Fatalf("hooks registered without the scope: %+v", hooks)
	}
}

// secret reads the integration's signing secret from the control plane's
// database, to sign deliveries as Bitbucket would.
func (h hookStack) secret(t *testing.T) string {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(h.db, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var secret string
	if err := db.QueryRow(`SELECT webhook_secret FROM integrations WHERE id = ?`, h.integrationID).Scan(&secret); err != nil || secret == "" {
		t.Fatalf("secret: %q %v", secret, err)
	}
	return secret
}

func deliver(t *testing.T, url, event, requestUUID, signature string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Event-Key", event)
	req.Header.Set("X-Request-UUID", requestUUID)
	req.Header.Set("X-Attempt-Number", "1")
	if signature != "" {
		req.Header.Set("X-Hub-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func prPayload(repoUUID, full string, id int64, title string, updated time.Time) []byte {
	return []byte(fmt.Sprintf(`{"repository":{"uuid":%q,"full_name":%q},"actor":{"display_name":"x"},
		"pullrequest":{"id":%d,"title":%q,"state":"OPEN","updated_on":%q,"created_on":%q,
		"source":{"branch":{"name":"b"}},"destination":{"branch":{"name":"main"}}}}`,
		repoUUID, full, id, title, updated.UTC().Format(time.RFC3339Nano), updated.UTC().Format(time.RFC3339Nano)))
}

// TestWebhookForgedAndReplayedChangeNothing: a delivery signed with
// another secret is refused (401, as for an unknown integration), and a
// delivery sent again under the same X-Request-UUID is acknowledged without
// being applied, even with a different body.
func TestWebhookForgedAndReplayedChangeNothing(t *testing.T) {
	h := startHookStack(t)
	secret := h.secret(t)
	var repo map[string]any
	getJSON(t, h.controlURL+"/repos/"+h.repo, &repo)
	uuid, full := repo["uuid"].(string), workspace+"/"+h.repo
	const id = 9001
	t0 := time.Now().Add(time.Hour)

	genuine := prPayload(uuid, full, id, "genuine", t0)
	if code := deliver(t, h.hookURL, "pullrequest:created", "req-1", bitbucketmock.Signature(secret, genuine), genuine); code != http.StatusAccepted {
		t.Fatalf("genuine delivery: %d, want 202", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.pullRequest(t, id) == nil {
		if time.Now().After(deadline) {
			t.Fatal("genuine delivery never applied")
		}
		time.Sleep(20 * time.Millisecond)
	}

	forged := prPayload(uuid, full, id, "forged", t0.Add(time.Minute))
	for name, sig := range map[string]string{
		"other secret": bitbucketmock.Signature("not-the-secret", forged),
		"no signature": "",
		"sha1":         "sha1=" + strings.TrimPrefix(bitbucketmock.Signature(secret, forged), "sha256="),
	} {
		if code := deliver(t, h.hookURL, "pullrequest:updated", "req-forged-"+name, sig, forged); code != http.StatusUnauthorized {
			t.Errorf("forged delivery (%s): %d, want 401", name, code)
		}
	}
	// An integration that does not exist gets the very same answer.
	other := h.publicURL + "/hooks/bitbucket/int_nope"
	if code := deliver(t, other, "pullrequest:updated", "req-x", bitbucketmock.Signature(secret, forged), forged); code != http.StatusUnauthorized {
		t.Errorf("delivery for an unknown integration: %d, want 401", code)
	}

	replay := prPayload(uuid, full, id, "replayed", t0.Add(2*time.Minute))
	if code := deliver(t, h.hookURL, "pullrequest:updated", "req-1", bitbucketmock.Signature(secret, replay), replay); code != http.StatusOK {
		t.Errorf("replayed delivery: %d, want 200 (duplicate)", code)
	}
	if code := deliver(t, h.hookURL, "pullrequest:created", "req-1", bitbucketmock.Signature(secret, genuine), genuine); code != http.StatusOK {
		t.Errorf("retried delivery: %d, want 200 (duplicate)", code)
	}
	// An older version under a new request id is applied and loses.
	older := prPayload(uuid, full, id, "older", t0.Add(-time.Minute))
	if code := deliver(t, h.hookURL, "pullrequest:updated", "req-2", bitbucketmock.Signature(secret, older), older); code != http.StatusAccepted {
		t.Errorf("older delivery: %d, want 202", code)
	}
	// A newer one queued after all of them marks when they are all applied.
	marker := prPayload(uuid, full, id+1, "marker", t0)
	deliver(t, h.hookURL, "pullrequest:created", "req-3", bitbucketmock.Signature(secret, marker), marker)
	deadline = time.Now().Add(30 * time.Second)
	for h.pullRequest(t, id+1) == nil {
		if time.Now().After(deadline) {
			t.Fatal("marker delivery never applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pr := h.pullRequest(t, id); pr["title"] != "genuine" {
		t.Fatalf("pull request %d after forged, replayed and older deliveries: %v; want the genuine one", id, pr)
	}
	var metricsCheck map[string]any
	h.cli.json(&metricsCheck, "integration", "get", integration)
	if d := path(metricsCheck, "webhook", "deliveries"); d != "3" && d != float64(3) {
		t.Errorf("accepted deliveries shown = %v, want 3 (genuine, older, marker)", d)
	}
}

// TestWebhookChangeToCatalogFigures measures, on the real clock, the time
// from a change in the mock (a pull request merged through its control
// API, which delivers the webhook as Bitbucket would) to the change in
// the entity's activity, over 20 merges, and prints p50 and p95. Each must
// arrive without a sync.
func TestWebhookChangeToCatalogFigures(t *testing.T) {
	h := startHookStack(t)
	runsBefore := h.runCount(t)
	const n = 20
	var delays []time.Duration
	for i := range n {
		var opened map[string]any
		postJSON(t, h.controlURL+"/repos/"+h.repo+"/pullrequests", fmt.Sprintf(`{"title": "change %d", "source_branch": "change-%d"}`, i, i), &opened)
		id := opened["id"].(float64)
		start := time.Now()
		postJSON(t, h.controlURL+fmt.Sprintf("/repos/%s/pullrequests/%d/merge", h.repo, int64(id)), `{}`, nil)
		deadline := start.Add(30 * time.Second)
		for {
			if pr := h.pullRequest(t, id); pr != nil && pr["state"] == "MERGED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("merge %d not in the catalog after 30 s", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	p50, p95 := delays[n/2], delays[n*95/100-1]
	fmt.Printf("webhook change -> catalog over %d merges (real clock, SQLite, idpctl polling every 5 ms): p50 %v, p95 %v, max %v\n",
		n, p50.Round(time.Millisecond), p95.Round(time.Millisecond), delays[n-1].Round(time.Millisecond))
	if got := h.runCount(t); got != runsBefore {
		t.Fatalf("runs went from %d to %d: merges should need no sync", runsBefore, got)
	}
}
