package agent_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
	"github.com/catalog-discovery/bitbucket/delegate/internal/agent"
	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/fakecontrol"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/testenv"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	pb "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
)

func startMock(t *testing.T, cfg bitbucketmock.Config) *bitbucketmock.Running {
	t.Helper()
	cfg.Tokens = append(cfg.Tokens, bitbucketmock.Token{Name: "delegate", Value: testenv.BitbucketToken})
	return bitbucketmock.Start(t, cfg)
}

func control(t *testing.T, lease time.Duration) *fakecontrol.Server {
	return fakecontrol.New(t, fakecontrol.Options{Token: testenv.DelegateToken, Account: testenv.Account, LeaseDuration: lease})
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func syncTask(m *bitbucketmock.Running) *pb.Task {
	return testenv.SyncTask(m.URL, m.Workspace(), nil, nil, time.Time{})
}

func TestLeaseLostStopsWorkAtOnceAndTheNextAttemptFinishes(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 1, Repos: 120, PRsPerRepo: 2, CommitsPerRepo: 2, Latency: 10 * time.Millisecond})
	cp := control(t, 0)
	logs := &testenv.SyncWriter{}
	testenv.Start(t, cp, testenv.Options{Log: logs, Upload: uploadSmall()})
	id := cp.Enqueue(syncTask(m))
	ctx := ctxFor(t, 30*time.Second)
	if err := cp.WaitFor(ctx, id, func(tk fakecontrol.Task) bool { return len(tk.Batches) > 0 }); err != nil {
		t.Fatal(err)
	}
	cp.LoseLease(id)
	done, err := cp.WaitDone(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tk := cp.Task(id)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED || tk.Attempt != 2 {
		t.Fatalf("outcome %v after %d attempts: %s", done.GetOutcome(), tk.Attempt, done.GetError())
	}
	for _, c := range tk.Completions {
		if c.GetLeaseToken() != tk.Lease && c.GetLeaseToken() != "lease-"+id+"-2" {
			t.Errorf("completion with a lost lease: %v", c)
		}
	}
	if !strings.Contains(logs.String(), "lease lost") {
		t.Error("no log line says the lease was lost")
	}
	if got := cp.Count()["repository"]; got != 120 {
		t.Errorf("%d repositories stored, want 120", got)
	}
}

// uploadSmall makes batches small, so that a small workspace spans many.
func uploadSmall() upload.Options { return upload.Options{MaxRecords: 50} }

func TestCancellationStopsTheTaskAsCancelled(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Seed: 2, Repos: 200, PRsPerRepo: 2, CommitsPerRepo: 2, Latency: 20 * time.Millisecond})
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{})
	id := cp.Enqueue(syncTask(m))
	ctx := ctxFor(t, 30*time.Second)
	if err := cp.WaitFor(ctx, id, func(tk fakecontrol.Task) bool { return tk.Attempt == 1 }); err != nil {
		t.Fatal(err)
	}
	cp.RequestCancel(id)
	start := time.Now()
	done, err := cp.WaitDone(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if done.GetOutcome() != pb.Outcome_OUTCOME_CANCELLED {
		t.Fatalf("outcome %v: %s", done.GetOutcome(), done.GetError())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cancellation took %v; it should act on the next renewal", took)
	}
}

