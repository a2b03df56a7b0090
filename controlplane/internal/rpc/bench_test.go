package rpc_test

import (
	"sort"
	"testing"
	"time"

	delegatev1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/delegate/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
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
