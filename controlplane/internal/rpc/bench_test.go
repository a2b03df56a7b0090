package rpc_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// BenchmarkAcquireLatency measures how long a queued sync takes to reach a
// delegate already waiting in AcquireTask: from the SyncIntegration call
// (queue) to the AcquireTask response (delegate), over loopback gRPC on a
// real SQLite file. The recheck interval is far longer than the run, so
// every hand-over is the in-process wake-up.
func BenchmarkAcquireLatency(b *testing.B) {
	cfg := testLease
	cfg.PollHold, cfg.Recheck = time.Minute, time.Hour
	h := newHarness(b, cfg)
	id := h.register("d1")
	h.createConnector("bb", "acme")
	h.createIntegration("main", "bb")
	// Finish the first sync so each iteration queues a fresh one.
	first := h.acquire(id)
	if _, err := h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: first.GetId(), LeaseToken: first.GetLeaseToken(),
		Outcome: delegatev1.Outcome_OUTCOME_SUCCEEDED}); err != nil {
		b.Fatal(err)
	}

	var lat []time.Duration
	for b.Loop() {
		got := make(chan time.Time, 1)
		go func() {
			res, err := h.delegates.AcquireTask(h.dlg(), &delegatev1.AcquireTaskRequest{DelegateId: id})
			if err != nil || res.GetTask() == nil {
				b.Error(res, err)
			}
			got <- time.Now()
			task := res.GetTask()
			_, _ = h.delegates.CompleteTask(h.dlg(), &delegatev1.CompleteTaskRequest{TaskId: task.GetId(), LeaseToken: task.GetLeaseToken(),
				Outcome: delegatev1.Outcome_OUTCOME_SUCCEEDED})
			got <- time.Now()
		}()
		h.pollWaiting()
		start := time.Now()
		if _, err := h.integrations.SyncIntegration(h.mgmt(), &integrationv1.SyncIntegrationRequest{Integration: "main"}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-got).Sub(start))
		<-got
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// addIntegrations creates n integrations of the account, each on a workspace
// of its own with its first sync queued, straight in the store.
func (h *harness) addIntegrations(n int) {
	h.t.Helper()
	ctx, now := context.Background(), h.clock.Now()
	for i := range n {
		ws := fmt.Sprintf("ws-%04d", i)
		conn := integration.Connector{ID: ids.New("con"), AccountID: h.account, Name: ws, URL: "https://bitbucket.org/" + ws,
			Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: ws, CreatedAt: now}
		if err := h.db.CreateConnector(ctx, conn); err != nil {
			h.t.Fatal(err)
		}
		in, err := integration.New(integration.Draft{Name: ws}, conn, now)
		if err != nil {
			h.t.Fatal(err)
		}
		in.ID = ids.New("int")
		if _, err := h.db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: h.account, Trigger: tasks.Manual, Actor: "test", Now: now}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// listStatements lists one page of integrations and returns how many
// statements the store ran for it.
func (h *harness) listStatements(size int) int64 {
	h.t.Helper()
	before := h.statements.Load()
	res, err := h.integrations.ListIntegrations(h.mgmt(), &integrationv1.ListIntegrationsRequest{PageSize: int32(size)})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(res.GetIntegrations()) != size || res.GetIntegrations()[0].GetLastRun() == nil {
		h.t.Fatalf("page of %d integrations, first with last run %v", len(res.GetIntegrations()), res.GetIntegrations()[0].GetLastRun())
	}
	return h.statements.Load() - before
}

// BenchmarkListIntegrationsStatements reports the statements one page of
// ListIntegrations costs (authentication included) for pages of 1 and 500
// integrations, each shown with its last sync run.
func BenchmarkListIntegrationsStatements(b *testing.B) {
	h := newHarness(b, testLease)
	h.addIntegrations(500)
	for _, size := range []int{1, 500} {
		b.Run(fmt.Sprintf("page=%d", size), func(b *testing.B) {
			var n int64
			for b.Loop() {
				n = h.listStatements(size)
			}
			b.ReportMetric(float64(n), "statements/page")
		})
	}
}
