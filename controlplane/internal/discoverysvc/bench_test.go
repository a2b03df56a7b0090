package discoverysvc_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

const (
	benchEntities = 100_000
	benchRepos    = 20_000
)

var (
	benchOnce    sync.Once
	benchFixture *fixture
)

// benchSetup seeds one SQLite database for every sub-benchmark: 100,000
// Components named with two or three pseudo-words and a unique suffix, and
// 20,000 synced repositories of which a quarter carry an entity's exact
// name, a quarter an entity's name plus "-api" (a Contains match only) and
// half a name the catalog does not have (as the correlate benchmark).
func benchSetup(b *testing.B) *fixture {
	benchOnce.Do(func() {
		start := time.Now()
		f := newFixture(b, storetest.SQLite(b), integration.Draft{})
		rng := rand.New(rand.NewPCG(1, 2))
		syl := []string{"ka", "vo", "mi", "pe", "lu", "ra", "to", "ne", "si", "do", "fa", "gu"}
		word := func() string { return syl[rng.IntN(len(syl))] + syl[rng.IntN(len(syl))] }
		names := make([]string, benchEntities)
		ents := make([]*catalog.Entity, benchEntities)
		for i := range ents {
			n := word() + "-" + word()
			if i%2 == 0 {
				n += "-" + word()
			}
			names[i] = fmt.Sprintf("%s-%x", n, i)
			ents[i] = &catalog.Entity{Kind: "Component", Type: "service", Identifier: fmt.Sprintf("e_%d", i), Name: names[i],
				Owner: "group:team", Lifecycle: "production"}
		}
		if _, err := f.db.CreateEntities(f.ctx, acct, ents, t0); err != nil {
			b.Fatal(err)
		}
		task, ok, err := f.db.AcquireTask(f.ctx, store.AcquireRequest{AccountID: acct, DelegateID: "d1", Now: t0, LeaseFor: time.Hour})
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		var batch []record.Record
		seq := int64(0)
		flush := func() {
			seq++
			if _, err := f.db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: seq, Records: batch, Now: t0}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		for i := range benchRepos {
			var name string
			switch i % 4 {
			case 0:
				name = names[rng.IntN(benchEntities)]
			case 1:
				name = names[rng.IntN(benchEntities)] + "-api"
			default:
				name = fmt.Sprintf("zz-unknown-%d", i)
			}
			r := repo(i+1, strings.ReplaceAll(name, " ", "-"))
			batch = append(batch, record.Record{Repository: r})
			if len(batch) == 2000 {
				flush()
			}
		}
		flush()
		if _, err := f.db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0}); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded %d entities and %d repositories in %v", benchEntities, benchRepos, time.Since(start).Round(time.Millisecond))
		benchFixture = f
	})
	return benchFixture
}

// BenchmarkRecompute20kRepos100kEntities is one full correlation run as a
// sync triggers it, through the store: load the 20,000 repositories not
// imported (raw JSON included) and the 100,000 candidate entities, index,
// match, and store every recommendation.
func BenchmarkRecompute20kRepos100kEntities(b *testing.B) {
	f := benchSetup(b)
	for _, tt := range []struct {
		name     string
		op       integration.Operator
		minMerge int
	}{
		{"equals", integration.Equals, benchRepos / 4},
		{"contains", integration.Contains, benchRepos / 2},
	} {
		b.Run(tt.name, func(b *testing.B) {
			if _, err := f.db.UpdateIntegration(f.ctx, acct, f.integ.ID, store.IntegrationChange{Now: t0,
				Apply: func(in *integration.Integration) ([]string, error) {
					in.Correlation = []integration.CorrelationRule{{IngestedPath: "name", CatalogPath: "name", Operator: tt.op}}
					return []string{"correlation"}, nil
				}}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				stats, err := f.svc.Recompute(f.ctx, acct, f.integ.ID)
				if err != nil {
					b.Fatal(err)
				}
				if stats.Repositories != benchRepos || stats.Entities != benchEntities || stats.Merge < tt.minMerge {
					b.Fatalf("run matched too little: %+v", stats)
				}
			}
			b.ReportMetric(float64(benchRepos)*float64(b.N)/b.Elapsed().Seconds(), "repos/s")
		})
	}
}
