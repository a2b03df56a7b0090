package correlate

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

const (
	benchEntities = 100_000
	benchRepos    = 20_000
)

// benchData is a catalog and a workspace shaped like real ones: entity names
// of two or three words and a short id ("kavo-mipe-1k2"), and repositories of
// which a quarter carry an entity's exact name, a quarter an entity's name
// plus a suffix ("kavo-mipe-1k2-api", which Contains matches), and half a
// name the catalog does not have.
type benchData struct {
	targets []Target
	repos   []Ingested
}

var (
	benchOnce sync.Once
	bench     benchData
)

func loadBenchData() benchData {
	benchOnce.Do(func() {
		rng := rand.New(rand.NewPCG(2026, 11))
		syllables := []string{"ka", "vo", "mi", "pe", "lu", "ta", "ro", "ne", "si", "da", "go", "fu", "be", "zo", "xi", "wa"}
		word := func() string {
			n := 2 + rng.IntN(2)
			w := ""
			for range n {
				w += syllables[rng.IntN(len(syllables))]
			}
			return w
		}
		names := make([]string, benchEntities)
		bench.targets = make([]Target, benchEntities)
		for i := range names {
			name := word() + "-" + word()
			if rng.IntN(3) == 0 {
				name += "-" + word()
			}
			names[i] = name + "-" + strconv.FormatInt(int64(i), 36)
			e := &catalog.Entity{
				Kind: "Component", Type: "service", Identifier: catalog.IdentifierFromSlug(names[i]),
				Name: names[i], Owner: "group:team" + strconv.Itoa(i%500), Lifecycle: "production",
			}
			bench.targets[i] = EntityTarget("ent-"+strconv.Itoa(i), e)
		}
		suffixes := []string{"-api", "-web", "-worker", "-lib"}
		bench.repos = make([]Ingested, benchRepos)
		for i := range bench.repos {
			var name string
			switch i % 4 {
			case 0:
				name = names[rng.IntN(len(names))]
			case 1:
				name = names[rng.IntN(len(names))] + suffixes[rng.IntN(len(suffixes))]
			default:
				name = word() + "-" + word() + "-repo" + strconv.Itoa(i)
			}
			bench.repos[i] = Ingested{
				Props: map[string]any{"name": name, "is_private": true, "project": map[string]any{"key": "P" + strconv.Itoa(i%40)}},
				Raw:   map[string]any{"slug": name, "links": map[string]any{"html": map[string]any{"href": "https://bitbucket.org/acme/" + name}}},
				Slug:  name,
			}
		}
	})
	return bench
}

// BenchmarkCorrelate20kRepos100kEntities times a full correlation run: index
// 100,000 entities, then match 20,000 repositories, on one goroutine. It
// reports the seconds of a whole run and of its index build, the matching
// rate, the candidates found (a check that the run did real work) and the
// heap the index holds.
func BenchmarkCorrelate20kRepos100kEntities(b *testing.B) {
	for _, tc := range []struct {
		name string
		op   Operator
		// The repositories built to match: a quarter by exact name, a
		// further quarter by a name that contains an entity's.
		wantCandidates int
	}{{"Equals", Equals, benchRepos / 4}, {"Contains", Contains, benchRepos / 2}} {
		b.Run(tc.name, func(b *testing.B) {
			d := loadBenchData()
			rules := []Rule{{IngestedPath: "name", CatalogPath: "name", Op: tc.op}}
			indexMB := indexMegabytes(b, rules, d.targets)
			b.ReportAllocs()
			b.ResetTimer()
			var build time.Duration
			candidates := 0
			for b.Loop() {
				start := time.Now()
				ix, err := NewIndex(rules, services, d.targets)
				if err != nil {
					b.Fatal(err)
				}
				build += time.Since(start)
				candidates = 0
				for _, r := range d.repos {
					candidates += len(ix.Match(r))
				}
			}
			if candidates < tc.wantCandidates {
				b.Fatalf("%d candidates, want at least %d: the data no longer exercises matching", candidates, tc.wantCandidates)
			}
			n := float64(b.N)
			b.ReportMetric(b.Elapsed().Seconds()/n, "s/correlation")
			b.ReportMetric(build.Seconds()/n, "index-s/correlation")
			b.ReportMetric(float64(len(d.repos))*n/(b.Elapsed()-build).Seconds(), "match-repos/s")
			b.ReportMetric(float64(candidates), "candidates")
			b.ReportMetric(indexMB, "index-MB")
		})
	}
}

// indexMegabytes measures the heap an index holds once built.
func indexMegabytes(b *testing.B, rules []Rule, targets []Target) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, err := NewIndex(rules, services, targets)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ix)
	return float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
}
