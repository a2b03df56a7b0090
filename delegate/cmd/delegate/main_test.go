package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/google/go-cmp/cmp"
)

// binary is the delegate built once for the tests that run it as a
// process: the only way to test exit codes, signals and a hard kill.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "delegate-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "delegate")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the delegate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a delegate process under test.
type process struct {
	cmd    *exec.Cmd
	stderr *testenv.SyncWriter
	done   chan struct{}
	err    error
}

func start(t testing.TB, env []string, args ...string) *process {
	t.Helper()
	p := &process{stderr: &testenv.SyncWriter{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("delegate output:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *process) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("delegate did not exit within %v", d)
	}
	return p.cmd.ProcessState.ExitCode()
}

// delegateEnv configures a delegate for the fake control plane through
// environment variables only, as a container would.
func delegateEnv(cp *fakecontrol.Server, extra ...string) []string {
	return append([]string{
		"IDP_CONTROL_PLANE=" + cp.Addr(),
		"IDP_ACCOUNT=" + testenv.Account,
		"IDP_DELEGATE_TOKEN=" + testenv.DelegateToken,
		"IDP_TLS=false",
		"IDP_DELEGATE_NAME=proc",
		"IDP_LOG_LEVEL=debug",
		"IDP_LOG_FORMAT=json",
		testenv.TokenEnv + "=" + testenv.BitbucketToken,
		"HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy=", "PROXY_HOST=",
	}, extra...)
}

// allowAPI lets the delegate call the mock at apiURL: the operator lists
// the mock's host:port, as the demo does.
func allowAPI(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		panic(err)
	}
	return "IDP_ALLOWED_API_HOSTS=" + u.Host
}

func TestInvalidConfigurationExitsTwoNamingTheSetting(t *testing.T) {
	t.Parallel()
	base := []string{"--control-plane", "cp.example:443", "--account", "a1", "--token", "t0k3n"}
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"missing control plane", []string{"--account", "a", "--token", "t"}, nil, "--control-plane (IDP_CONTROL_PLANE) is required"},
		{"bad address", []string{"--control-plane", "nohostport", "--account", "a", "--token", "t"}, nil, "--control-plane (IDP_CONTROL_PLANE) want HOST:PORT"},
		{"missing token", []string{"--control-plane", "cp:1", "--account", "a"}, nil, "--token (IDP_DELEGATE_TOKEN) is required"},
		{"both tokens", append(base, "--token-file", "/etc/hostname"), nil, "--token (IDP_DELEGATE_TOKEN) and --token-file are both set"},
		{"unreadable token file", []string{"--control-plane", "cp:1", "--account", "a", "--token-file", "/nope/token"}, nil, "--token-file (IDP_DELEGATE_TOKEN_FILE) cannot be read"},
		{"bad concurrency from env", base, []string{"IDP_CONCURRENCY=many"}, "IDP_CONCURRENCY (for --concurrency)"},
		{"zero concurrency", append(base, "--concurrency", "0"), nil, "--concurrency (IDP_CONCURRENCY) must be between 1 and 64"},
		{"bad budget", append(base, "--request-budget", "lots"), nil, "--request-budget (IDP_REQUEST_BUDGET) want N/h"},
		{"bad tag", append(base, "--tags", "Prod Env"), nil, "--tags (IDP_DELEGATE_TAGS) tag \"Prod Env\""},
		{"ca with plaintext", append(base, "--tls=false", "--ca-file", "/etc/hostname"), nil, "--ca-file (IDP_CA_FILE) has no effect with --tls=false"},
		{"retired insecure flag", append(base, "--insecure"), nil, "--insecure (IDP_INSECURE) no longer exists: for plaintext gRPC to a local development control plane use --tls=false"},
		{"retired insecure variable", base, []string{"IDP_INSECURE=true"}, "--insecure (IDP_INSECURE) no longer exists"},
		{"bad log level", append(base, "--log-level", "loud"), nil, "log level \"loud\""},
		{"proxy port without host", base, []string{"PROXY_PORT=3128"}, "PROXY_PORT is set but PROXY_HOST is not"},
		{"socks proxy", base, []string{"HTTPS_PROXY=socks5://p:1080"}, "HTTPS_PROXY: scheme \"socks5\" is not supported"},
		{"bad api host", append(base, "--allowed-api-hosts", "https://api.bitbucket.org"), nil, "--allowed-api-hosts (IDP_ALLOWED_API_HOSTS) want host[:port]"},
		{"bad token ref pattern", base, []string{"IDP_ALLOWED_TOKEN_REFS=BITBUCKET_*"}, "--allowed-token-refs (IDP_ALLOWED_TOKEN_REFS) pattern \"BITBUCKET_*\" must start with env: or file:"},
		{"unknown flag", []string{"--frobnicate"}, nil, "unknown flag: --frobnicate"},
		{"raw reserved characters in a proxy password", base, []string{"HTTPS_PROXY=http://alice:s3[cr]et@proxy.example:3128"},
			`HTTPS_PROXY: not a proxy URL: "[REDACTED]@proxy.example:3128" (percent-encode`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binary, tt.args...)
			cmd.Env = append(os.Environ(), "HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy=", "PROXY_HOST=", "PROXY_PORT=")
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Fatalf("exit code %d (%v), want 2; output:\n%s", code, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output %q does not contain %q", out, tt.want)
			}
			if strings.Contains(string(out), "s3[cr]et") {
				t.Errorf("the output shows the proxy password:\n%s", out)
			}
			if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n > 0 {
				t.Errorf("want one line, got %d:\n%s", n+1, out)
			}
		})
	}
}

