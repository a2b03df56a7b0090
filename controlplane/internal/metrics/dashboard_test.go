package metrics_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/metrics"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// fakeCounts answers the store's scrape-time queries.
type fakeCounts struct {
	tasks     []store.TaskCount
	delegates int64
	err       error
}

func (f fakeCounts) CountActiveTasks(context.Context) ([]store.TaskCount, error) {
	return f.tasks, f.err
}
func (f fakeCounts) DelegatesSeenSince(context.Context, time.Time) (int64, error) {
	return f.delegates, f.err
}
func (f fakeCounts) PoolStats() sql.DBStats {
	return sql.DBStats{MaxOpenConnections: 4, Idle: 1, InUse: 2}
}

// families returns every family the control plane exports and the labels
// of each, with a series in each vector (the webhook families have none until deliveries arrive).
func families(t *testing.T) map[string][]string {
	t.Helper()
	m := metrics.New()
	m.Observe(fakeCounts{tasks: []store.TaskCount{{Type: tasks.Sync, State: tasks.Queued, Count: 1}}}, clock.Real{}, time.Minute)
	g := grpc.NewServer()
	healthgrpc.RegisterHealthServer(g, health.NewServer())
	m.InitRPCs(g)
	m.Delivery("int_1", "accepted")
	m.Applied("int_1", time.Second)
	got, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range got {
		var labels []string
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		out[f.GetName()] = labels
	}
	return out
}

type dashboard struct {
	Title  string  `json:"title"`
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

var (
	metricName = regexp.MustCompile(`\b(idp_controlplane_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+)\b(\{[^}]*\})?`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// TestDashboardNamesOnlyExportedMetrics parses docs/grafana-dashboard.json
// and checks that every expression names metrics the control plane
// exports, and filters and groups by labels those metrics have.
func TestDashboardNamesOnlyExportedMetrics(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Fatalf("the dashboard needs a title and a uid to be imported: %q, %q", d.Title, d.UID)
	}
	exported := families(t)
	shown := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names := metricName.FindAllStringSubmatch(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q, query %s names no metric: %s", p.Title, q.RefID, q.Expr)
			}
			var labels []string
			for _, n := range names {
				family, histogramPart := n[1], ""
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(family, suffix); ok && exported[base] != nil {
						family, histogramPart = base, suffix
					}
				}
				have, ok := exported[family]
				if !ok {
					t.Errorf("panel %q names %s, which the control plane does not export", p.Title, n[1])
					continue
				}
				shown[family] = true
				if histogramPart == "_bucket" {
					have = append(have, "le")
				}
				labels = append(labels, have...)
				for _, m := range matcher.FindAllStringSubmatch(n[2], -1) {
					if !slices.Contains(have, m[1]) {
						t.Errorf("panel %q filters %s on label %q; it has %v", p.Title, family, m[1], have)
					}
				}
			}
			for _, g := range grouping.FindAllStringSubmatch(q.Expr, -1) {
				for _, l := range strings.Split(g[1], ",") {
					// instance and job are added by Prometheus when scraping.
					if l = strings.TrimSpace(l); l != "" && l != "instance" && l != "job" && !slices.Contains(labels, l) {
						t.Errorf("panel %q groups by %q, a label none of its metrics has (%v)", p.Title, l, labels)
					}
				}
			}
		}
	}
	for name := range exported {
		if strings.HasPrefix(name, metrics.Namespace+"_") && !shown[name] {
			t.Errorf("%s is on no panel of the dashboard", name)
		}
	}
}
