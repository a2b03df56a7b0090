package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Namespace prefixes every metric of the control plane.
const Namespace = "idp_controlplane"

// Metrics holds every metric the control plane exports. A registry per
// instance keeps tests independent.
type Metrics struct {
	Registry *prometheus.Registry

	rpcs        *prometheus.CounterVec
	rpcDuration *prometheus.HistogramVec
	leases      *prometheus.CounterVec
	takeovers   *prometheus.CounterVec
	expiries    *prometheus.CounterVec
	queueWait   *prometheus.HistogramVec
	records     *prometheus.CounterVec
	batches     *prometheus.CounterVec
	runs        *prometheus.CounterVec
	// Webhooks counts Bitbucket webhook deliveries by integration and
	// result: accepted, duplicate, unauthorized, malformed, too_large,
	// rate_limited (refused before they are stored; integration "unknown"
	// when none of ours was named or it was not checked yet), then applied
	// or failed.
	Webhooks   *prometheus.CounterVec
	webhookLag *prometheus.HistogramVec
}

// Label values of the fixed sets.
const (
	batchApplied   = "applied"
	batchDuplicate = "duplicate"
	batchRejected  = "rejected"
	expiryRequeued = "requeued"
	expiryEnded    = "ended"
)

// recordKinds are the values of record.Record.Kind.
var recordKinds = []string{"repository", "pull_request", "commit", "cursor", "listing_complete"}

var taskTypes = []tasks.Type{tasks.Sync, tasks.TestConnection, tasks.Hook}

var finalRunStatuses = []tasks.RunStatus{tasks.RunSuccess, tasks.RunPartial, tasks.RunFailed, tasks.RunCancelled}

// New creates the metrics and registers them with the Go runtime and
// process collectors. Store counts are added with Observe.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "rpc_requests_total",
			Help: "gRPC calls handled, by service, method and status code."}, []string{"service", "method", "code"}),
		rpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "rpc_duration_seconds",
			Help:    "Time to handle a gRPC call, authentication included, by service and method. AcquireTask is a long poll: it lasts up to the poll hold when there is no work.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"service", "method"}),
		leases: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "task_leases_total",
			Help: "Tasks handed to a delegate, by task type."}, []string{"type"}),
		takeovers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "lease_takeovers_total",
			Help: "Leases of a task that had been leased before (its earlier lease expired or was released), so the work resumes from its checkpoint; by task type."}, []string{"type"}),
		expiries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "lease_expiries_total",
			Help: "Leases that ran out without renewal, by task type and outcome: requeued for another delegate, or ended (attempts exhausted or cancellation requested)."}, []string{"type", "outcome"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "task_queue_wait_seconds",
			Help:    "Time a task waited queued before a delegate leased it, since it was last queued; by task type.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 12)}, []string{"type"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "ingest_records_total",
			Help: "Records received from delegates and stored, by kind (repeated batches are not counted again)."}, []string{"kind"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "ingest_batches_total",
			Help: "Record batches received from delegates, by outcome: applied, duplicate (applied before, acknowledged again) or rejected."}, []string{"outcome"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "sync_runs_total",
			Help: "Sync runs ended, by final status and trigger."}, []string{"status", "trigger"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_deliveries_total",
			Help: "Bitbucket webhook deliveries, by integration and result: accepted, duplicate, unauthorized, malformed, too_large, rate_limited, then applied or failed."},
			[]string{"integration", "result"}),
		webhookLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "webhook_delivery_lag_seconds",
			Help:    "Time from a webhook delivery's arrival to its effect in the catalog, by integration.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"integration"}),
	}
	for _, t := range taskTypes {
		typ := label(string(t))
		m.leases.WithLabelValues(typ)
		m.takeovers.WithLabelValues(typ)
		m.queueWait.WithLabelValues(typ)
		m.expiries.WithLabelValues(typ, expiryRequeued)
		m.expiries.WithLabelValues(typ, expiryEnded)
	}
	for _, k := range recordKinds {
		m.records.WithLabelValues(k)
	}
	for _, o := range []string{batchApplied, batchDuplicate, batchRejected} {
		m.batches.WithLabelValues(o)
	}
	for _, s := range finalRunStatuses {
		for _, tr := range tasks.Triggers {
			m.runs.WithLabelValues(label(string(s)), label(string(tr)))
		}
	}
	m.Registry.MustRegister(m.rpcs, m.rpcDuration, m.leases, m.takeovers, m.expiries, m.queueWait, m.records, m.batches, m.runs, m.Webhooks, m.webhookLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// label turns a domain constant (SYNC, TEST_CONNECTION) into a label value
// (sync, test_connection).
func label(s string) string { return strings.ToLower(s) }

// Leased implements dispatch.Meter.
func (m *Metrics) Leased(t tasks.Task, waited time.Duration) {
	typ := label(string(t.Type))
	m.leases.WithLabelValues(typ).Inc()
	if t.Attempt > 1 {
		m.takeovers.WithLabelValues(typ).Inc()
	}
	m.queueWait.WithLabelValues(typ).Observe(max(waited, 0).Seconds())
}

// LeaseExpired implements dispatch.Meter.
func (m *Metrics) LeaseExpired(t tasks.Task, requeued bool) {
	outcome := expiryEnded
	if requeued {
		outcome = expiryRequeued
	}
	m.expiries.WithLabelValues(label(string(t.Type)), outcome).Inc()
}

// BatchApplied implements dispatch.Meter.
func (m *Metrics) BatchApplied(records []record.Record, duplicate bool) {
	if duplicate {
		m.batches.WithLabelValues(batchDuplicate).Inc()
		return
	}
	m.batches.WithLabelValues(batchApplied).Inc()
	for _, r := range records {
		m.records.WithLabelValues(r.Kind()).Inc()
	}
}

// BatchRejected implements dispatch.Meter.
func (m *Metrics) BatchRejected() { m.batches.WithLabelValues(batchRejected).Inc() }

// RunEnded implements dispatch.Meter.
func (m *Metrics) RunEnded(run tasks.SyncRun) {
	m.runs.WithLabelValues(label(string(run.Status)), label(string(run.Trigger))).Inc()
}

// Serve exposes /metrics on ln until ctx is done. A store count that fails
// is left out of that scrape and logged; the other metrics are served.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener, log zerolog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, ErrorLog: errorLog{log}}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error().Err(err).Msg("metrics server stopped")
	}
}

// errorLog logs the scrape errors of promhttp.
type errorLog struct{ log zerolog.Logger }

func (e errorLog) Println(v ...any) {
	e.log.Warn().Str("error", fmt.Sprint(v...)).Msg("metrics scrape incomplete")
}

var _ dispatch.Meter = (*Metrics)(nil)

// Delivery implements hooksvc.Meter.
func (m *Metrics) Delivery(integration, result string) {
	m.Webhooks.WithLabelValues(integration, result).Inc()
}

// Applied implements hooksvc.Meter.
func (m *Metrics) Applied(integration string, lag time.Duration) {
	m.webhookLag.WithLabelValues(integration).Observe(lag.Seconds())
}
