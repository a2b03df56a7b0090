package bitbucketmock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestTokensHaveTheirOwnBudgetsAndCanBeRevoked: two access tokens of one
// workspace, one with its own (scaled) allowance; each is counted in its
// own window and states its own X-RateLimit-Limit, and a revoked token gets
// 401 while the other goes on.
func TestTokensHaveTheirOwnBudgetsAndCanBeRevoked(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 1, Repos: 2, Clock: clock.Now, RateLimit: Rate{N: 3, Per: time.Hour},
		Tokens: []Token{{Value: "tok-a"}, {Value: "tok-b", RateLimit: Rate{N: 5, Per: time.Hour}}}})
	repo := "/repositories/acme/" + run.Repos()[0].Slug

	statuses := func(auth string, n int) (out []int, limit string) {
		for range n {
			r := request(t, run, repo, auth)
			out = append(out, r.status)
			if r.status == 200 {
				limit = r.header.Get("X-RateLimit-Limit")
			}
		}
		return out, limit
	}
	a, limA := statuses("Bearer tok-a", 4)
	b, limB := statuses("Bearer tok-b", 6)
	if limA != "3" || limB != "5" {
		t.Errorf("X-RateLimit-Limit %q and %q, want 3 and 5", limA, limB)
	}
	if a[2] != 200 || a[3] != 429 || b[4] != 200 || b[5] != 429 {
		t.Errorf("statuses a=%v b=%v: want 429 after 3 and 5", a, b)
	}

	// Revoke tok-a over the control API: 401 as for an unknown token, while
	// tok-b's window rolls on its own.
	patch(t, run, "/tokens/token-1", `{"revoked": true}`, http.StatusOK)
	clock.Advance(time.Hour)
	if r := request(t, run, repo, "Bearer tok-a"); r.status != 401 {
		t.Errorf("revoked token: %d", r.status)
	}
	if r := request(t, run, repo, "Bearer tok-b"); r.status != 200 {
		t.Errorf("other token after the revocation: %d", r.status)
	}
	raw := controlGet(t, run, "/tokens")
	var list []TokenInfo
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Revoked || list[1].Revoked || list[1].RateLimit != "5/h" {
		t.Errorf("token list %+v", list)
	}
	if bytes.Contains(raw, []byte("tok-")) {
		t.Error("the token list shows token values")
	}

	// Restore it, and give it an own limit: a fresh window, the new header.
	patch(t, run, "/tokens/token-1", `{"revoked": false, "rate_limit": "10/h"}`, http.StatusOK)
	if r := request(t, run, repo, "Bearer tok-a"); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "10" {
		t.Errorf("restored token: %d %v", r.status, r.header)
	}
	patch(t, run, "/tokens/token-9", `{"revoked": true}`, http.StatusNotFound)
	patch(t, run, "/tokens/token-1", `{"rate_limit": "lots"}`, http.StatusBadRequest)
}

func patch(t *testing.T, run *Running, path, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, run.ControlURL+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("PATCH %s: %d, want %d", path, resp.StatusCode, want)
	}
}

func controlGet(t *testing.T, run *Running, path string) []byte {
	t.Helper()
	resp, err := http.Get(run.ControlURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return b
}
