package metrics

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Counts is what the store tells on each scrape; *store.DB implements it.
type Counts interface {
	CountActiveTasks(ctx context.Context) ([]store.TaskCount, error)
	DelegatesSeenSince(ctx context.Context, since time.Time) (int64, error)
	PoolStats() sql.DBStats
}

// scrapeTimeout bounds the store queries of one scrape.
const scrapeTimeout = 5 * time.Second

// Observe adds the metrics read from db on each scrape: active tasks by
// type and state, delegates connected (seen within window, by the clock
// clk) and the database connection pool.
func (m *Metrics) Observe(db Counts, clk clock.Clock, window time.Duration) {
	m.Registry.MustRegister(&storeCollector{db: db, clock: clk, window: window})
}

var (
	tasksDesc = prometheus.NewDesc(Namespace+"_tasks",
		"Tasks queued or leased now, by type and state (read from the database on each scrape; finished tasks are counted by sync_runs_total).",
		[]string{"type", "state"}, nil)
	delegatesDesc = prometheus.NewDesc(Namespace+"_delegates_connected",
		"Registered delegates of all accounts that polled for work or renewed a lease recently (within twice the longer of the poll hold and the renewal interval).",
		nil, nil)
	poolOpenDesc = prometheus.NewDesc(Namespace+"_db_connections",
		"Database connections of this process's pool, by state: in_use or idle.", []string{"state"}, nil)
	poolMaxDesc = prometheus.NewDesc(Namespace+"_db_max_open_connections",
		"Most database connections the pool opens (0: no limit).", nil, nil)
	poolWaitsDesc = prometheus.NewDesc(Namespace+"_db_waits_total",
		"Times a query waited for a free database connection.", nil, nil)
	poolWaitDesc = prometheus.NewDesc(Namespace+"_db_wait_seconds_total",
		"Total time queries waited for a free database connection.", nil, nil)
)

// storeCollector reads its metrics at scrape time: two small queries (the
// active tasks through a partial index, the delegates table) and the
// pool's counters in memory.
type storeCollector struct {
	db     Counts
	clock  clock.Clock
	window time.Duration
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tasksDesc, delegatesDesc, poolOpenDesc, poolMaxDesc, poolWaitsDesc, poolWaitDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if counts, err := c.db.CountActiveTasks(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(tasksDesc, err)
	} else {
		byKey := map[[2]string]int64{}
		for _, t := range taskTypes {
			for _, s := range []tasks.State{tasks.Queued, tasks.Leased} {
				byKey[[2]string{label(string(t)), label(string(s))}] = 0
			}
		}
		for _, n := range counts {
			byKey[[2]string{label(string(n.Type)), label(string(n.State))}] += n.Count
		}
		for k, n := range byKey {
			ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
		}
	}
	if n, err := c.db.DelegatesSeenSince(ctx, c.clock.Now().Add(-c.window)); err != nil {
		ch <- prometheus.NewInvalidMetric(delegatesDesc, err)
	} else {
		ch <- prometheus.MustNewConstMetric(delegatesDesc, prometheus.GaugeValue, float64(n))
	}
	s := c.db.PoolStats()
	ch <- prometheus.MustNewConstMetric(poolOpenDesc, prometheus.GaugeValue, float64(s.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(poolOpenDesc, prometheus.GaugeValue, float64(s.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(poolMaxDesc, prometheus.GaugeValue, float64(s.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(s.WaitCount))
	ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, s.WaitDuration.Seconds())
}
