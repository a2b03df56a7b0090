package bitbucketmock

import (
	"encoding/base64"
	"strconv"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	run := Start(t, Config{Seed: 1, Repos: 2, CommitsPerRepo: 2, Clock: clock.Now, RateLimit: Rate{N: 10, Per: 10 * time.Second},
		Tokens: []Token{{Name: "a", Value: "tok-a"}, {Name: "b", Value: "tok-b"}}})
	repo := "/repositories/acme/" + run.Repos()[0].Slug

	// Ten requests spread over 9 s fit; NearLimit turns true under 20 % left.
	// They are made at 0, 0.9, ..., 8.1 s; the eleventh at 9 s is one too many.
	for i := 1; i <= 10; i++ {
		r := request(t, run, repo, "Bearer tok-a")
		if r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
		// 10 per 10 s is 3,600 an hour, the unit Bitbucket's header uses.
		if r.header.Get("X-RateLimit-Limit") != "3600" || r.header.Get("X-RateLimit-Resource") != "api" {
			t.Fatalf("request %d: rate headers %v", i, r.header)
		}
		wantNear := strconv.FormatBool(10-i < 2)
		if got := r.header.Get("X-RateLimit-NearLimit"); got != wantNear {
			t.Fatalf("request %d: NearLimit %s, want %s", i, got, wantNear)
		}
		clock.Advance(900 * time.Millisecond)
	}
	over := request(t, run, repo, "Bearer tok-a")
	if over.status != 429 || string(over.body) != "Rate limit for this resource has been exceeded" {
		t.Fatalf("over the limit: %d %q", over.status, over.body)
	}
	if over.header.Get("Content-Type") != "text/plain" || over.header.Get("Retry-After") != "" {
		t.Fatalf("429 headers %v", over.header)
	}
	// Another credential has its own window.
	if r := request(t, run, repo, "Bearer tok-b"); r.status != 200 {
		t.Fatalf("other token: %d", r.status)
	}
	// Basic auth counts against the same token but gets no X-RateLimit headers.
	basic := request(t, run, repo, "Basic "+base64.StdEncoding.EncodeToString([]byte("x-token-auth:tok-b")))
	if basic.status != 200 || basic.header.Get("X-RateLimit-Limit") != "" {
		t.Fatalf("basic: %d %v", basic.status, basic.header)
	}
	// Rolling window: at 10 s the first request (0 s) has left the window.
	clock.Advance(time.Second)
	if r := request(t, run, repo, "Bearer tok-a"); r.status != 200 {
		t.Fatalf("after the oldest request left the window: %d", r.status)
	}
	if r := request(t, run, repo, "Bearer tok-a"); r.status != 429 {
		t.Fatalf("window full again: %d", r.status)
	}
	// Headers only on repository data.
	if r := request(t, run, "/workspaces/acme", "Bearer tok-b"); r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatal("rate headers outside /repositories")
	}
	c := run.Counters()
	if c.RateLimited != 2 || c.ByStatus[429] != 2 || c.ByEndpointStatus["repository"][429] != 2 {
		t.Fatalf("counters %+v", c)
	}

	// Raising the limit at run time starts every window afresh.
	if err := run.SetRateLimit(Rate{N: 100, Per: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if r := request(t, run, repo, "Bearer tok-a"); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "100" {
		t.Fatalf("after SetRateLimit: %d %v", r.status, r.header)
	}
	if err := run.SetRateLimit(Rate{}); err != nil {
		t.Fatal(err)
	}
	if r := request(t, run, repo, "Bearer tok-a"); r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatal("rate headers with no limit")
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Rate
		str  string
	}{
		{"1000/h", Rate{1000, time.Hour}, "1000/h"},
		{"50/10s", Rate{50, 10 * time.Second}, "50/10s"},
		{"5/m", Rate{5, time.Minute}, "5/m"},
		{"3/250ms", Rate{3, 250 * time.Millisecond}, "3/250ms"},
		{"off", Rate{}, "off"},
		{"", Rate{}, "off"},
	} {
		got, err := ParseRate(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Fatalf("ParseRate(%q) = %v (%q), %v; want %v (%q)", tc.in, got, got.String(), err, tc.want, tc.str)
		}
	}
	for _, bad := range []string{"1000", "x/h", "0/h", "10/0s", "10/d", "-1/h"} {
		if _, err := ParseRate(bad); err == nil {
			t.Fatalf("ParseRate(%q) accepted", bad)
		}
	}
}
