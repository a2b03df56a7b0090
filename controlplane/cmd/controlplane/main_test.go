package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// binary is the controlplane binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "controlplane-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "controlplane")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "IDP_DB=", "IDP_ACCOUNT=")
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

type bootstrapOutput struct {
	AccountID     string `json:"account_id"`
	Created       bool   `json:"created"`
	APIKey        string `json:"api_key"`
	DelegateToken string `json:"delegate_token"`
}

func bootstrap(t *testing.T, dsn string, extra ...string) bootstrapOutput {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"admin", "bootstrap", "--db", dsn, "--account", "acme", "-o", "json"}, extra...)...)
	if code != 0 {
		t.Fatalf("bootstrap exit %d: %s", code, errOut)
	}
	var b bootstrapOutput
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("bootstrap output %q: %v", out, err)
	}
	return b
}

func TestBootstrapIsSafeToRerun(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
	first := bootstrap(t, dsn)
	if !first.Created || !strings.HasPrefix(first.APIKey, "idp_ak_") || !strings.HasPrefix(first.DelegateToken, "idp_dt_") {
		t.Fatalf("first bootstrap: %+v", first)
	}
	again := bootstrap(t, dsn)
	if again.Created || again.APIKey != "" || again.DelegateToken != "" {
		t.Fatalf("re-run issued credentials without --new-credentials: %+v", again)
	}
	text, _, code := runCLI(t, "admin", "bootstrap", "--db", dsn, "--account", "acme")
	if code != 0 || !strings.Contains(text, "already exists") || !strings.Contains(text, "--new-credentials") {
		t.Fatalf("re-run text (exit %d): %s", code, text)
	}
	fresh := bootstrap(t, dsn, "--new-credentials")
	if fresh.Created || fresh.APIKey == "" || fresh.APIKey == first.APIKey || fresh.DelegateToken == first.DelegateToken {
		t.Fatalf("new credentials: %+v", fresh)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"serve", "--tls-cert", "x.pem"},
		{"serve", "--renew-interval", "2m", "--lease-duration", "2m"},
		{"admin", "bootstrap", "--db", dsn},
		{"admin", "bootstrap", "--db", dsn, "--account", "Not Valid"},
		{"admin", "api-key", "create", "--db", dsn, "--account", "acme", "--name", "ci", "--permission", "ROOT"},
		{"admin", "feature-flag", "set", "--db", dsn, "--account", "acme"},
		// Values refused once read: an --db of no known form.
		{"admin", "bootstrap", "--db", "mysql://root:hunter2@db/idp", "--account", "acme"},
		{"admin", "bootstrap", "--db", "sqlite://", "--account", "acme"},
		{"serve", "--db", "mysql://db/idp"},
	} {
		if _, errOut, code := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
}

func TestHelpNamesEveryEnvironmentVariable(t *testing.T) {
	t.Parallel()
	out, _, code := runCLI(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, env := range []string{"IDP_DB", "IDP_LISTEN", "IDP_TLS_CERT", "IDP_TLS_KEY", "IDP_LOG_LEVEL", "IDP_LOG_FORMAT",
		"IDP_GRACE_PERIOD", "IDP_LEASE_DURATION", "IDP_RENEW_INTERVAL", "IDP_POLL_HOLD", "IDP_MAX_ATTEMPTS", "IDP_SCHEDULE_INTERVAL",
		"IDP_HTTP_LISTEN", "IDP_CONSOLE_SESSION_IDLE", "IDP_CONSOLE_SESSION_MAX"} {
		if !strings.Contains(out, "[env "+env+"]") {
			t.Errorf("--help does not name %s", env)
		}
	}
}

// server is a running `controlplane serve` process.
type server struct {
	cmd     *exec.Cmd
	addr    string
	console chan string // the console's URL, once logged
	logs    *bytes.Buffer
	done    chan error
}

// consoleURL waits for the start-up line naming the console's address.
func (s *server) consoleURL(t *testing.T) string {
	t.Helper()
	select {
	case u := <-s.console:
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("no console line in the log:\n%s", s.logs)
		return ""
	}
}

func startServer(t *testing.T, dsn string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--db", dsn, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--log-format", "json", "--log-level", "debug"}, extra...)
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, console: make(chan string, 1), logs: &bytes.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			var entry struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
				URL     string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil {
				switch {
				case entry.Message == "control plane listening":
					addr <- entry.Addr
				case strings.HasPrefix(entry.Message, "console: "):
					s.console <- entry.URL
				}
			}
			s.logs.WriteString(line + "\n")
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case s.addr = <-addr:
	case err := <-s.done:
		t.Fatalf("server exited at start: %v\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start:\n%s", s.logs)
	}
	return s
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func repo(i int) *delegatev1.Record {
	return &delegatev1.Record{Kind: &delegatev1.Record_Repository{Repository: &delegatev1.Repository{
		Uuid: fmt.Sprintf("{00000000-0000-0000-0000-%012d}", i), Slug: fmt.Sprintf("r%d", i), Name: fmt.Sprintf("r%d", i)}}}
}