func startMock(t testing.TB, cfg bitbucketmock.Config) *bitbucketmock.Running {
	t.Helper()
	cfg.Tokens = []bitbucketmock.Token{{Name: "delegate", Value: testenv.BitbucketToken}}
	return bitbucketmock.Start(t, cfg)
}

func control(t testing.TB, lease time.Duration) *fakecontrol.Server {
	return fakecontrol.New(t, fakecontrol.Options{Token: testenv.DelegateToken, Account: testenv.Account, LeaseDuration: lease})
}

// reference runs a clean in-process sync of the same workspace and returns
// the records stored and the Bitbucket requests it took.
func reference(t *testing.T, cfg bitbucketmock.Config) (map[string]*pb.Record, int) {
	t.Helper()
	cfg.Latency = 0
	m := startMock(t, cfg)
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{})
	_, done := testenv.Run(t, cp, testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}), 60*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("reference sync: %v %s", done.GetOutcome(), done.GetError())
	}
	return cp.Records(), m.Counters().Requests
}

func checkpointOf(t fakecontrol.Task) map[string]any {
	var cp map[string]any
	_ = json.Unmarshal(t.Checkpoint, &cp)
	return cp
}

func TestKilledMidSyncLosesNothingAndDuplicatesNothing(t *testing.T) {
	t.Parallel()
	cfg := bitbucketmock.Config{Seed: 99, Repos: 220, PRsPerRepo: 4, CommitsPerRepo: 6, Latency: 15 * time.Millisecond}
	want, cleanRequests := reference(t, cfg)
	m := startMock(t, cfg)
	cp := control(t, 2*time.Second)
	id := cp.Enqueue(testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}))

	first := start(t, delegateEnv(cp, allowAPI(m.URL)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Kill it once a checkpoint records stored progress, mid-sync.
	if err := cp.WaitFor(ctx, id, func(tk fakecontrol.Task) bool {
		c := checkpointOf(tk)
		return c["after"] != nil || c["done"] != nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 5*time.Second)
	killed := cp.Task(id)
	if killed.Done {
		t.Fatal("the sync finished before the kill; make the workspace larger")
	}
	batchesBefore := len(killed.Batches)
	requestsBefore := m.Counters().Requests

	second := start(t, delegateEnv(cp, allowAPI(m.URL), "IDP_DELEGATE_NAME=proc-2"))
	done, err := cp.WaitDone(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("resumed sync: %v %s", done.GetOutcome(), done.GetError())
	}
	final := cp.Task(id)
	if final.Attempt < 2 {
		t.Fatalf("task ran in %d attempt(s); the kill should have forced a second", final.Attempt)
	}
	got := cp.Records()
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Errorf("records after kill and resume differ from a clean run (-clean +resumed):\n%s", diff)
	}
	// Batches are numbered consecutively across both attempts and each was
	// applied once: the resumed attempt continued the sequence.
	var seqs []int64
	for s := range final.Batches {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("batch sequences not consecutive: %v", seqs)
		}
	}
	// The resume skipped what the checkpoint says is stored: the second
	// attempt needed fewer Bitbucket requests than a clean run.
	resumed := m.Counters().Requests - requestsBefore
	if resumed >= cleanRequests {
		t.Errorf("the resumed attempt made %d Bitbucket requests, a clean run %d; it should skip stored work", resumed, cleanRequests)
	}
	t.Logf("attempts %d, batches before kill %d, after %d, requests before kill %d, resumed %d, clean run %d",
		final.Attempt, batchesBefore, len(final.Batches), requestsBefore, resumed, cleanRequests)
	for _, p := range []*process{first, second} {
		assertNoSecrets(t, p.stderr.String())
	}
}

