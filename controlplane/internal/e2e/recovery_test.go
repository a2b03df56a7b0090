package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// eachDatabase runs fn on a fresh SQLite database and, when
// IDP_TEST_POSTGRES_DSN is set, on a PostgreSQL schema of its own; fn gets
// the control plane's --db.
func eachDatabase(t *testing.T, fn func(t *testing.T, newDB func() string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func() string { return "sqlite://" + filepath.Join(t.TempDir(), "idp.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("IDP_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("set IDP_TEST_POSTGRES_DSN=postgres://... to run on PostgreSQL")
		}
		fn(t, func() string { return postgresSchema(t, dsn) })
	})
}

// postgresSchema creates a schema dropped when the test ends and returns
// dsn pointed at it.
func postgresSchema(t *testing.T, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "idp_e2e_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("IDP_TEST_POSTGRES_DSN is set but PostgreSQL is not usable: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// startMock starts the mock Bitbucket with the journey's workspace and
// more arguments; it returns the API URL and host.
func startMock(t *testing.T, args ...string) (apiURL, host string) {
	t.Helper()
	mock := start(t, "mock-bitbucket", nil, append([]string{"--listen", "127.0.0.1:0", "--workspace", workspace,
		"--repos", itoa(repoCount), "--prs-per-repo", "6", "--commits-per-repo", "8", "--token", bitbucketTK, "--log-format", "json"}, args...)...)
	apiURL = mock.waitOutput(regexp.MustCompile(`mock Bitbucket Cloud API: (\S+)`), 30*time.Second)
	return apiURL, strings.TrimSuffix(strings.TrimPrefix(apiURL, "http://"), "/2.0")
}

// startControlPlane serves db on listen and returns the process and its
// address.
func startControlPlane(t *testing.T, db, listen string, env ...string) (*process, string) {
	t.Helper()
	cp := start(t, "controlplane", env, "serve", "--db", db, "--listen", listen, "--http-listen", "127.0.0.1:0", "--poll-hold", "1s",
		"--renew-interval", "15s", "--log-level", "debug", "--log-format", "json")
	return cp, cp.waitOutput(regexp.MustCompile(`"addr":"([^"]+)"[^\n]*control plane listening`), 60*time.Second)
}

// startDelegate starts a delegate named name and waits for its
// registration.
func startDelegate(t *testing.T, cpAddr, token, mockHost, name string) *process {
	t.Helper()
	d := start(t, "delegate", []string{"BITBUCKET_TOKEN=" + bitbucketTK},
		"--control-plane", cpAddr, "--tls=false", "--account", "e2e", "--token", token,
		"--allowed-api-hosts", mockHost, "--name", name, "--log-level", "debug", "--log-format", "json")
	d.waitOutput(regexp.MustCompile(`registered with the control plane`), 30*time.Second)
	return d
}

// createIntegration creates the connector and the integration (which
// queues the first sync).
func createIntegration(t *testing.T, c cli, mockURL string) {
	t.Helper()
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", mockURL)
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
}

// lastRun returns the integration's newest run as idpctl prints it.
func lastRun(t *testing.T, c cli) map[string]any {
	t.Helper()
	var list map[string]any
	c.json(&list, "runs", integration)
	runs := items(t, list)
	if len(runs) == 0 {
		t.Fatal("the integration has no runs")
	}
	return runs[0]
}

// waitRunEnd polls until the newest run ends and returns it.
func waitRunEnd(t *testing.T, c cli, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		run := lastRun(t, c)
		if s := run["status"]; s != "SYNC_STATUS_QUEUED" && s != "SYNC_STATUS_RUNNING" {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not end within %s: %v", timeout, run)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stored is what a control plane stored of one integration's sync.
type stored struct {
	Repositories []store.Repository
	PullRequests map[string][]record.PullRequest
	Commits      map[string][]record.Commit
	Cursors      []record.Cursor
	Run          tasks.SyncRun
}

// readStored reads the stored state of the integration from db.
func readStored(t *testing.T, db string) stored {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, err := s.GetIntegration(ctx, "e2e", integration)
	if err != nil {
		t.Fatal(err)
	}
	out := stored{PullRequests: map[string][]record.PullRequest{}, Commits: map[string][]record.Commit{}}
	for p := (store.Page{Size: store.MaxPageSize}); ; {
		page, next, err := s.ListRepositories(ctx, in.ID, p)
		if err != nil {
			t.Fatal(err)
		}
		out.Repositories = append(out.Repositories, page...)
		if next == "" {
			break
		}
		p.Token = next
	}
	for _, r := range out.Repositories {
		if out.PullRequests[r.UUID], err = s.ListPullRequests(ctx, in.ID, r.UUID); err != nil {
			t.Fatal(err)
		}
		if out.Commits[r.UUID], err = s.ListCommits(ctx, in.ID, r.UUID); err != nil {
			t.Fatal(err)
		}
	}
	if out.Cursors, err = s.ListCursors(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	run, ok, err := s.LastSyncRun(ctx, "e2e", in.ID)
	if err != nil || !ok {
		t.Fatalf("last run: %v, %v", ok, err)
	}
	out.Run = run
	return out
}

// sameRecords compares what two control planes stored of the same
// workspace, served by two mocks of the same seed (wantHost and gotHost),
// leaving out what differs by installation (ids, times, the mock's
// address).
func sameRecords(t *testing.T, want, got stored, wantHost, gotHost string) {
	t.Helper()
	records := func(s stored, host string) any {
		repos := slices.Clone(s.Repositories)
		for i := range repos {
			repos[i].IntegrationID, repos[i].FirstSeenAt, repos[i].UpdatedAt, repos[i].LastSeenTaskID = "", time.Time{}, time.Time{}, ""
		}
		// A confirmation is dated by its run's plan, each run's own: it
		// must be there, whatever its time.
		cursors := slices.Clone(s.Cursors)
		for i := range cursors {
			if cursors[i].PullRequestsConfirmedAt.IsZero() {
				t.Errorf("cursor of %s has no pull request confirmation", cursors[i].RepositoryUUID)
			}
			cursors[i].PullRequestsConfirmedAt = time.Time{}
		}
		b, err := json.Marshal(map[string]any{"repositories": repos, "pull_requests": s.PullRequests, "commits": s.Commits, "cursors": cursors})
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(bytes.ReplaceAll(b, []byte(host), []byte("MOCK")), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if len(got.Repositories) != repoCount {
		t.Errorf("%d repositories stored, want %d", len(got.Repositories), repoCount)
	}
	if diff := cmp.Diff(records(want, wantHost), records(got, gotHost)); diff != "" {
		t.Errorf("records (-clean +recovered):\n%s", diff)
	}
	w, g := want.Run.Progress, got.Run.Progress
	// A resumed run asks Bitbucket again for what the killed attempt had
	// not stored, so it may make more requests; every other counter is
	// the clean run's.
	if g.Requests < w.Requests {
		t.Errorf("recovered run made %d requests, fewer than the clean run's %d", g.Requests, w.Requests)
	}
	g.Requests = w.Requests
	// How each token fared is reported per attempt: the same tokens, in
	// the same state, but the resumed attempt's own request counts.
	for i := range min(len(g.Tokens), len(w.Tokens)) {
		g.Tokens[i].Requests, g.Tokens[i].RateLimited = w.Tokens[i].Requests, w.Tokens[i].RateLimited
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("run counters (-clean +recovered):\n%s", diff)
	}
	if got.Run.Status != tasks.RunSuccess || want.Run.Status != tasks.RunSuccess {
		t.Errorf("runs ended %s (clean) and %s (recovered)", want.Run.Status, got.Run.Status)
	}
}

// TestDelegateKilledMidSyncResumesAtOnce kills a delegate with SIGKILL
// after a lease renewal stored a checkpoint, and starts it again
// under the same name at once: the control plane hands the running task
// back to the new process (no wait for the two-minute lease), which
// resumes from the checkpoint and finishes the run within seconds, with
// the same records and run counters as a clean run of the same workspace.
func TestDelegateKilledMidSyncResumesAtOnce(t *testing.T) {
	eachDatabase(t, func(t *testing.T, newDB func() string) {
		// The clean run reads a mock of the same seed (the same data) at
		// full speed; the crash run's mock is slow enough that the sync
		// outlives the first lease renewal (15 s), which stores a checkpoint.
		cleanURL, cleanHost := startMock(t)
		mockURL, mockHost := startMock(t, "--latency", "1s")

		cleanDB := newDB()
		creds := bootstrap(t, cleanDB)
		cp, addr := startControlPlane(t, cleanDB, "127.0.0.1:0")
		startDelegate(t, addr, creds.DelegateToken, cleanHost, "clean")
		c := cli{t: t, server: addr, apiKey: creds.APIKey}
		createIntegration(t, c, cleanURL)
		if run := waitRunEnd(t, c, 3*time.Minute); run["status"] != "SYNC_STATUS_SUCCESS" {
			t.Fatalf("clean run: %v", run)
		}
		if err := cp.stop(); err != nil {
			t.Fatal(err)
		}

		db := newDB()
		creds = bootstrap(t, db)
		cp, addr = startControlPlane(t, db, "127.0.0.1:0")
		d := startDelegate(t, addr, creds.DelegateToken, mockHost, "crashy")
		c = cli{t: t, server: addr, apiKey: creds.APIKey}
		createIntegration(t, c, mockURL)
		started := time.Now()
		// Kill it once a record batch is stored and a renewal after it has
		// stored the checkpoint that covers it.
		waitCalls(t, cp, "UploadRecords", 1)
		waitCalls(t, cp, "RenewLease", okCalls(cp, "/idp.delegate.v1.DelegateService/RenewLease")+1)
		if run := lastRun(t, c); run["status"] != "SYNC_STATUS_RUNNING" {
			t.Fatalf("the sync ended before the delegate could be killed (make the mock slower): %v", run)
		}
		if err := d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-d.done
		killed := time.Now()
		again := startDelegate(t, addr, creds.DelegateToken, mockHost, "crashy")
		cp.waitOutput(regexp.MustCompile(`"attempt":2[,}][^\n]*"message":"task leased"`), 10*time.Second)
		resumed := time.Since(killed)
		// The new process got the checkpoint the renewal stored, and goes
		// on after the batches the killed one had uploaded.
		next := again.waitOutput(regexp.MustCompile(`"next_sequence":(\d+),"resumed":true[^\n]*"message":"task started"`), 10*time.Second)
		if next == "1" {
			t.Errorf("the resumed attempt starts at batch 1: nothing of the killed attempt was kept")
		}
		run := waitRunEnd(t, c, 3*time.Minute)
		took := time.Since(killed)
		fmt.Printf("e2e recovery (%s): delegate killed mid-sync %.1fs into the run and restarted; task leased again %.2fs after the kill, resumed at batch %s; run ended %s %.1fs after the kill (lease 2m0s; mock latency 1s)\n",
			filepath.Base(t.Name()), killed.Sub(started).Seconds(), resumed.Seconds(), next, run["status"], took.Seconds())
		if run["status"] != "SYNC_STATUS_SUCCESS" || run["attempt"] != float64(2) {
			t.Fatalf("recovered run: %v; want SUCCESS at attempt 2", run)
		}
		// The restarted delegate took the task back at once (the wait above
		// allows 10 s); what was left took the slow mock well under a
		// minute, and waiting for the lease alone would take two.
		if took > time.Minute {
			t.Errorf("the run ended %s after the kill; the restarted delegate should resume at once, not after the lease", took)
		}
		cp.waitOutput(regexp.MustCompile(`lease reclaimed; task queued for it at once`), time.Second)
		if err := cp.stop(); err != nil {
			t.Fatal(err)
		}
		sameRecords(t, readStored(t, cleanDB), readStored(t, db), cleanHost, mockHost)
	})
}

// waitCalls waits until the control plane has logged n successful calls
// of the delegate method.
func waitCalls(t *testing.T, cp *process, method string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); okCalls(cp, "/idp.delegate.v1.DelegateService/"+method) < n; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d successful %s calls within a minute, want %d", okCalls(cp, "/idp.delegate.v1.DelegateService/"+method), method, n)
		}
	}
}

// TestControlPlaneKilledAfterCompletionStillAutoImports stops the control
// plane right after the first sync's end is committed and before its
// follow-up runs (IDP_TEST_EXIT_BEFORE_FOLLOW_UP), the window in which a
// kill -9 used to lose the auto-import; after a restart on the same
// database the sync's new repositories are imported.
func TestControlPlaneKilledAfterCompletionStillAutoImports(t *testing.T) {
	eachDatabase(t, func(t *testing.T, newDB func() string) {
		mockURL, mockHost := startMock(t)
		db := newDB()
		creds := bootstrap(t, db)
		cp, addr := startControlPlane(t, db, "127.0.0.1:0", "IDP_TEST_EXIT_BEFORE_FOLLOW_UP=1")
		c := cli{t: t, server: addr, apiKey: creds.APIKey}
		createIntegration(t, c, mockURL)
		c.ok("auto-import", integration, "on")
		startDelegate(t, addr, creds.DelegateToken, mockHost, "e2e-delegate")
		select {
		case <-cp.done:
		case <-time.After(2 * time.Minute):
			t.Fatal("the control plane did not stop after the sync ended")
		}
		if code := cp.cmd.ProcessState.ExitCode(); code != 75 {
			t.Fatalf("control plane exit code %d, want 75 (the crash test exit)", code)
		}
		before := readImported(t, db)
		if before.run.Status != tasks.RunSuccess || before.imported != 0 {
			t.Fatalf("after the crash: run %s, %d imported; want SUCCESS and nothing imported yet", before.run.Status, before.imported)
		}
		restarted := time.Now()
		cp, _ = startControlPlane(t, db, addr)
		for {
			var list map[string]any
			c.json(&list, "imported", "list", integration, "--all-pages")
			n := len(items(t, list))
			if n == repoCount {
				break
			}
			if time.Since(restarted) > time.Minute {
				t.Fatalf("%d of %d repositories imported a minute after the restart", n, repoCount)
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Printf("e2e recovery (%s): control plane stopped before the follow-up; %d repositories auto-imported %.1fs after the restart\n",
			filepath.Base(t.Name()), repoCount, time.Since(restarted).Seconds())
		var events map[string]any
		c.json(&events, "events", integration, "--all-pages")
		if !has(items(t, events), "type", "EVENT_TYPE_AUTO_IMPORTED") {
			t.Error("no AUTO_IMPORTED event")
		}
		// The delegate never got an answer to its completion: it sends it
		// again to the restarted control plane, which accepts the repeat.
		waitCalls(t, cp, "CompleteTask", 1)
	})
}

type importState struct {
	run      tasks.SyncRun
	imported int
}

// readImported reads the last run and how many repositories are imported.
func readImported(t *testing.T, db string) importState {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, err := s.GetIntegration(ctx, "e2e", integration)
	if err != nil {
		t.Fatal(err)
	}
	run, _, err := s.LastSyncRun(ctx, "e2e", in.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, _, total, err := s.ListImported(ctx, "e2e", in.ID, "", store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return importState{run: run, imported: int(total)}
}
