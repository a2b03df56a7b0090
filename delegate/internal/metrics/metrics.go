// Package metrics defines the delegate's Prometheus metrics and serves them
// in the text format on the optional --metrics-listen address.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Metrics holds every metric the delegate exports. A fresh registry per
// instance keeps tests independent.
type Metrics struct {
	Registry        *prometheus.Registry
	Tasks           *prometheus.CounterVec
	TasksRunning    prometheus.Gauge
	Records         *prometheus.CounterVec
	Requests        *prometheus.CounterVec
	RateLimited     prometheus.Counter
	BudgetRemaining *prometheus.GaugeVec
	UploadLatency   prometheus.Histogram
}

// New creates and registers the metrics.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_delegate_tasks_total", Help: "Tasks finished, by type and outcome.",
		}, []string{"type", "outcome"}),
		TasksRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "idp_delegate_tasks_running", Help: "Tasks running now.",
		}),
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_delegate_records_uploaded_total", Help: "Records acknowledged by the control plane, by kind.",
		}, []string{"kind"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_delegate_bitbucket_requests_total", Help: "Bitbucket HTTP requests, retries included, by status code (\"error\" when no response came).",
		}, []string{"status"}),
		RateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "idp_delegate_bitbucket_rate_limited_total", Help: "Bitbucket responses with status 429.",
		}),
		BudgetRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idp_delegate_bitbucket_budget_remaining", Help: "Requests left in the rolling window, per credential (hashed).",
		}, []string{"credential"}),
		UploadLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "idp_delegate_upload_duration_seconds", Help: "Time from sending a record batch to its acknowledgement, resends included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	m.Registry.MustRegister(m.Tasks, m.TasksRunning, m.Records, m.Requests, m.RateLimited, m.BudgetRemaining, m.UploadLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Serve exposes /metrics on addr until ctx is done.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener, log zerolog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
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
