package httpapi_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

const (
	benchEntities = 100_000
	benchRepos    = 20_000
	// benchPageSize is the console's page of the Discovered tab.
	benchPageSize = 50
)

// BenchmarkDiscoveredPage times what the console waits for when it opens
// the Discovered tab of an integration with 20,000 discovered repositories
// in an account of 100,000 catalog entities: one ListDiscovered call over
// Connect JSON on a real socket, through the session-free API path,
// vanguard, the gRPC interceptors (key, permission, flag), the discovery
// service and the store, until the whole JSON page is read. The
// recommendations are computed before timing, as the background recompute
// does after a sync.
func BenchmarkDiscoveredPage(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB, ...store.Option) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			h := newHarness(b, harnessOptions{db: db.open(b)})
			integ := seedDiscovered(b, h)
			for _, q := range []struct {
				name, body string
				min        int
			}{
				{"first-page", `{"integration":"` + integ + `","pageSize":50}`, benchRepos},
				{"search", `{"integration":"` + integ + `","search":"kavo","pageSize":50}`, 1},
				{"filter-merge", `{"integration":"` + integ + `","recommendedAction":"IMPORT_ACTION_MERGE","pageSize":50}`, benchRepos / 4},
				{"filter-register-search", `{"integration":"` + integ + `","recommendedAction":"IMPORT_ACTION_REGISTER","search":"unknown-1","pageSize":50}`, 1},
			} {
				b.Run(q.name, func(b *testing.B) {
					client := h.srv.Client()
					var total int
					for b.Loop() {
						r := h.call(client, "idp.integration.v1.DiscoveryService/ListDiscovered", q.body, bearer(h.admin))
						if r.status != http.StatusOK {
							b.Fatalf("HTTP %d: %s", r.status, r.body)
						}
						var page struct {
							Repositories []json.RawMessage
							Total        int `json:"total,string"`
						}
						if err := json.Unmarshal(r.body, &page); err != nil {
							b.Fatal(err)
						}
						if page.Total < q.min || len(page.Repositories) != min(page.Total, benchPageSize) {
							b.Fatalf("page of %d rows, total %d; want at least %d matches", len(page.Repositories), page.Total, q.min)
						}
						total = page.Total
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
					b.ReportMetric(float64(total), "matches")
				})
			}
			// The same first page over gRPC: the difference is what the
			// HTTP face (vanguard's JSON transcoding) adds.
			b.Run("first-page-grpc", func(b *testing.B) {
				client := integrationv1.NewDiscoveryServiceClient(h.conn)
				ctx := metadata.AppendToOutgoingContext(b.Context(), "authorization", "Bearer "+h.admin)
				for b.Loop() {
					res, err := client.ListDiscovered(ctx, &integrationv1.ListDiscoveredRequest{Integration: integ, PageSize: benchPageSize})
					if err != nil || res.GetTotal() != benchRepos {
						b.Fatalf("%v: total %d", err, res.GetTotal())
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
			})
		})
	}
}

// seedDiscovered fills the harness account with 100,000 Components and
// one integration whose sync listed 20,000 repositories: a quarter carry
// an entity's exact name (Merge), the rest names the catalog does not
// have (Register), as the discovery benchmark. It returns the integration
// id once its recommendations are computed.
func seedDiscovered(b *testing.B, h *harness) string {
	b.Helper()
	start := time.Now()
	ctx, t0 := b.Context(), h.clock.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	syl := []string{"ka", "vo", "mi", "pe", "lu", "ra", "to", "ne", "si", "do", "fa", "gu"}
	word := func() string { return syl[rng.IntN(len(syl))] + syl[rng.IntN(len(syl))] }
	names := make([]string, benchEntities)
	ents := make([]*catalog.Entity, benchEntities)
	for i := range ents {
		names[i] = fmt.Sprintf("%s-%s-%x", word(), word(), i)
		ents[i] = &catalog.Entity{Kind: "Component", Type: "service", Identifier: fmt.Sprintf("e_%d", i), Name: names[i],
			Owner: "group:team", Lifecycle: "production"}
	}
	if _, err := h.db.CreateEntities(ctx, "acme", ents, t0); err != nil {
		b.Fatal(err)
	}
	conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: t0}
	if err := h.db.CreateConnector(ctx, conn); err != nil {
		b.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: "bitbucket"}, conn, t0)
	if err != nil {
		b.Fatal(err)
	}
	in.ID = ids.New("int")
	if _, err := h.db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Actor: "bench", Now: t0}); err != nil {
		b.Fatal(err)
	}
	task, ok, err := h.db.AcquireTask(ctx, store.AcquireRequest{AccountID: "acme", DelegateID: "d1", Now: t0, LeaseFor: time.Hour})
	if err != nil || !ok {
		b.Fatal(ok, err)
	}
	var batch []record.Record
	seq := int64(0)
	flush := func() {
		seq++
		if _, err := h.db.ApplyBatch(ctx, store.BatchRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Sequence: seq, Records: batch, Now: t0}); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range benchRepos {
		name := fmt.Sprintf("zz-unknown-%d", i)
		if i%4 == 0 {
			name = names[rng.IntN(benchEntities)]
		}
		batch = append(batch, record.Record{Repository: benchRepo(i+1, name, t0)})
		if len(batch) == 2000 {
			flush()
		}
	}
	flush()
	if _, err := h.db.CompleteTask(ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Succeeded, Now: t0}); err != nil {
		b.Fatal(err)
	}
	stats, err := h.discovery.Recompute(ctx, "acme", in.ID)
	if err != nil || stats.Repositories != benchRepos {
		b.Fatalf("recompute: %+v, %v", stats, err)
	}
	b.Logf("seeded %d entities and %d repositories (%d Merge) in %v", benchEntities, benchRepos, stats.Merge, time.Since(start).Round(time.Millisecond))
	return in.ID
}

// benchRepo is a repository as the delegate uploads it, raw JSON included.
func benchRepo(n int, slug string, t0 time.Time) *record.Repository {
	slug = strings.ReplaceAll(slug, " ", "-")
	r := &record.Repository{UUID: fmt.Sprintf("{00000000-0000-0000-0000-%012d}", n), Slug: slug, Name: slug, FullName: "acme/" + slug,
		Workspace: "acme", ProjectKey: "PAY", ProjectName: "Payments", Description: "the " + slug + " repository", IsPrivate: true,
		Language: "go", MainBranch: "main", HTMLURL: "https://bitbucket.org/acme/" + slug,
		CreatedOn: t0.Add(-720 * time.Hour), UpdatedOn: t0.Add(-time.Hour)}
	r.Raw, _ = json.Marshal(map[string]any{
		"type": "repository", "uuid": r.UUID, "slug": r.Slug, "name": r.Name, "full_name": r.FullName,
		"description": r.Description, "is_private": r.IsPrivate, "language": r.Language,
		"mainbranch": map[string]any{"name": r.MainBranch, "type": "branch"},
		"project":    map[string]any{"key": r.ProjectKey, "name": r.ProjectName},
		"links":      map[string]any{"html": map[string]any{"href": r.HTMLURL}},
		"created_on": r.CreatedOn.Format(time.RFC3339), "updated_on": r.UpdatedOn.Format(time.RFC3339),
	})
	return r
}
