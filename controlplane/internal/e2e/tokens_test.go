package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConnectorWithSeveralTokens: a connector references three tokens.
// 'idpctl connector test' reports each on its own line (valid, scopes,
// the limit Bitbucket states); once Bitbucket revokes one, the test names
// it and a sync still succeeds with the others and reports the revoked one
// on the run and on the integration. No token value reaches the control
// plane or its output.
func TestConnectorWithSeveralTokens(t *testing.T) {
	s := startStackWith(t, []string{"--rate-limit", "1000/h", "--token-rate-limit", "token-1=2500/h"}, nil)
	c := s.cli
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--api-url", s.mockURL,
		"--token-ref", "env:BITBUCKET_TOKEN", "--token-ref", "env:BITBUCKET_LIMITED_TOKEN", "--token-ref", "env:BITBUCKET_UNSET_TOKEN")

	get := c.ok("connector", "get", "bb")
	for _, ref := range []string{"env:BITBUCKET_TOKEN", "env:BITBUCKET_LIMITED_TOKEN", "env:BITBUCKET_UNSET_TOKEN"} {
		if !strings.Contains(get, ref) {
			t.Errorf("connector get does not list %s:\n%s", ref, get)
		}
	}

	out, errOut, code := c.run("connector", "test", "bb")
	t.Logf("connector test:\n%s%s", out, errOut)
	if code != 1 {
		t.Fatalf("connector test exited %d with a token unset on the delegate, want 1", code)
	}
	for _, want := range []string{
		"Token env:BITBUCKET_TOKEN:",
		"valid; scopes project,repository,pullrequest; limit 2500/h",
		"Token env:BITBUCKET_LIMITED_TOKEN:",
		"valid; scopes repository; missing Projects: Read, Pull requests: Read; limit 1000/h",
		"Token env:BITBUCKET_UNSET_TOKEN:",
		"NOT VALID",
		"is not set on the delegate",
		"2 of 3 tokens fail",
	} {
		if !strings.Contains(out+errOut, want) {
			t.Errorf("connector test output lacks %q", want)
		}
	}

	// Bitbucket revokes the limited token: the test says so for that token.
	mockControl(t, s.controlURL, "PATCH", "/tokens/token-2", `{"revoked": true}`)
	out, _, code = c.run("connector", "test", "bb", "-o", "json")
	var test map[string]any
	if err := json.Unmarshal([]byte(out), &test); err != nil || code != 1 {
		t.Fatalf("connector test -o json: exit %d, %v:\n%s", code, err, out)
	}
	toks, _ := test["tokens"].([]any)
	if len(toks) != 3 {
		t.Fatalf("connector test tokens: %v", test)
	}
	if tk := toks[1].(map[string]any); tk["token_ref"] != "env:BITBUCKET_LIMITED_TOKEN" || tk["valid"] != false ||
		!strings.Contains(tk["message"].(string), "401") {
		t.Errorf("revoked token's verdict: %v", tk)
	}
	if tk := toks[0].(map[string]any); tk["valid"] != true || tk["limit_per_hour"] != "2500" {
		t.Errorf("good token's verdict: %v", tk)
	}

	// A sync goes on with the good token and reports the revoked one.
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
	run := syncWait(t, c)
	if run["repositories"] != itoa(repoCount) {
		t.Fatalf("sync saw %v repositories, want %d", run["repositories"], repoCount)
	}
	var rejected []string
	for _, tk := range run["tokens"].([]any) {
		if m := tk.(map[string]any); m["rejected"] == true {
			rejected = append(rejected, m["token_ref"].(string))
		}
	}
	if strings.Join(rejected, ",") != "env:BITBUCKET_LIMITED_TOKEN,env:BITBUCKET_UNSET_TOKEN" {
		t.Errorf("run reports rejected tokens %v: %v", rejected, run["tokens"])
	}
	in := c.ok("integration", "get", integration)
	if !strings.Contains(in, "token env:BITBUCKET_LIMITED_TOKEN rejected: Bitbucket rejected the token (401)") {
		t.Errorf("integration get does not show the rejected token:\n%s", in)
	}
	for _, p := range []*process{s.cp} {
		if strings.Contains(p.out.String(), bitbucketTK) || strings.Contains(p.out.String(), limitedTK) {
			t.Error("a token value reached the control plane's log")
		}
	}
	if strings.Contains(s.delegate.out.String(), bitbucketTK) || strings.Contains(s.delegate.out.String(), limitedTK) {
		t.Error("a token value reached the delegate's log")
	}
	if !strings.Contains(s.delegate.out.String(), "Bitbucket rejected this token (401") {
		t.Error("the delegate's log does not say which token Bitbucket rejected")
	}

	// The user drops the bad tokens: edit replaces the list, refusing a
	// duplicate with the flag named, and the connection test passes.
	dup := c.fails(2, "connector", "edit", "bb", "--token-ref", "env:BITBUCKET_TOKEN", "--token-ref", "env:BITBUCKET_TOKEN")
	if !strings.Contains(dup, "--token-ref") || !strings.Contains(dup, "given twice") {
		t.Errorf("duplicate token edit: %s", dup)
	}
	c.ok("connector", "edit", "bb", "--token-ref", "env:BITBUCKET_TOKEN")
	var conn map[string]any
	c.json(&conn, "connector", "get", "bb")
	if refs, _ := conn["token_refs"].([]any); len(refs) != 1 || refs[0] != "env:BITBUCKET_TOKEN" || conn["token_ref"] != "env:BITBUCKET_TOKEN" {
		t.Errorf("after edit: %v", conn)
	}
	if out := c.ok("connector", "test", "bb"); !strings.Contains(out, "Token env:BITBUCKET_TOKEN:") || !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("connector test after edit:\n%s", out)
	}
}
