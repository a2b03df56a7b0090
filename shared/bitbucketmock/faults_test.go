package bitbucketmock

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// statusSequence makes n sequential requests and records what each got.
func statusSequence(t *testing.T, run *Running, n int) []string {
	var out []string
	for range n {
		r := get(t, run, "/repositories/acme?pagelen=1")
		out = append(out, http.StatusText(r.status))
	}
	return out
}

func TestFaultsAreDeterministicPerSeed(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 42, Repos: 3, Faults: Faults{Rate: 0.3}}
	a := statusSequence(t, Start(t, cfg), 60)
	b := statusSequence(t, Start(t, cfg), 60)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, b)
	}
	cfg.Seed = 43
	if c := statusSequence(t, Start(t, cfg), 60); slices.Equal(a, c) {
		t.Fatal("another seed gave the same faults")
	}
	faulty := 0
	for _, s := range a {
		if s != "OK" {
			faulty++
		}
	}
	if faulty < 8 || faulty > 30 {
		t.Fatalf("%d of 60 requests faulted at rate 0.3", faulty)
	}
}

func TestFaultKinds(t *testing.T) {
	t.Parallel()
	run := Start(t, Config{Seed: 1, Repos: 30, Faults: Faults{Delay: 300 * time.Millisecond}})
	path := run.URL + "/repositories/acme?pagelen=30"
	fetch := func() (int, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	for _, tc := range []struct {
		kind  FaultKind
		check func(t *testing.T, status int, body []byte, err error, took time.Duration)
	}{
		{Fault500, wantStatus(500)},
		{Fault502, wantStatus(502)},
		{Fault503, wantStatus(503)},
		{FaultReset, func(t *testing.T, _ int, _ []byte, err error, _ time.Duration) {
			if err == nil {
				t.Fatal("a reset connection read cleanly")
			}
		}},
		{FaultTruncate, wantBadJSON},
		{FaultMalformed, wantBadJSON},
		{FaultTrickle, func(t *testing.T, status int, body []byte, err error, took time.Duration) {
			if err != nil || status != 200 || !json.Valid(body) || took < 250*time.Millisecond {
				t.Fatalf("trickle: %d, err %v, valid %v, took %v", status, err, json.Valid(body), took)
			}
		}},
		{FaultSlow, func(t *testing.T, status int, body []byte, err error, took time.Duration) {
			if err != nil || status != 200 || took < 300*time.Millisecond {
				t.Fatalf("slow: %d, err %v, took %v", status, err, took)
			}
		}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			// Not parallel: FailNext applies to whichever request comes next.
			if err := run.FailNext(tc.kind); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			status, body, err := fetch()
			tc.check(t, status, body, err, time.Since(start))
			if status, _, err := fetch(); err != nil || status != 200 {
				t.Fatalf("the request after the fault: %d %v", status, err)
			}
		})
	}
	c := run.Counters()
	for _, k := range AllFaultKinds {
		if c.Faults[k] != 1 {
			t.Fatalf("fault counters %v", c.Faults)
		}
	}
	// The control API is never faulted.
	if err := run.SetFaults(Faults{Rate: 1}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(run.ControlURL + "/counters")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("control API under faults: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := run.FailNext("bogus"); err == nil {
		t.Fatal("FailNext accepted an unknown kind")
	}
}

func wantStatus(want int) func(*testing.T, int, []byte, error, time.Duration) {
	return func(t *testing.T, status int, body []byte, err error, _ time.Duration) {
		if err != nil || status != want {
			t.Fatalf("status %d, err %v; want %d", status, err, want)
		}
		if want == 500 && !strings.Contains(string(body), `"type": "error"`) {
			t.Fatalf("500 body %s", body)
		}
	}
}

func wantBadJSON(t *testing.T, status int, body []byte, err error, _ time.Duration) {
	var v any
	jerr := json.Unmarshal(body, &v)
	if err != nil || status != 200 || jerr == nil {
		t.Fatalf("status %d, err %v, JSON error %v", status, err, jerr)
	}
	var syntax *json.SyntaxError
	if !errors.As(jerr, &syntax) && !errors.Is(jerr, io.ErrUnexpectedEOF) && !strings.Contains(jerr.Error(), "unexpected end") {
		t.Fatalf("unexpected JSON error %v", jerr)
	}
}

func TestParseFaultKindsAndTokens(t *testing.T) {
	t.Parallel()
	kinds, err := ParseFaultKinds("500, reset,trickle")
	if err != nil || !slices.Equal(kinds, []FaultKind{Fault500, FaultReset, FaultTrickle}) {
		t.Fatalf("%v %v", kinds, err)
	}
	if _, err := ParseFaultKinds("500,404"); err == nil {
		t.Fatal("404 accepted as a fault")
	}
	tok, err := ParseToken("abc:read:repository:bitbucket,read:pullrequest:bitbucket")
	if err != nil || tok.Value != "abc" || !slices.Equal(tok.Scopes, []string{"read:repository:bitbucket", "read:pullrequest:bitbucket"}) {
		t.Fatalf("%+v %v", tok, err)
	}
	if tok, err := ParseToken("plain"); err != nil || tok.Scopes != nil {
		t.Fatalf("%+v %v", tok, err)
	}
	for _, bad := range []string{"", ":repository", "abc:"} {
		if _, err := ParseToken(bad); err == nil {
			t.Fatalf("ParseToken(%q) accepted", bad)
		}
	}
	if _, err := New(Config{Tokens: []Token{{Value: "x", Scopes: []string{"repositories"}}}}); err == nil || !strings.Contains(err.Error(), "repositories") {
		t.Fatalf("unknown scope: %v", err)
	}
}

func TestTLSAndResetOverTLS(t *testing.T) {
	t.Parallel()
	s, err := New(Config{Seed: 1, Repos: 20})
	if err != nil {
		t.Fatal(err)
	}
	cert, certPEM, err := SelfSignedCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.ListenTLS("127.0.0.1:0", cert, certPEM)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if !strings.HasPrefix(run.URL, "https://") {
		t.Fatalf("URL %s", run.URL)
	}
	if doc := getJSON(t, run, "/repositories/acme?pagelen=20"); !strings.HasPrefix(doc["values"].([]any)[0].(map[string]any)["links"].(map[string]any)["self"].(map[string]any)["href"].(string), "https://") {
		t.Fatal("self links do not use https")
	}
	if err := run.FailNext(FaultReset); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, run.URL+"/repositories/acme?pagelen=20", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := run.Client().Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a reset over TLS read cleanly")
	}
}
