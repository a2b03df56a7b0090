package bitbucketmock

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// send makes an API request with a body ("" for none) and an Authorization
// header ("" for none).
func send(t testing.TB, run *Running, method, path, auth, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, run.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := run.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

const hooksPath = "/workspaces/acme/hooks"

// hookToken may manage hooks for repository and pull request events.
var hookToken = Token{Name: "hooks", Value: "hook-token", Scopes: []string{"repository", "pullrequest", "webhook"}}

// createHook creates a hook with the given body and returns its decoded
// answer; it wants 201.
func createHook(t testing.TB, run *Running, body string) map[string]any {
	t.Helper()
	r := send(t, run, http.MethodPost, hooksPath, "Bearer "+hookToken.Value, body)
	if r.status != http.StatusCreated {
		t.Fatalf("create hook: %d %s", r.status, r.body)
	}
	return decodeBody(t, r.body)
}

func TestHookCRUD(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 5, 6, 7, 8, 9, 123_456_000, time.UTC))
	run := Start(t, Config{Seed: 4, Repos: 2, Clock: clock.Now, Tokens: []Token{hookToken}})
	auth := "Bearer " + hookToken.Value

	r := send(t, run, http.MethodPost, hooksPath, auth,
		`{"description": "catalog", "url": "https://idp.example.com/hooks/bitbucket", "active": true,
		  "secret": "s3cret", "events": ["repo:push", "pullrequest:fulfilled", "repo:push"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := decodeBody(t, r.body)
	uid := created["uuid"].(string)
	if !strings.HasPrefix(uid, "{") || !strings.HasSuffix(uid, "}") {
		t.Fatalf("uuid %q is not braced", uid)
	}
	self := run.URL + hooksPath + "/" + url.PathEscape(uid)
	if loc := r.header.Get("Location"); loc != self {
		t.Fatalf("Location %q, want %q", loc, self)
	}
	for k, want := range map[string]any{"type": "webhook_subscription", "url": "https://idp.example.com/hooks/bitbucket",
		"description": "catalog", "subject_type": "workspace", "active": true, "secret_set": true,
		"created_at": "2026-05-06T07:08:09.123456+00:00"} {
		if created[k] != want {
			t.Errorf("%s = %v, want %v", k, created[k], want)
		}
	}
	if _, ok := created["secret"]; ok || strings.Contains(string(r.body), "s3cret") {
		t.Fatalf("the secret leaked: %s", r.body)
	}
	if ev := created["events"].([]any); len(ev) != 2 || ev[0] != "pullrequest:fulfilled" || ev[1] != "repo:push" {
		t.Fatalf("events %v: want the set, sorted", ev)
	}
	if sub := created["subject"].(map[string]any); sub["type"] != "workspace" || sub["slug"] != "acme" {
		t.Fatalf("subject %v", sub)
	}

	for _, ref := range []string{url.PathEscape(uid), strings.Trim(uid, "{}")} {
		got := decodeBody(t, send(t, run, http.MethodGet, hooksPath+"/"+ref, auth, "").body)
		if got["uuid"] != uid {
			t.Fatalf("GET by %s: %v", ref, got)
		}
	}
	second := createHook(t, run, `{"url": "http://receiver.example/b", "events": ["repo:created"]}`)
	if second["secret_set"] != false || second["active"] != true || second["description"] != "" {
		t.Fatalf("defaults of a minimal hook: %v", second)
	}
	list := decodeBody(t, send(t, run, http.MethodGet, hooksPath, auth, "").body)
	if list["size"] != 2.0 || values(list)[0]["uuid"] != uid {
		t.Fatalf("list: %v", list)
	}

	// PUT without secret keeps it; null removes it; other fields change.
	r = send(t, run, http.MethodPut, hooksPath+"/"+url.PathEscape(uid), auth, `{"url": "https://idp.example.com/v2", "active": false}`)
	if got := decodeBody(t, r.body); r.status != 200 || got["url"] != "https://idp.example.com/v2" || got["active"] != false || got["secret_set"] != true {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r = send(t, run, http.MethodPut, hooksPath+"/"+url.PathEscape(uid), auth, `{"secret": null}`)
	if got := decodeBody(t, r.body); got["secret_set"] != false || got["description"] != "catalog" {
		t.Fatalf("removing the secret: %s", r.body)
	}
	if info := run.Hooks()[0]; info.SecretSet || info.Active || info.URL != "https://idp.example.com/v2" {
		t.Fatalf("in process: %+v", info)
	}

	r = send(t, run, http.MethodDelete, hooksPath+"/"+url.PathEscape(uid), auth, "")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %q", r.status, r.body)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r := send(t, run, method, hooksPath+"/"+url.PathEscape(uid), auth, `{"active": true}`)
		if r.status != http.StatusNotFound {
			t.Fatalf("%s after delete: %d", method, r.status)
		}
	}
	if hooks := run.Hooks(); len(hooks) != 1 || hooks[0].UUID != second["uuid"] {
		t.Fatalf("after delete: %+v", hooks)
	}
	if r := send(t, run, http.MethodGet, "/workspaces/other/hooks", auth, ""); r.status != http.StatusNotFound {
		t.Fatalf("unknown workspace: %d", r.status)
	}
	if c := run.Counters(); c.ByEndpointStatus["hook_create"][201] != 2 || c.ByEndpointStatus["hook_delete"][204] != 1 {
		t.Fatalf("counters %v", c.ByEndpointStatus)
	}
}

func TestHookScopesAndOwner(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 4, Repos: 1, Tokens: []Token{
		hookToken,
		{Name: "no-webhook", Value: "tok-nowebhook", Scopes: []string{"repository", "pullrequest"}},
		{Name: "repo-webhook", Value: "tok-repowebhook", Scopes: []string{"repository", "webhook"}},
		{Name: "member", Value: "tok-member", Scopes: []string{"repository", "pullrequest", "webhook"}, NotOwner: true},
		{Name: "api-read", Value: "tok-apiread", Scopes: []string{"read:webhook:bitbucket", "read:repository:bitbucket"}},
		{Name: "api-write", Value: "tok-apiwrite", Scopes: []string{"read:webhook:bitbucket", "write:webhook:bitbucket", "read:repository:bitbucket"}},
		{Name: "api-delete", Value: "tok-apidelete", Scopes: []string{"delete:webhook:bitbucket"}},
	}})
	existing := createHook(t, run, `{"url": "https://r.example/x", "events": ["repo:push"]}`)
	one := hooksPath + "/" + url.PathEscape(existing["uuid"].(string))
	repoOnly := `{"url": "https://r.example/y", "events": ["repo:push"]}`
	withPRs := `{"url": "https://r.example/y", "events": ["repo:push", "pullrequest:created"]}`
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		message                         string
		required                        []string
	}{
		{"list without webhook", "GET", hooksPath, "tok-nowebhook", "", 403, msgMissingScope, []string{"webhook"}},
		{"create without webhook", "POST", hooksPath, "tok-nowebhook", repoOnly, 403, msgMissingScope, []string{"webhook", "repository"}},
		{"create for pull requests without pullrequest", "POST", hooksPath, "tok-repowebhook", withPRs, 403, msgMissingScope, []string{"webhook", "repository", "pullrequest"}},
		{"create for repositories", "POST", hooksPath, "tok-repowebhook", repoOnly, 201, "", nil},
		{"update to pull requests without pullrequest", "PUT", one, "tok-repowebhook", withPRs, 403, msgMissingScope, []string{"webhook", "repository", "pullrequest"}},
		{"not an owner lists", "GET", hooksPath, "tok-member", "", 403, msgForbidden, nil},
		{"not an owner creates", "POST", hooksPath, "tok-member", repoOnly, 403, msgForbidden, nil},
		{"not an owner reads one", "GET", one, "tok-member", "", 403, msgForbidden, nil},
		{"not an owner deletes", "DELETE", one, "tok-member", "", 403, msgForbidden, nil},
		{"api token reads", "GET", hooksPath, "tok-apiread", "", 200, "", nil},
		{"api token without write", "POST", hooksPath, "tok-apiread", repoOnly, 403, msgMissingScope,
			[]string{"read:webhook:bitbucket", "write:webhook:bitbucket", "read:repository:bitbucket"}},
		{"api token writes", "POST", hooksPath, "tok-apiwrite", repoOnly, 201, "", nil},
		{"api token needs pull requests too", "POST", hooksPath, "tok-apiwrite", withPRs, 403, msgMissingScope,
			[]string{"read:webhook:bitbucket", "write:webhook:bitbucket", "read:repository:bitbucket", "read:pullrequest:bitbucket"}},
		{"api token without delete", "DELETE", one, "tok-apiwrite", "", 403, msgMissingScope, []string{"delete:webhook:bitbucket"}},
		{"delete scope alone cannot read", "GET", one, "tok-apidelete", "", 403, msgMissingScope, []string{"read:webhook:bitbucket"}},
		{"anonymous", "GET", hooksPath, "", "", 403, msgAccessDenied, nil},
		{"delete scope deletes", "DELETE", one, "tok-apidelete", "", 204, "", nil},
	} {
		auth := ""
		if tc.token != "" {
			auth = "Bearer " + tc.token
		}
		r := send(t, run, tc.method, tc.path, auth, tc.body)
		if r.status != tc.status {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.body)
		}
		if tc.message != "" && errorMessage(t, r) != tc.message {
			t.Fatalf("%s: message %q", tc.name, errorMessage(t, r))
		}
		if tc.required != nil {
			detail := decodeBody(t, r.body)["error"].(map[string]any)["detail"].(map[string]any)
			var req []string
			for _, s := range detail["required"].([]any) {
				req = append(req, s.(string))
			}
			if !slices.Equal(req, tc.required) {
				t.Fatalf("%s: detail.required %v, want %v", tc.name, req, tc.required)
			}
		}
	}
	if n := len(run.Hooks()); n != 2 {
		t.Fatalf("%d hooks: refused requests must change nothing", n)
	}
}

func TestHookValidation(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 4, Repos: 1, Tokens: []Token{hookToken}})
	auth := "Bearer " + hookToken.Value
	long := strings.Repeat("x", maxHookSecret+1)
	for _, tc := range []struct {
		name, body string
		fields     map[string]string // field: part of its message
	}{
		{"no url", `{"events": ["repo:push"]}`, map[string]string{"url": msgRequired}},
		{"null url", `{"url": null, "events": ["repo:push"]}`, map[string]string{"url": msgRequired}},
		{"relative url", `{"url": "/hooks", "events": ["repo:push"]}`, map[string]string{"url": msgInvalidURL}},
		{"ftp url", `{"url": "ftp://r.example/x", "events": ["repo:push"]}`, map[string]string{"url": msgInvalidURL}},
		{"not a url", `{"url": "not a url", "events": ["repo:push"]}`, map[string]string{"url": msgInvalidURL}},
		{"url with credentials", `{"url": "https://u:p@r.example/x", "events": ["repo:push"]}`, map[string]string{"url": msgInvalidURL}},
		{"url not a string", `{"url": 7, "events": ["repo:push"]}`, map[string]string{"url": "Not a valid string."}},
		{"no events", `{"url": "https://r.example/x"}`, map[string]string{"events": msgRequired}},
		{"empty events", `{"url": "https://r.example/x", "events": []}`, map[string]string{"events": msgRequired}},
		{"unknown event", `{"url": "https://r.example/x", "events": ["repo:push", "repo:exploded"]}`,
			map[string]string{"events": "Select a valid choice. repo:exploded is not one of the available choices."}},
		{"sunset issue events", `{"url": "https://r.example/x", "events": ["issue:created"]}`,
			map[string]string{"events": "issue:created is not one of the available choices"}},
		{"events not a list", `{"url": "https://r.example/x", "events": "repo:push"}`, map[string]string{"events": "Expected a list"}},
		{"secret too long", `{"url": "https://r.example/x", "events": ["repo:push"], "secret": "` + long + `"}`,
			map[string]string{"secret": "no more than 128 characters"}},
		{"active not a boolean", `{"url": "https://r.example/x", "events": ["repo:push"], "active": "yes"}`,
			map[string]string{"active": "valid boolean"}},
		{"everything wrong", `{"url": "nope", "events": ["nope"]}`, map[string]string{"url": msgInvalidURL, "events": "nope"}},
		{"not json", `url=https://r.example/x`, map[string]string{"__all__": "JSON object"}},
		{"json array", `["repo:push"]`, map[string]string{"__all__": "JSON object"}},
	} {
		r := send(t, run, http.MethodPost, hooksPath, auth, tc.body)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d: %s", tc.name, r.status, r.body)
		}
		e := decodeBody(t, r.body)["error"].(map[string]any)
		fields, _ := e["fields"].(map[string]any)
		if e["message"] != "Bad request" || len(fields) != len(tc.fields) {
			t.Fatalf("%s: %s", tc.name, r.body)
		}
		for f, want := range tc.fields {
			msgs, _ := fields[f].([]any)
			if len(msgs) == 0 || !strings.Contains(msgs[0].(string), want) {
				t.Fatalf("%s: fields.%s = %v, want %q", tc.name, f, fields[f], want)
			}
		}
	}
	if n := len(run.Hooks()); n != 0 {
		t.Fatalf("invalid forms created %d hooks", n)
	}
	// A secret of exactly 128 characters is fine; an invalid update changes
	// nothing.
	h := createHook(t, run, `{"url": "https://r.example/x", "events": ["repo:push"], "secret": "`+long[1:]+`"}`)
	one := hooksPath + "/" + url.PathEscape(h["uuid"].(string))
	if r := send(t, run, http.MethodPut, one, auth, `{"url": "https://r.example/new", "events": ["bogus"]}`); r.status != 400 {
		t.Fatalf("invalid update: %d", r.status)
	}
	if got := run.Hooks()[0]; got.URL != "https://r.example/x" || !slices.Equal(got.Events, []string{"repo:push"}) {
		t.Fatalf("an invalid update changed the hook: %+v", got)
	}
}
