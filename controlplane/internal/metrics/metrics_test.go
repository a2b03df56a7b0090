package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/metrics"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func TestMeterCountsWhatDispatchReports(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Leased(tasks.Task{Type: tasks.Sync, Attempt: 1}, 2*time.Second)
	m.Leased(tasks.Task{Type: tasks.Sync, Attempt: 3}, 40*time.Millisecond)
	m.Leased(tasks.Task{Type: tasks.TestConnection, Attempt: 1}, time.Second)
	m.LeaseExpired(tasks.Task{Type: tasks.Sync}, true)
	m.LeaseExpired(tasks.Task{Type: tasks.Sync}, false)
	batch := []record.Record{{Repository: &record.Repository{}}, {Repository: &record.Repository{}}, {Commit: &record.Commit{}}}
	m.BatchApplied(batch, false)
	m.BatchApplied(batch, true) // a resend: not stored again, not counted again
	m.BatchRejected()
	m.RunEnded(tasks.SyncRun{Status: tasks.RunSuccess, Trigger: tasks.Created})
	m.RunEnded(tasks.SyncRun{Status: tasks.RunPartial, Trigger: tasks.Scheduled})

	want := `
# HELP idp_controlplane_ingest_batches_total Record batches received from delegates, by outcome: applied, duplicate (applied before, acknowledged again) or rejected.
# TYPE idp_controlplane_ingest_batches_total counter
idp_controlplane_ingest_batches_total{outcome="applied"} 1
idp_controlplane_ingest_batches_total{outcome="duplicate"} 1
idp_controlplane_ingest_batches_total{outcome="rejected"} 1
# HELP idp_controlplane_lease_expiries_total Leases that ran out without renewal, by task type and outcome: requeued for another delegate, or ended (attempts exhausted or cancellation requested).
# TYPE idp_controlplane_lease_expiries_total counter
idp_controlplane_lease_expiries_total{outcome="ended",type="sync"} 1
idp_controlplane_lease_expiries_total{outcome="ended",type="test_connection"} 0
idp_controlplane_lease_expiries_total{outcome="ended",type="webhook"} 0
idp_controlplane_lease_expiries_total{outcome="requeued",type="sync"} 1
idp_controlplane_lease_expiries_total{outcome="requeued",type="test_connection"} 0
idp_controlplane_lease_expiries_total{outcome="requeued",type="webhook"} 0
# HELP idp_controlplane_lease_takeovers_total Leases of a task that had been leased before (its earlier lease expired or was released), so the work resumes from its checkpoint; by task type.
# TYPE idp_controlplane_lease_takeovers_total counter
idp_controlplane_lease_takeovers_total{type="sync"} 1
idp_controlplane_lease_takeovers_total{type="test_connection"} 0
idp_controlplane_lease_takeovers_total{type="webhook"} 0
# HELP idp_controlplane_task_leases_total Tasks handed to a delegate, by task type.
# TYPE idp_controlplane_task_leases_total counter
idp_controlplane_task_leases_total{type="sync"} 2
idp_controlplane_task_leases_total{type="test_connection"} 1
idp_controlplane_task_leases_total{type="webhook"} 0
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "idp_controlplane_ingest_batches_total",
		"idp_controlplane_lease_expiries_total", "idp_controlplane_lease_takeovers_total", "idp_controlplane_task_leases_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(m.Registry, "idp_controlplane_sync_runs_total"); got != 4*len(tasks.Triggers) {
		t.Errorf("%d run series, want one per final status and trigger (%d)", got, 4*len(tasks.Triggers))
	}
	scraped := scrape(t, m)
	for _, line := range []string{
		`idp_controlplane_sync_runs_total{status="success",trigger="created"} 1`,
		`idp_controlplane_sync_runs_total{status="partial",trigger="scheduled"} 1`,
		`idp_controlplane_sync_runs_total{status="success",trigger="webhook"} 0`,
		`idp_controlplane_task_queue_wait_seconds_count{type="sync"} 2`,
		`idp_controlplane_ingest_records_total{kind="repository"} 2`,
		`idp_controlplane_ingest_records_total{kind="commit"} 1`,
		`idp_controlplane_ingest_records_total{kind="pull_request"} 0`,
	} {
		if !strings.Contains(scraped, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
}

func TestInterceptorCountsByServiceMethodAndCode(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	info := &grpc.UnaryServerInfo{FullMethod: "/idp.delegate.v1.DelegateService/AcquireTask"}
	ok := func(context.Context, any) (any, error) { return "task", nil }
	missing := func(context.Context, any) (any, error) { return nil, status.Error(codes.NotFound, "no such delegate") }
	for _, h := range []grpc.UnaryHandler{ok, ok, missing} {
		_, _ = m.UnaryInterceptor(t.Context(), nil, info, h)
	}
	scraped := scrape(t, m)
	for _, line := range []string{
		`idp_controlplane_rpc_requests_total{code="OK",method="AcquireTask",service="idp.delegate.v1.DelegateService"} 2`,
		`idp_controlplane_rpc_requests_total{code="NotFound",method="AcquireTask",service="idp.delegate.v1.DelegateService"} 1`,
		`idp_controlplane_rpc_duration_seconds_count{method="AcquireTask",service="idp.delegate.v1.DelegateService"} 3`,
	} {
		if !strings.Contains(scraped, line+"\n") {
			t.Errorf("scrape lacks %s:\n%s", line, scraped)
		}
	}
}

// A store that fails leaves its counts out of the scrape, which still
// serves everything else, and says why in the log.
func TestAFailingStoreCountIsLeftOutAndLogged(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Observe(fakeCounts{err: errors.New("database is locked")}, clock.Real{}, time.Minute)
	var logs bytes.Buffer
	scraped := scrapeWith(t, m, zerolog.New(&logs))
	if strings.Contains(scraped, "idp_controlplane_tasks{") || strings.Contains(scraped, "idp_controlplane_delegates_connected ") {
		t.Errorf("counts served although the store failed:\n%s", scraped)
	}
	if !strings.Contains(scraped, "idp_controlplane_db_connections{state=\"in_use\"} 2") {
		t.Errorf("the pool's figures are missing:\n%s", scraped)
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string { return scrapeWith(t, m, zerolog.Nop()) }

// scrapeWith serves m on a loopback port and returns one scrape.
func scrapeWith(t *testing.T, m *metrics.Metrics, log zerolog.Logger) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Serve(ctx, ln, log); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s, %v", resp.Status, err)
	}
	return string(body)
}
