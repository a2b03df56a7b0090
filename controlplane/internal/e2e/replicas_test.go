package e2e

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to read what the replicas stored

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

// replicas is the product with two control planes serving one PostgreSQL
// schema, and the mock Bitbucket.
type replicas struct {
	t       *testing.T
	dsn     string
	db      *sql.DB
	creds   credentials
	mockAPI string // host:port of the mock
	cps     map[string]*process
	addrs   map[string]string // replica name -> its gRPC address
}

// startReplicas starts the control planes named by names on a fresh
// schema and waits until each listens for the others' wake-ups.
func startReplicas(t *testing.T, mockURL string, names ...string) *replicas {
	t.Helper()
	r := &replicas{t: t, dsn: storetest.PostgresDSN(t), cps: map[string]*process{}, addrs: map[string]string{},
		mockAPI: strings.TrimSuffix(strings.TrimPrefix(mockURL, "http://"), "/2.0")}
	var err error
	if r.db, err = sql.Open("pgx", r.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.db.Close() })
	r.creds = bootstrap(t, r.dsn)
	for _, name := range names {
		cp := start(t, "controlplane", nil, "serve", "--db", r.dsn, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
			"--log-level", "debug", "--log-format", "json")
		cp.name = "controlplane " + name
		r.addrs[name] = cp.waitOutput(regexp.MustCompile(`"addr":"([^"]+)"[^\n]*control plane listening`), 60*time.Second)
		r.cps[name] = cp
	}
	for _, cp := range r.cps {
		cp.waitOutput(regexp.MustCompile(`listening for the other replicas' queued and ended tasks`), 30*time.Second)
	}
	return r
}

// cli is idpctl speaking to the named replica.
func (r *replicas) cli(name string) cli {
	return cli{t: r.t, server: r.addrs[name], apiKey: r.creds.APIKey}
}

// delegate starts a delegate named name dialling addr.
func (r *replicas) delegate(name, addr string) *process {
	r.t.Helper()
	d := start(r.t, "delegate", []string{"BITBUCKET_TOKEN=" + bitbucketTK},
		"--control-plane", addr, "--tls=false", "--account", "e2e", "--token", r.creds.DelegateToken,
		"--allowed-api-hosts", r.mockAPI, "--name", name, "--log-level", "debug", "--log-format", "json")
	d.name = "delegate " + name
	d.waitOutput(regexp.MustCompile(`registered with the control plane`), 30*time.Second)
	return d
}

// integrate creates the connector and the integration through replica
// name, which queues the first sync.
func (r *replicas) integrate(name string) {
	r.t.Helper()
	c := r.cli(name)
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN",
		"--api-url", "http://"+r.mockAPI+"/2.0")
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
}

// syncRun is a stored sync run.
type syncRun struct {
	id, status, delegate          string
	queued, started, finished     time.Time
	attempt                       int
	repos, prs, commits, requests int64
}