// TestCrashBetweenBatchesLosesNothingAcknowledged uploads batches to the
// real binary, kills it with SIGKILL, restarts it on the same SQLite file
// and checks every acknowledged batch is there and the task continues at
// the next sequence.
func TestCrashBetweenBatchesLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
	creds := bootstrap(t, dsn)
	srv := startServer(t, dsn)
	conn := dial(t, srv.addr)
	mgmt := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+creds.APIKey)
	dlg := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+creds.DelegateToken, "x-account-id", "acme")

	if _, err := integrationv1.NewConnectorServiceClient(conn).CreateConnector(mgmt, &integrationv1.CreateConnectorRequest{
		Connector: &integrationv1.Connector{Name: "bb", Url: "https://bitbucket.org/acme", TokenRef: "env:BB_TOKEN"}}); err != nil {
		t.Fatal(err)
	}
	created, err := integrationv1.NewIntegrationServiceClient(conn).CreateIntegration(mgmt, &integrationv1.CreateIntegrationRequest{
		Integration: &integrationv1.Integration{Name: "main", Connector: "bb"}})
	if err != nil {
		t.Fatal(err)
	}
	delegates := delegatev1.NewDelegateServiceClient(conn)
	reg, err := delegates.Register(dlg, &delegatev1.RegisterRequest{Name: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	acq, err := delegates.AcquireTask(dlg, &delegatev1.AcquireTaskRequest{DelegateId: reg.GetDelegateId()})
	if err != nil || acq.GetTask() == nil {
		t.Fatalf("acquire: %v, %v", acq, err)
	}
	task := acq.GetTask()
	const batches, perBatch = 5, 40
	for seq := int64(1); seq <= batches; seq++ {
		var records []*delegatev1.Record
		for i := range perBatch {
			records = append(records, repo(int(seq)*1000+i))
		}
		res, err := delegates.UploadRecords(dlg, &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
			Sequence: seq, Records: records})
		if err != nil || res.GetAcknowledgedSequence() != seq {
			t.Fatalf("batch %d: %v, %v", seq, res, err)
		}
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done

	srv = startServer(t, dsn)
	conn = dial(t, srv.addr)
	delegates = delegatev1.NewDelegateServiceClient(conn)
	run, err := integrationv1.NewIntegrationServiceClient(conn).GetSyncRun(mgmt, &integrationv1.GetSyncRunRequest{Id: created.GetFirstRun().GetId()})
	if err != nil || run.GetRun().GetRepositories() != batches*perBatch {
		t.Fatalf("after the crash the run counts %d repositories, want %d (%v)", run.GetRun().GetRepositories(), batches*perBatch, err)
	}
	// The lease survived the crash: a replay of the last batch is a
	// duplicate and skipping ahead names the next expected sequence.
	res, err := delegates.UploadRecords(dlg, &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
		Sequence: batches, Records: []*delegatev1.Record{repo(1)}})
	if err != nil || !res.GetDuplicate() || res.GetAcknowledgedSequence() != batches {
		t.Fatalf("replay after restart: %v, %v", res, err)
	}
	_, err = delegates.UploadRecords(dlg, &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
		Sequence: batches + 2, Records: []*delegatev1.Record{repo(2)}})
	if info := errorInfo(err); status.Code(err) != codes.OutOfRange || info.GetReason() != tasks.ReasonSequenceGap ||
		info.GetMetadata()["expectedSequence"] != fmt.Sprint(batches+1) {
		t.Fatalf("gap after restart: %v (%v)", err, info)
	}
	res, err = delegates.UploadRecords(dlg, &delegatev1.UploadRecordsRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
		Sequence: batches + 1, Records: []*delegatev1.Record{repo(9999)}})
	if err != nil || res.GetDuplicate() || res.GetAcknowledgedSequence() != batches+1 {
		t.Fatalf("next batch after restart: %v, %v", res, err)
	}

	// The rows themselves: every repository of every acknowledged batch
	// once, and nothing from the rejected replay or gap.
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-srv.done; err != nil {
		t.Fatalf("stop: %v\n%s", err, srv.logs)
	}
	want := map[string]int{repo(9999).GetRepository().GetUuid(): 1}
	for seq := 1; seq <= batches; seq++ {
		for i := range perBatch {
			want[repo(seq*1000+i).GetRepository().GetUuid()] = 1
		}
	}
	if got := storedRepositories(t, dsn, created.GetIntegration().GetId()); !maps.Equal(got, want) {
		t.Fatalf("stored %d repositories, want %d (each once): %v", len(got), len(want), got)
	}
}

// storedRepositories counts the stored repositories of an integration by
// uuid, reading the database file directly.
func storedRepositories(t *testing.T, dsn, integrationID string) map[string]int {
	t.Helper()
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]int{}
	page := store.Page{Size: 500}
	for {
		repos, next, err := db.ListRepositories(t.Context(), integrationID, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range repos {
			got[r.UUID]++
		}
		if next == "" {
			return got
		}
		page.Token = next
	}
}

// errorInfo returns the ErrorInfo detail of a gRPC error, or nil.
func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func TestGracefulStopEndsWaitingPolls(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "idp.db")
	creds := bootstrap(t, dsn)
	srv := startServer(t, dsn, "--poll-hold", "60s")
	conn := dial(t, srv.addr)
	if hc, err := healthgrpc.NewHealthClient(conn).Check(t.Context(), &healthgrpc.HealthCheckRequest{}); err != nil ||
		hc.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", hc, err)
	}
	dlg := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+creds.DelegateToken, "x-account-id", "acme")
	delegates := delegatev1.NewDelegateServiceClient(conn)
	reg, err := delegates.Register(dlg, &delegatev1.RegisterRequest{Name: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan error, 1)
	go func() {
		_, err := delegates.AcquireTask(dlg, &delegatev1.AcquireTaskRequest{DelegateId: reg.GetDelegateId()})
		polled <- err
	}()
	time.Sleep(300 * time.Millisecond) // the poll is waiting
	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-polled:
		if err != nil {
			t.Errorf("poll during shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting poll held up the shutdown")
	}
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, srv.logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if strings.Contains(srv.logs.String(), creds.DelegateToken) {
		t.Error("a delegate token reached the log")
	}
}
