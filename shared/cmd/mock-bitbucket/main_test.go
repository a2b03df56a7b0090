package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/cli"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The tests here do not run in parallel: logging.New sets zerolog's global
// time format, which races with another command's logging.

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repos", "many"}, "--repos"},
		{[]string{"--listen", "localhost"}, "--listen"},
		{[]string{"--listen", "127.0.0.1:http"}, "--listen"},
		{[]string{"--repos", "-1"}, "--repos"},
		{[]string{"--rate-limit", "fast"}, "--rate-limit"},
		{[]string{"--faults", "418"}, "--faults"},
		{[]string{"--fault-rate", "2"}, "--fault-rate"},
		{[]string{"--latency", "-1s"}, "--latency"},
		{[]string{"--token", "abc:"}, "--token"},
		{[]string{"--nope"}, "--nope"},
		{[]string{"--tls-cert-out", "cert.pem"}, "--tls-cert-out"},
		{[]string{"--workspace", "Not A Slug"}, "workspace"},
		{[]string{"--token", "abc:repositories"}, "repositories"},
		{[]string{"--log-level", "loud"}, "log level"},
		{[]string{"serve"}, "unexpected argument"},
		{[]string{"--drop-deliveries", "1.5"}, "--drop-deliveries"},
		{[]string{"--delivery-timeout", "0s"}, "--delivery-timeout"},
		{[]string{"--delivery-retry-delay", "-1s"}, "--delivery-retry-delay"},
		{[]string{"--token", "a", "--not-owner", "token-2"}, "--not-owner"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := newCommand(io.Discard, io.Discard)
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v (exit %d), want a usage error naming %q", err, cli.ExitCode(err), tc.want)
			}
		})
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("MOCK_BITBUCKET_REPOS", "many")
	cmd := newCommand(io.Discard, io.Discard)
	cmd.SetArgs(nil)
	err := cmd.Execute()
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(err.Error(), "MOCK_BITBUCKET_REPOS") {
		t.Fatalf("err %v", err)
	}
}

func TestHelpNamesEveryFlagAndVariable(t *testing.T) {
	var out bytes.Buffer
	cmd := newCommand(io.Discard, io.Discard)
	cmd.SetArgs([]string{"--help"})
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--listen", "--tls", "--tls-cert-out", "--workspace", "--seed", "--repos", "--prs-per-repo",
		"--commits-per-repo", "--token", "--rate-limit", "--fault-rate", "--faults", "--latency", "--log-level", "--log-format",
		"--not-owner", "--drop-deliveries", "--delivery-timeout", "--delivery-retry-delay", "MOCK_BITBUCKET_DROP_DELIVERIES",
		"MOCK_BITBUCKET_LISTEN", "MOCK_BITBUCKET_TOKEN", "1000/h", "50/10s"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("--help lacks %q", want)
		}
	}
}

// start runs the command until the test ends and returns the API base URL it
// printed, and its log.
func start(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	logs := &syncBuffer{}
	cmd := newCommand(w, logs)
	cmd.SetArgs(append([]string{"--listen", "127.0.0.1:0"}, args...))
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the command ended with %v", err)
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL printed: %v; log: %s", err, logs)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return strings.TrimSpace(strings.TrimPrefix(line, "mock Bitbucket Cloud API:")), logs
}

func TestServesUntilCancelled(t *testing.T) {
	url, logs := start(t, "--repos", "3", "--token", "secret-value:repository,pullrequest", "--log-level", "debug", "--log-format", "json")
	req, _ := http.NewRequest(http.MethodGet, url+"/repositories/acme", nil)
	req.Header.Set("Authorization", "Bearer secret-value")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Size int `json:"size"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || page.Size != 3 {
		t.Fatalf("status %d, size %d, %v", resp.StatusCode, page.Size, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `"endpoint":"repositories"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	log := logs.String()
	if !strings.Contains(log, `"level":"debug"`) || !strings.Contains(log, `"credential":"token-1"`) {
		t.Fatalf("no debug request line naming the credential: %s", log)
	}
	if strings.Contains(log, "secret-value") {
		t.Fatalf("the token reached the log: %s", log)
	}
}

func TestWebhookFlags(t *testing.T) {
	url, _ := start(t, "--repos", "2", "--commits-per-repo", "3", "--token", "owner-token:repository,pullrequest,webhook",
		"--token", "member-token:repository,pullrequest,webhook", "--not-owner", "token-2", "--drop-deliveries", "1")
	hook := `{"url": "http://127.0.0.1:9/hook", "events": ["repo:push"]}`
	for token, want := range map[string]int{"owner-token": 201, "member-token": 403} {
		req, _ := http.NewRequest(http.MethodPost, url+"/workspaces/acme/hooks", strings.NewReader(hook))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s creates a hook: %d, want %d", token, resp.StatusCode, want)
		}
	}
	control := strings.TrimSuffix(url, "/2.0") + "/_mock"
	var repos []struct {
		Slug string `json:"slug"`
	}
	getJSON(t, control+"/repos", &repos)
	post(t, control+"/repos/"+repos[0].Slug+"/commits", `{"count": 1}`)
	var flushed struct {
		Attempts int `json:"attempts"`
		Dropped  int `json:"dropped"`
	}
	if err := json.Unmarshal(post(t, control+"/deliveries/flush", ""), &flushed); err != nil || flushed.Dropped != 1 || flushed.Attempts != 0 {
		t.Fatalf("--drop-deliveries 1: %+v %v", flushed, err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func post(t *testing.T, url, body string) []byte {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s %v", url, resp.StatusCode, b, err)
	}
	return b
}

func TestTLS(t *testing.T) {
	certPath := filepath.Join(t.TempDir(), "cert.pem")
	url, _ := start(t, "--tls", "--tls-cert-out", certPath, "--repos", "1")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("URL %s", url)
	}
	pemBytes, err := os.ReadFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("the certificate file holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, _ := http.NewRequest(http.MethodGet, url+"/workspaces/acme", nil)
	req.Header.Set("Authorization", "Bearer mock-token")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