// runs returns the stored sync runs, oldest first.
func (r *replicas) runs() []syncRun {
	r.t.Helper()
	rows, err := r.db.Query(`SELECT id, status, delegate, queued_at, COALESCE(started_at, 0), COALESCE(finished_at, 0), attempt, repositories, pull_requests, commits,
		requests FROM sync_runs ORDER BY queued_at, id`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out []syncRun
	for rows.Next() {
		var s syncRun
		var queued, started, finished int64
		if err := rows.Scan(&s.id, &s.status, &s.delegate, &queued, &started, &finished, &s.attempt, &s.repos, &s.prs, &s.commits, &s.requests); err != nil {
			r.t.Fatal(err)
		}
		s.queued, s.started, s.finished = time.UnixMicro(queued), time.UnixMicro(started), time.UnixMicro(finished)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// waitRun waits until the newest run satisfies ok and returns it.
func (r *replicas) waitRun(what string, timeout time.Duration, ok func(syncRun) bool) syncRun {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		runs := r.runs()
		if len(runs) > 0 && ok(runs[len(runs)-1]) {
			return runs[len(runs)-1]
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no sync run %s within %s; runs: %+v", what, timeout, runs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ended(s syncRun) bool { return s.status != "QUEUED" && s.status != "RUNNING" }

// records are what the syncs stored, as comparable text: every column
// Bitbucket's data decides, none an installation decides (integration
// ids, ingestion times, task ids).
func (r *replicas) records() map[string][]string {
	r.t.Helper()
	queries := map[string]string{
		"repositories": `SELECT concat_ws('|', uuid, slug, name, full_name, workspace, project_key, project_name, description, is_private,
			language, main_branch, html_url, clone_https_url, clone_ssh_url, created_on, updated_on, size_bytes, raw, deleted_at IS NULL)
			FROM repositories`,
		"pull_requests": `SELECT concat_ws('|', repository_uuid, number, title, state, draft, author, author_uuid, source_branch,
			destination_branch, created_on, updated_on, merge_commit, closed_by, comment_count, task_count, html_url) FROM pull_requests`,
		"commits": `SELECT concat_ws('|', repository_uuid, hash, committed_at, author_raw, author_user, message, parents, html_url)
			FROM commits`,
		"cursors": `SELECT concat_ws('|', repository_uuid, commits_checked_at_updated_on, newest_commit_hash, oldest_commit_hash,
			commits_backfilled, newest_pr_updated_on, oldest_pr_updated_on, pull_requests_backfilled) FROM repository_cursors`,
	}
	out := map[string][]string{}
	for table, q := range queries {
		rows, err := r.db.Query(q)
		if err != nil {
			r.t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				r.t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		if err := rows.Err(); err != nil {
			r.t.Fatal(err)
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// balancer is a TCP load balancer in front of the replicas, as operators
// put one (a Kubernetes Service, an L4 cloud balancer): each connection
// goes to the first backend that accepts it, so a dead replica's clients
// reconnect to a live one.
type balancer struct {
	ln       net.Listener
	backends []string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func startBalancer(t *testing.T, backends ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	done := make(chan struct{})
	go func() { defer close(done); b.serve() }()
	t.Cleanup(func() {
		ln.Close()
		<-done
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
	})
	return ln.Addr().String()
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(c)
	}
}

func (b *balancer) track(c net.Conn, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if on {
		b.conns[c] = struct{}{}
	} else {
		delete(b.conns, c)
	}
}

// forward joins c to the first backend that accepts; either side closing
// closes both, as a balancer does when a backend dies.
func (b *balancer) forward(c net.Conn) {
	var up net.Conn
	for _, addr := range b.backends {
		var err error
		if up, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	b.track(c, true)
	b.track(up, true)
	defer func() { b.track(c, false); b.track(up, false) }()
	copied := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		copied <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-copied
	c.Close()
	up.Close()
	<-copied
}

// kill9 kills p at once, as a crash or the OOM killer does.
func kill9(t *testing.T, p *process) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// TestReplicasPickUpEachOthersTasksAtOnce queues syncs through replica A
// while the only delegate polls replica B, and prints how long each waited
// between queued (A's clock) and leased (B's clock). Without the wake-up
// between replicas the delegate would find each at B's next re-check, up
// to 5 s later. Then it times connection tests asked of A and run by the
// delegate on B, which A answers when B's completion wakes it. Run with -v
// to see the figures (controlplane/BENCHMARKS.md).
func TestReplicasPickUpEachOthersTasksAtOnce(t *testing.T) {
	t.Parallel()
	const syncs = 30
	mock := start(t, "mock-bitbucket", nil, "--listen", "127.0.0.1:0", "--workspace", workspace,
		"--repos", "3", "--prs-per-repo", "1", "--commits-per-repo", "1", "--token", bitbucketTK, "--log-format", "json")
	r := startReplicas(t, mock.waitOutput(regexp.MustCompile(`mock Bitbucket Cloud API: (\S+)`), 30*time.Second), "A", "B")
	r.delegate("on-b", r.addrs["B"])
	r.integrate("A")
	r.waitRun("ended", time.Minute, ended)

	a := r.cli("A")
	for range syncs {
		var run map[string]any
		a.json(&run, "sync", integration, "--wait", "--timeout", "1m")
		if run["status"] != "SYNC_STATUS_SUCCESS" {
			t.Fatalf("sync ended %v: %v", run["status"], run)
		}
	}
	runs := r.runs()[1:]
	if len(runs) != syncs {
		t.Fatalf("%d runs stored after the first, want %d", len(runs), syncs)
	}
	delays := make([]time.Duration, len(runs))
	for i, s := range runs {
		if s.delegate != "on-b" || s.started.Before(s.queued) {
			t.Fatalf("run %+v: want it leased by on-b after it was queued", s)
		}
		delays[i] = s.started.Sub(s.queued)
	}
	slices.Sort(delays)
	p50, p99 := percentile(delays, 50), percentile(delays, 99)
	t.Logf("cross-replica pickup (queued on A, leased through B) over %d syncs: p50 %v, p99 %v, max %v",
		len(delays), p50, p99, delays[len(delays)-1])
	// Far above what a wake-up takes, far below the 5 s re-check.
	if p99 >= 2*time.Second {
		t.Errorf("p99 pickup %v: tasks queued on another replica wait for the re-check", p99)
	}

	// A connection test asked of A waits there until the delegate on B
	// completes it: both ways across replicas, as A's log times the call.
	const tests = 10
	for range tests {
		var test map[string]any
		a.json(&test, "connector", "test", "bb")
		if test["status"] != "CONNECTOR_TEST_STATUS_SUCCEEDED" {
			t.Fatalf("connector test: %v", test)
		}
	}
	var calls []time.Duration
	for _, l := range r.cps["A"].logLines() {
		if l["message"] == "rpc" && l["method"] == "/idp.integration.v1.ConnectorService/TestConnector" && l["code"] == "OK" {
			calls = append(calls, time.Duration(l["duration_ms"].(float64)*float64(time.Millisecond)))
		}
	}
	if len(calls) != tests {
		t.Fatalf("%d TestConnector calls logged by A, want %d", len(calls), tests)
	}
	slices.Sort(calls)
	t.Logf("connection test through A run by the delegate on B, over %d calls: p50 %v, max %v", tests, percentile(calls, 50).Round(100*time.Microsecond),
		calls[len(calls)-1].Round(100*time.Microsecond))
	if calls[len(calls)-1] >= 2*time.Second {
		t.Errorf("a connection test took %v: A waited for its re-check to see the end", calls[len(calls)-1])
	}
}

// percentile is the nearest-rank percentile p of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}

// TestSyncSurvivesAReplicaKilledMidSync runs a sync with two replicas
// behind a TCP balancer and one delegate on each, kills the replica
// serving the delegate that runs the sync while records arrive, and checks
// the sync finishes through the other replica with exactly the records a
// clean run with one control plane stores from the same mock data.
func TestSyncSurvivesAReplicaKilledMidSync(t *testing.T) {
	t.Parallel()
	// Latency keeps the sync running long enough to be cut in the middle.
	mock := start(t, "mock-bitbucket", nil, "--listen", "127.0.0.1:0", "--workspace", workspace, "--seed", "7",
		"--repos", "40", "--prs-per-repo", "6", "--commits-per-repo", "12", "--latency", "150ms",
		"--token", bitbucketTK, "--log-format", "json")
	mockURL := mock.waitOutput(regexp.MustCompile(`mock Bitbucket Cloud API: (\S+)`), 30*time.Second)

	clean := startReplicas(t, mockURL, "alone")
	cleanDelegate := clean.delegate("clean", clean.addrs["alone"])
	clean.integrate("alone")
	want := clean.waitRun("ended", 3*time.Minute, ended)
	if want.status != "SUCCESS" || want.repos == 0 || want.prs == 0 || want.commits == 0 {
		t.Fatalf("clean run %+v, want SUCCESS with records", want)
	}
	wantRecords := clean.records()
	_ = cleanDelegate.stop()
	_ = clean.cps["alone"].stop()

	r := startReplicas(t, mockURL, "A", "B")
	// Each delegate reaches its own replica first, the other one when that
	// refuses: a balancer with health-checked backends.
	delegates := map[string]string{"d-a": "A", "d-b": "B"}
	r.delegate("d-a", startBalancer(t, r.addrs["A"], r.addrs["B"]))
	r.delegate("d-b", startBalancer(t, r.addrs["B"], r.addrs["A"]))
	r.integrate("A")
	running := r.waitRun("with records arriving", 2*time.Minute, func(s syncRun) bool {
		return s.status == "RUNNING" && s.prs+s.commits > 0
	})
	victim := delegates[running.delegate]
	if victim == "" {
		t.Fatalf("run leased by %q, want d-a or d-b", running.delegate)
	}
	kill9(t, r.cps[victim])
	killedAt := time.Now()
	t.Logf("killed replica %s while %s ran the sync (%d repositories, %d pull requests, %d commits stored)",
		victim, running.delegate, running.repos, running.prs, running.commits)

	got := r.waitRun("ended", 3*time.Minute, ended)
	runs := r.runs()
	if len(runs) != 1 {
		t.Fatalf("%d sync runs, want the one: %+v", len(runs), runs)
	}
	// Finished after the kill, by the same delegate: it carried on through
	// the surviving replica rather than leaving the task to another.
	if got.status != "SUCCESS" || !got.finished.After(killedAt) || got.delegate != running.delegate {
		t.Fatalf("run after the kill at %v: %+v, want SUCCESS after it, by %s", killedAt, got, running.delegate)
	}
	if got.repos != want.repos || got.prs != want.prs || got.commits != want.commits {
		t.Errorf("run counters repos=%d prs=%d commits=%d, clean run repos=%d prs=%d commits=%d",
			got.repos, got.prs, got.commits, want.repos, want.prs, want.commits)
	}
	t.Logf("run after the kill: %s %v later, attempt %d, delegate %s; the clean run took %v (attempt %d, %d repositories, %d pull requests, %d commits)",
		got.status, got.finished.Sub(killedAt).Round(time.Millisecond), got.attempt, got.delegate, want.finished.Sub(want.started).Round(time.Millisecond),
		want.attempt, want.repos, want.prs, want.commits)
	gotRecords := r.records()
	for _, table := range []string{"repositories", "pull_requests", "commits", "cursors"} {
		if err := sameRows(wantRecords[table], gotRecords[table]); err != nil {
			t.Errorf("%s differ from the clean run's: %v", table, err)
		}
	}
}

// sameRows compares sorted rows and names the first difference.
func sameRows(want, got []string) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d rows, clean run %d", len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Errorf("row %d is %q, clean run %q", i, got[i], want[i])
		}
	}
	if len(want) == 0 {
		return errors.New("no rows at all")
	}
	return nil
}
