package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsAfterASync scrapes /metrics of the real control plane after
// the first sync of an integration (trigger CREATED) and a "sync now"
// (MANUAL), both run by the real delegate against the mock Bitbucket.
func TestMetricsAfterASync(t *testing.T) {
	s := startStack(t, "--metrics-listen", "127.0.0.1:0")
	c := s.cli
	metricsAddr := s.cp.waitOutput(regexp.MustCompile(`"addr":"([^"]+)"[^\n]*serving Prometheus metrics`), 30*time.Second)

	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
	first := waitRunEnded(t, c)
	if first["trigger"] != "SYNC_TRIGGER_CREATED" || first["status"] != "SYNC_STATUS_SUCCESS" {
		t.Fatalf("first run: %v", first)
	}
	manual := syncWait(t, c)
	if manual["trigger"] != "SYNC_TRIGGER_MANUAL" {
		t.Fatalf("sync now ran with trigger %v", manual["trigger"])
	}

	fams := scrape(t, "http://"+metricsAddr+"/metrics")
	want := []struct {
		family string
		labels map[string]string
		check  func(float64) bool
		what   string
	}{
		{"idp_controlplane_sync_runs_total", map[string]string{"status": "success", "trigger": "created"}, eq(1), "== 1"},
		{"idp_controlplane_sync_runs_total", map[string]string{"status": "success", "trigger": "manual"}, eq(1), "== 1"},
		{"idp_controlplane_sync_runs_total", map[string]string{"status": "failed", "trigger": "created"}, eq(0), "== 0"},
		// Two syncs of every repository (the second finds them unchanged
		// but lists them again).
		{"idp_controlplane_ingest_records_total", map[string]string{"kind": "repository"}, eq(2 * repoCount), "== 2 × repositories"},
		{"idp_controlplane_ingest_records_total", map[string]string{"kind": "pull_request"}, gt(0), "> 0"},
		{"idp_controlplane_ingest_records_total", map[string]string{"kind": "listing_complete"}, eq(2), "== 2"},
		{"idp_controlplane_ingest_batches_total", map[string]string{"outcome": "applied"}, gt(0), "> 0"},
		{"idp_controlplane_ingest_batches_total", map[string]string{"outcome": "rejected"}, eq(0), "== 0"},
		{"idp_controlplane_rpc_requests_total", map[string]string{"service": "idp.delegate.v1.DelegateService", "method": "AcquireTask", "code": "OK"}, gt(1), ">= 2, one per lease (empty polls add more)"},
		{"idp_controlplane_rpc_requests_total", map[string]string{"service": "idp.delegate.v1.DelegateService", "method": "CompleteTask", "code": "OK"}, eq(2), "== 2"},
		{"idp_controlplane_rpc_requests_total", map[string]string{"service": "idp.integration.v1.IntegrationService", "method": "CreateIntegration", "code": "OK"}, eq(1), "== 1"},
		{"idp_controlplane_task_leases_total", map[string]string{"type": "sync"}, eq(2), "== 2"},
		{"idp_controlplane_lease_takeovers_total", map[string]string{"type": "sync"}, eq(0), "== 0"},
		{"idp_controlplane_lease_expiries_total", map[string]string{"type": "sync", "outcome": "requeued"}, eq(0), "== 0"},
		{"idp_controlplane_tasks", map[string]string{"type": "sync", "state": "queued"}, eq(0), "== 0"},
		{"idp_controlplane_tasks", map[string]string{"type": "sync", "state": "leased"}, eq(0), "== 0"},
		{"idp_controlplane_delegates_connected", nil, eq(1), "== 1"},
		{"idp_controlplane_db_connections", map[string]string{"state": "idle"}, gt(0), "> 0"},
	}
	for _, w := range want {
		v, ok := sample(fams, w.family, w.labels)
		if !ok {
			t.Errorf("%s%v: no such series", w.family, w.labels)
			continue
		}
		if !w.check(v) {
			t.Errorf("%s%v = %v, want %s", w.family, w.labels, v, w.what)
		}
	}
	// Histograms: every lease was timed from its queueing, every call from
	// its start.
	if n := histogramCount(fams, "idp_controlplane_task_queue_wait_seconds", map[string]string{"type": "sync"}); n != 2 {
		t.Errorf("queue wait observations: %d, want 2", n)
	}
	if n := histogramCount(fams, "idp_controlplane_rpc_duration_seconds", map[string]string{"method": "UploadRecords"}); n == 0 {
		t.Error("UploadRecords was never timed")
	}
	// Labels come from fixed sets: no run, account, integration or
	// workspace shows up in them.
	for name, f := range fams {
		if !strings.HasPrefix(name, "idp_controlplane_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, id := range []string{first["id"].(string), manual["id"].(string), "e2e", workspace, integration} {
					if strings.Contains(l.GetValue(), id) {
						t.Errorf("%s{%s=%q} names %q", name, l.GetName(), l.GetValue(), id)
					}
				}
			}
		}
	}
}

// waitRunEnded waits until the integration's latest run has ended and
// returns it.
func waitRunEnded(t *testing.T, c cli) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var runs map[string]any
		c.json(&runs, "runs", integration)
		if list := items(t, runs); len(list) > 0 {
			if st := list[0]["status"]; st != "SYNC_STATUS_QUEUED" && st != "SYNC_STATUS_RUNNING" {
				return list[0]
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the first sync did not end within 2m")
	return nil
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// matching returns the series of family whose labels include labels.
func matching(fams map[string]*dto.MetricFamily, family string, labels map[string]string) []*dto.Metric {
	f, ok := fams[family]
	if !ok {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		all := true
		for k, v := range labels {
			all = all && have[k] == v
		}
		if all {
			out = append(out, m)
		}
	}
	return out
}

// sample returns the value of the one series of a counter or gauge
// family with exactly labels.
func sample(fams map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	for _, m := range matching(fams, family, labels) {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// histogramCount sums the observations of a histogram's series that
// include labels.
func histogramCount(fams map[string]*dto.MetricFamily, family string, labels map[string]string) uint64 {
	var n uint64
	for _, m := range matching(fams, family, labels) {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(low float64) func(float64) bool  { return func(v float64) bool { return v > low } }
