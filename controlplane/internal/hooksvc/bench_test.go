package hooksvc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/hooksvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// setup stores an integration with one repository, as after a first sync.
func setup(tb testing.TB, db *store.DB) (integrationID string) {
	tb.Helper()
	ctx, now := context.Background(), time.Now()
	if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: now}, []auth.Flag{auth.FlagAutoDiscovery}); err != nil {
		tb.Fatal(err)
	}
	conn := integration.Connector{ID: ids.New("con"), AccountID: "acme", Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: now}
	if err := db.CreateConnector(ctx, conn); err != nil {
		tb.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: "main"}, conn, now)
	if err != nil {
		tb.Fatal(err)
	}
	in.ID = ids.New("int")
	if _, err := db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Actor: "bench", Now: now}); err != nil {
		tb.Fatal(err)
	}
	t, ok, err := db.AcquireTask(ctx, store.AcquireRequest{AccountID: "acme", DelegateID: "d", Now: now, LeaseFor: time.Hour})
	if err != nil || !ok {
		tb.Fatal(ok, err)
	}
	recs := []record.Record{{Repository: &record.Repository{UUID: repoUUID(1), Slug: "svc", Name: "svc", FullName: "acme/svc",
		Workspace: "acme", MainBranch: "main"}}}
	for i := 2; i <= benchRepos; i++ {
		slug := fmt.Sprintf("svc-%d", i)
		recs = append(recs, record.Record{Repository: &record.Repository{UUID: repoUUID(i), Slug: slug, Name: slug,
			FullName: "acme/" + slug, Workspace: "acme", MainBranch: "main"}})
	}
	if _, err := db.ApplyBatch(ctx, store.BatchRequest{AccountID: "acme", TaskID: t.ID, LeaseToken: t.LeaseToken, Sequence: 1, Now: now,
		Records: recs}); err != nil {
		tb.Fatal(err)
	}
	return in.ID
}

// benchRepos is how many repositories setup stores; deliveries spread
// over them as a workspace's events do.
const benchRepos = 16

func repoUUID(i int) string { return fmt.Sprintf("{00000000-0000-4000-8000-%012d}", i) }

// BenchmarkDeliveriesAbsorbed measures the deliveries per second the
// control plane takes in and applies: 8 senders (Bitbucket delivers in
// parallel) call Receive (signature check, durable insert) while the
// applier drains them (decide, newer-wins upsert of the pull request).
// Each delivery is a pull request event with its own X-Request-UUID, on
// one of 16 repositories. "stored" times Receive alone (what happens
// before Bitbucket gets its 202); "stored+applied" runs until every one is
// applied.
func BenchmarkDeliveriesAbsorbed(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB, ...store.Option) *store.DB
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		for _, apply := range []bool{false, true} {
			name := d.name + "/stored"
			if apply {
				name = d.name + "/stored+applied"
			}
			b.Run(name, func(b *testing.B) { benchDeliveries(b, d.open, apply) })
		}
	}
}

// benchDeliveries sends b.N deliveries from 8 senders; with apply, an
// applier drains them meanwhile and the time runs until all are applied.
func benchDeliveries(b *testing.B, open func(testing.TB, ...store.Option) *store.DB, apply bool) {
	db := open(b)
	id := setup(b, db)
	ctx := context.Background()
	secret, err := db.EnsureWebhookSecret(ctx, id, "bench-secret")
	if err != nil {
		b.Fatal(err)
	}
	svc := hooksvc.New(db, dispatch.New(db, dispatch.DefaultConfig, clock.Real{}, zerolog.Nop(), nil), clock.Real{}, zerolog.Nop())
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = []byte(fmt.Sprintf(`{"repository":{"uuid":"{00000000-0000-4000-8000-000000000001}","full_name":"acme/svc"},"pullrequest":{"id":%d,"title":"change %d",
					"state":"OPEN","updated_on":%q,"source":{"branch":{"name":"f"}},"destination":{"branch":{"name":"main"}}}}`,
			i%50+1, i, base.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano)))
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	const senders = 8
	for s := range senders {
		wg.Go(func() {
			for i := s; i < b.N; i += senders {
				if _, err := svc.Receive(ctx, hooksvc.Delivery{IntegrationID: id, Event: "pullrequest:updated",
					RequestUUID: fmt.Sprintf("req-%d", i), Attempt: 1, Signature: bitbucketmock.Signature(secret, bodies[i]), Body: bodies[i]}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	received := make(chan struct{})
	go func() { wg.Wait(); close(received) }()
	applied := 0
	if !apply {
		<-received
		applied = b.N
	}
	for applied < b.N {
		n := svc.Drain(ctx)
		applied += n
		if n == 0 {
			select {
			case <-received:
			case <-time.After(time.Millisecond):
			}
		}
	}
	<-received
	elapsed := time.Since(start)
	b.StopTimer()
	if apply {
		prs, err := db.ListPullRequests(ctx, id, "{00000000-0000-4000-8000-000000000001}")
		if err != nil || len(prs) != min(b.N, 50) {
			b.Fatalf("%d pull requests stored (%v); want %d: deliveries were not applied", len(prs), err, min(b.N, 50))
		}
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}