func keys(recs map[string]*pb.Record) []string {
	out := make([]string, 0, len(recs))
	for k := range recs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func assertNoSecrets(t *testing.T, logs string, extra ...string) {
	t.Helper()
	if logs == "" {
		t.Fatal("no log output captured")
	}
	for _, s := range append([]string{testenv.DelegateToken, testenv.BitbucketToken}, extra...) {
		if strings.Contains(logs, s) {
			t.Errorf("a secret (%s...) appears in the logs", s[:4])
		}
	}
}

func TestSIGTERMReleasesTheTaskAndExitsZero(t *testing.T) {
	t.Parallel()
	cfg := bitbucketmock.Config{Seed: 5, Repos: 600, PRsPerRepo: 3, CommitsPerRepo: 3, Latency: 50 * time.Millisecond}
	m := startMock(t, cfg)
	cp := control(t, 30*time.Second)
	id := cp.Enqueue(testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{}))
	p := start(t, delegateEnv(cp, allowAPI(m.URL), "IDP_SHUTDOWN_GRACE=3s"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cp.WaitFor(ctx, id, func(tk fakecontrol.Task) bool { return len(tk.Batches) > 0 }); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("shutdown took %v with a 3s grace period", took)
	}
	tk := cp.Task(id)
	if len(tk.Completions) == 0 || tk.Completions[0].GetOutcome() != pb.Outcome_OUTCOME_RELEASED {
		t.Fatalf("want the task released, got completions %v", tk.Completions)
	}
	if len(tk.Completions[0].GetCheckpoint()) == 0 {
		t.Error("the release carries no checkpoint")
	}
	logs := p.stderr.String()
	for _, want := range []string{"shutting down", "task finished", `"outcome":"released"`, "delegate stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	// Another delegate picks it up where the release left it.
	next := start(t, delegateEnv(cp, allowAPI(m.URL), "IDP_DELEGATE_NAME=proc-2"))
	if err := cp.WaitFor(ctx, id, func(tk fakecontrol.Task) bool { return tk.Attempt >= 2 && len(tk.Renewals) > 0 }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(next.stderr.String(), `"resumed":true`) {
		if time.Now().After(deadline) {
			t.Fatal("the second delegate did not resume from the released checkpoint")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The start-up log names the proxy of every target with the password
// written [REDACTED], whichever way the proxy was given and whatever
// characters the password has: never the password, never a
// percent-encoded %5BREDACTED%5D.
func TestStartUpLogRedactsProxyPasswords(t *testing.T) {
	t.Parallel()
	const host = "proxy.invalid:3128"
	for _, tc := range []struct {
		name     string
		env      []string
		password string
	}{
		{"HTTPS_PROXY", []string{"HTTPS_PROXY=http://alice:s3cretpw@" + host}, "s3cretpw"},
		{"encoded reserved characters", []string{"HTTPS_PROXY=http://alice:p%40ss%5Bw%5D%23rd@" + host}, "p@ss[w]#rd"},
		{"PROXY_HOST", []string{"PROXY_HOST=proxy.invalid", "PROXY_PORT=3128", "PROXY_USER=alice", "PROXY_PASSWORD=p@ss [w]/rd:x"}, "p@ss [w]/rd:x"},
		{"HTTP_PROXY and HTTPS_PROXY", []string{"HTTP_PROXY=http://bob:h77pw0rd@" + host, "HTTPS_PROXY=https://alice:s3cretpw@" + host}, "s3cretpw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy=", "PROXY_HOST=", "PROXY_PORT=",
				"NO_PROXY=", "no_proxy="}, tc.env...)
			p := start(t, env, "--control-plane", "cp.invalid:443", "--account", "a1", "--token", "t0k3n-value",
				"--log-format", "json", "--allowed-api-hosts", "api.bitbucket.org,plain.example:80")
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(p.stderr.String(), "control plane unreachable") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			logs := p.stderr.String()
			var startup string
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, `"delegate starting"`) {
					startup = line
				}
			}
			if !strings.Contains(startup, `"proxy_control_plane":"http`) || !strings.Contains(startup, ":[REDACTED]@proxy.invalid:3128") {
				t.Fatalf("the start-up log does not name the proxy with a redacted password:\n%s", logs)
			}
			for _, leak := range []string{tc.password, url.QueryEscape(tc.password), url.PathEscape(tc.password), "h77pw0rd", "%5BREDACTED%5D", "xxxxx"} {
				if strings.Contains(logs, leak) {
					t.Errorf("the log shows %q:\n%s", leak, logs)
				}
			}
		})
	}
}