func TestControlPlaneOutagesAreRiddenOut(t *testing.T) {
	t.Parallel()
	cfg := bitbucketmock.Config{Seed: 3, Repos: 40, PRsPerRepo: 3, CommitsPerRepo: 3, Latency: 5 * time.Millisecond}
	m := startMock(t, cfg)
	cp := control(t, 0)
	cp.Stop() // down before the delegate starts
	logs := &testenv.SyncWriter{}
	testenv.Start(t, cp, testenv.Options{Log: logs, Upload: uploadSmall()})
	time.Sleep(300 * time.Millisecond)
	cp.Restart()
	cp.FailNext("UploadRecords", codes.Unavailable, codes.Unavailable, codes.DeadlineExceeded)
	cp.FailNext("CompleteTask", codes.Unavailable, codes.Unavailable)
	cp.FailNext("RenewLease", codes.Unavailable)
	id := cp.Enqueue(syncTask(m))
	ctx := ctxFor(t, 30*time.Second)

	// Drop every connection mid-sync: unacknowledged batches are resent.
	if err := cp.WaitFor(ctx, id, func(tk fakecontrol.Task) bool { return len(tk.Batches) >= 2 }); err != nil {
		t.Fatal(err)
	}
	cp.Stop()
	time.Sleep(200 * time.Millisecond)
	cp.Restart()

	done, err := cp.WaitDone(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("outcome %v: %s", done.GetOutcome(), done.GetError())
	}
	// The same records as a clean run of the same workspace, each applied
	// exactly once: batches resent across the outages were acknowledged as
	// duplicates, not written again.
	want := cleanRun(t, cfg)
	got := cp.Records()
	if diff := cmp.Diff(identities(want), identities(got)); diff != "" {
		t.Errorf("records after the outages differ from a clean run (-clean +outages):\n%s", diff)
	}
	if n := cp.Count(); n["repository"] != 40 || n["pull_request"] == 0 || n["commit"] == 0 {
		t.Errorf("stored %v, want 40 repositories with their pull requests and commits", n)
	}
	for id, n := range cp.Applied() {
		if n != 1 {
			t.Errorf("%s applied %d times, want once", id, n)
		}
	}
	if cp.Calls("CompleteTask") < 3 {
		t.Errorf("CompleteTask called %d times; the two failures should have been retried", cp.Calls("CompleteTask"))
	}
	if !strings.Contains(logs.String(), "control plane unreachable or failing; retrying") {
		t.Error("no log line says the control plane is unreachable")
	}
}

// cleanRun syncs the workspace cfg describes once, without faults, and
// returns what the control plane stored.
func cleanRun(t *testing.T, cfg bitbucketmock.Config) map[string]*pb.Record {
	t.Helper()
	cfg.Latency = 0
	m := startMock(t, cfg)
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{})
	_, done := testenv.Run(t, cp, syncTask(m), 30*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED {
		t.Fatalf("clean run: %v %s", done.GetOutcome(), done.GetError())
	}
	return cp.Records()
}

