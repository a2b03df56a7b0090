package bitbucketmock

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is an injectable clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testToken = "mock-token" // DefaultToken's value

type response struct {
	status int
	header http.Header
	body   []byte
}

// request sends GET path (relative to the API base, or absolute) with the
// given Authorization header ("" for none).
func request(t testing.TB, run *Running, path, auth string) response {
	t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = run.URL + path
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := run.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// get sends GET path with the default token as a Bearer token.
func get(t testing.TB, run *Running, path string) response {
	t.Helper()
	return request(t, run, path, "Bearer "+testToken)
}

// getJSON gets path, wants 200, and decodes the body.
func getJSON(t testing.TB, run *Running, path string) map[string]any {
	t.Helper()
	r := get(t, run, path)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, r.status, r.body)
	}
	return decodeBody(t, r.body)
}

func decodeBody(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %.200s: %v", b, err)
	}
	return v
}

func values(doc map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range doc["values"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// errorMessage is error.message of a Bitbucket error body.
func errorMessage(t testing.TB, r response) string {
	t.Helper()
	doc := decodeBody(t, r.body)
	if doc["type"] != "error" {
		t.Fatalf("not an error body: %s", r.body)
	}
	return doc["error"].(map[string]any)["message"].(string)
}

// walk follows next links from path and returns every item.
func walk(t testing.TB, run *Running, path string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for next := path; next != ""; {
		doc := getJSON(t, run, next)
		all = append(all, values(doc)...)
		next, _ = doc["next"].(string)
		if len(all) > 100_000 {
			t.Fatal("runaway pagination")
		}
	}
	return all
}