// identities lists the repositories, pull requests and commits stored.
func identities(recs map[string]*pb.Record) []string {
	var out []string
	for id, r := range recs {
		if r.GetRepository() != nil || r.GetPullRequest() != nil || r.GetCommit() != nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func TestForgottenDelegateRegistersAgain(t *testing.T) {
	t.Parallel()
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{})
	ctx := ctxFor(t, 10*time.Second)
	for len(cp.Registrations()) < 1 {
		if ctx.Err() != nil {
			t.Fatal("never registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cp.ForgetDelegates()
	for len(cp.Registrations()) < 2 {
		if ctx.Err() != nil {
			t.Fatal("did not register again after the control plane forgot it")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnresolvableTokenFailsTheTaskNamingTheReference(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Repos: 1})
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{})
	tk := syncTask(m)
	tk.Sync.Target.TokenRef = "env:NOT_SET_ANYWHERE"
	_, done := testenv.Run(t, cp, tk, 10*time.Second)
	if done.GetOutcome() != pb.Outcome_OUTCOME_FAILED || !strings.Contains(done.GetError(), `"env:NOT_SET_ANYWHERE"`) {
		t.Errorf("got %v %q", done.GetOutcome(), done.GetError())
	}
}

// The control plane names the host and the token reference, but cannot
// make the delegate send one of its host's secrets to a host of its
// choosing: both are the delegate operator's decision.
func TestTasksCannotSendHostSecretsElsewhere(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(attacker.Close)
	host := strings.TrimPrefix(attacker.URL, "http://")

	tests := []struct {
		name     string
		policy   access.Policy
		tokenRef string
		want     string
	}{
		{"host not listed", access.Default(), "env:" + testenv.TokenEnv,
			`API host "` + host + `" is not allowed on this delegate: add it to --allowed-api-hosts (IDP_ALLOWED_API_HOSTS)`},
		{"the delegate's own token", testenv.LoopbackAccess(), "env:IDP_DELEGATE_TOKEN",
			`token reference "env:IDP_DELEGATE_TOKEN" names one of the delegate's own settings and is always refused`},
		{"a service-account token", testenv.LoopbackAccess(), "file:/var/run/secrets/kubernetes.io/serviceaccount/token",
			`token reference "file:/var/run/secrets/kubernetes.io/serviceaccount/token" is not allowed on this delegate: it matches no pattern of --allowed-token-refs (IDP_ALLOWED_TOKEN_REFS)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cp := control(t, 0)
			testenv.Start(t, cp, testenv.Options{Access: &tt.policy})
			target := &pb.BitbucketTarget{Workspace: "acme", ApiBaseUrl: attacker.URL + "/", TokenRef: tt.tokenRef}
			_, done := testenv.Run(t, cp, &pb.Task{Type: pb.TaskType_TASK_TYPE_SYNC, Sync: &pb.SyncTask{IntegrationId: "i", Target: target}}, 10*time.Second)
			if done.GetOutcome() != pb.Outcome_OUTCOME_FAILED || !strings.Contains(done.GetError(), tt.want) {
				t.Errorf("sync: got %v %q, want failed with %q", done.GetOutcome(), done.GetError(), tt.want)
			}
			_, done = testenv.Run(t, cp, &pb.Task{Type: pb.TaskType_TASK_TYPE_TEST_CONNECTION,
				TestConnection: &pb.TestConnectionTask{ConnectorId: "c", Target: target}}, 10*time.Second)
			if r := done.GetTestConnection(); r.GetOk() || !strings.Contains(r.GetMessage(), tt.want) {
				t.Errorf("test connection: got %v %v, want a verdict saying %q", done.GetOutcome(), r, tt.want)
			}
			if strings.Contains(done.GetError()+done.GetTestConnection().GetMessage(), testenv.DelegateToken) {
				t.Error("a secret's value is in the task's result")
			}
		})
	}
	t.Cleanup(func() { // after the parallel subtests
		if n := hits.Load(); n != 0 {
			t.Errorf("the refused host received %d requests", n)
		}
	})
}

func TestTestConnectionTaskReportsMissingScopes(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Repos: 2, PRsPerRepo: 1, CommitsPerRepo: 1})
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{})
	_, done := testenv.Run(t, cp, &pb.Task{Type: pb.TaskType_TASK_TYPE_TEST_CONNECTION, TestConnection: &pb.TestConnectionTask{
		ConnectorId: "c1",
		Target:      &pb.BitbucketTarget{Workspace: m.Workspace(), ApiBaseUrl: m.URL, TokenRef: "env:" + testenv.TokenEnv},
	}}, 10*time.Second)
	r := done.GetTestConnection()
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED || !r.GetOk() || len(r.GetMissingScopes()) != 0 {
		t.Errorf("got %v %v", done.GetOutcome(), r)
	}

	_, done = testenv.Run(t, cp, &pb.Task{Type: pb.TaskType_TASK_TYPE_TEST_CONNECTION, TestConnection: &pb.TestConnectionTask{
		ConnectorId: "c2",
		Target:      &pb.BitbucketTarget{Workspace: m.Workspace(), ApiBaseUrl: m.URL, TokenRef: "file:/nonexistent/token"},
	}}, 10*time.Second)
	r = done.GetTestConnection()
	if r.GetOk() || r.GetTokenValid() || !strings.Contains(r.GetMessage(), "file:/nonexistent/token") {
		t.Errorf("unresolvable reference: %v", r)
	}
}

func TestMetricsAreExported(t *testing.T) {
	t.Parallel()
	m := startMock(t, bitbucketmock.Config{Repos: 3, PRsPerRepo: 1, CommitsPerRepo: 1})
	cp := control(t, 0)
	d := testenv.Start(t, cp, testenv.Options{})
	testenv.Run(t, cp, syncTask(m), 10*time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go d.Metrics.Serve(ctxFor(t, 10*time.Second), ln, testenv.Nop())
	// The task counter moves just after the completion is acknowledged.
	var body []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `idp_delegate_tasks_total{`) {
			break
		}
	}
	for _, want := range []string{
		`idp_delegate_tasks_total{outcome="succeeded",type="sync"} 1`,
		`idp_delegate_records_uploaded_total{kind="repository"} 3`,
		`idp_delegate_bitbucket_requests_total{status="200"}`,
		`idp_delegate_bitbucket_rate_limited_total 0`,
		`idp_delegate_bitbucket_budget_remaining{credential=`,
		`idp_delegate_upload_duration_seconds_count`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// cancelOnTask stops the delegate (as SIGTERM would) the moment a task
// arrives: the task is leased, but shutdown has begun.
type cancelOnTask struct {
	agent.ControlPlane
	stop context.CancelFunc
}

func (c *cancelOnTask) AcquireTask(ctx context.Context, delegateID string, hold time.Duration) (*task.Task, error) {
	t, err := c.ControlPlane.AcquireTask(ctx, delegateID, hold)
	if t != nil {
		c.stop()
	}
	return t, err
}

func TestTaskArrivingAtShutdownIsReleasedWithItsCheckpoint(t *testing.T) {
	t.Parallel()
	cp := control(t, time.Minute) // far beyond the test: only a release frees the task
	id := cp.Enqueue(&pb.Task{Type: pb.TaskType_TASK_TYPE_SYNC, Sync: &pb.SyncTask{IntegrationId: "int-1"}})
	cp.SetCheckpoint(id, []byte(`{"v":1,"listed":7}`))
	client, err := controlplane.Dial(controlplane.DialConfig{Address: cp.Addr(), Account: testenv.Account, Token: testenv.DelegateToken, Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	started := false
	a := agent.New(&cancelOnTask{ControlPlane: client, stop: stop}, func(*task.Task, *upload.Batcher, zerolog.Logger) agent.Work {
		started = true
		return nil
	}, agent.Config{Registration: task.Registration{Name: "d", Concurrency: 1}, ShutdownGrace: 3 * time.Second, MaxBackoff: 100 * time.Millisecond})
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if started {
		t.Error("the task was started after shutdown began")
	}
	tk := cp.Task(id)
	if len(tk.Completions) != 1 {
		t.Fatalf("completions %v, want one release", tk.Completions)
	}
	c := tk.Completions[0]
	if c.GetOutcome() != pb.Outcome_OUTCOME_RELEASED || c.GetLeaseToken() != "lease-"+id+"-1" || string(c.GetCheckpoint()) != `{"v":1,"listed":7}` {
		t.Errorf("completion %v, want RELEASED of attempt 1 with the checkpoint it came with", c)
	}
	if tk.Leased {
		t.Error("the task is still leased; it would wait for the lease to expire")
	}
}

// TestTestConnectionChecksEachToken: a connector with three tokens (one
// good with the scaled limit Bitbucket states for it, one revoked, one
// that does not resolve) gets a verdict per token, in order.
func TestTestConnectionChecksEachToken(t *testing.T) {
	t.Parallel()
	m := bitbucketmock.Start(t, bitbucketmock.Config{Repos: 2, PRsPerRepo: 1, CommitsPerRepo: 1, RateLimit: bitbucketmock.Rate{N: 1000, Per: time.Hour},
		Tokens: []bitbucketmock.Token{
			{Name: "good", Value: testenv.BitbucketToken, RateLimit: bitbucketmock.Rate{N: 2500, Per: time.Hour}},
			{Name: "revoked", Value: "bbt-revoked-token"},
		}})
	revoked := true
	if _, err := m.ChangeToken("revoked", bitbucketmock.TokenChange{Revoked: &revoked}); err != nil {
		t.Fatal(err)
	}
	cp := control(t, 0)
	testenv.Start(t, cp, testenv.Options{Env: map[string]string{"BITBUCKET_REVOKED": "bbt-revoked-token"}})
	refs := []string{"env:" + testenv.TokenEnv, "env:BITBUCKET_REVOKED", "env:BITBUCKET_UNSET"}
	_, done := testenv.Run(t, cp, &pb.Task{Type: pb.TaskType_TASK_TYPE_TEST_CONNECTION, TestConnection: &pb.TestConnectionTask{
		ConnectorId: "c1",
		Target:      &pb.BitbucketTarget{Workspace: m.Workspace(), ApiBaseUrl: m.URL, TokenRef: refs[0], TokenRefs: refs},
	}}, 10*time.Second)
	r := done.GetTestConnection()
	if done.GetOutcome() != pb.Outcome_OUTCOME_SUCCEEDED || r.GetOk() || r.GetTokenValid() || len(r.GetTokens()) != 3 {
		t.Fatalf("got %v %v", done.GetOutcome(), r)
	}
	good, bad, unset := r.GetTokens()[0], r.GetTokens()[1], r.GetTokens()[2]
	if good.GetTokenRef() != refs[0] || !good.GetValid() || good.GetLimitPerHour() != 2500 ||
		strings.Join(good.GetScopes(), ",") != "project,repository,pullrequest" || len(good.GetMissingScopes()) != 0 {
		t.Errorf("good token: %v", good)
	}
	if bad.GetTokenRef() != refs[1] || bad.GetValid() || !strings.Contains(bad.GetMessage(), "401") {
		t.Errorf("revoked token: %v", bad)
	}
	if unset.GetTokenRef() != refs[2] || unset.GetValid() || !strings.Contains(unset.GetMessage(), "not set on the delegate") {
		t.Errorf("unset token: %v", unset)
	}
	if !strings.Contains(r.GetMessage(), "2 of 3 tokens fail") {
		t.Errorf("summary %q", r.GetMessage())
	}
}
