package discoverysvc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// fixture is an account with a Bitbucket integration of workspace acme,
// the discovery service and the catalog service over a real database.
type fixture struct {
	t       testing.TB
	ctx     context.Context
	db      *store.DB
	clock   *clock.Fake
	svc     *discoverysvc.Service
	catalog *catalogsvc.Service
	integ   integration.Integration
	queued  bool // a sync run is queued
}

const acct = "acme"

// newFixture creates the account and an integration built from draft
// (name and connector are filled in); its first sync is queued.
func newFixture(t testing.TB, db *store.DB, draft integration.Draft) *fixture {
	t.Helper()
	ctx := context.Background()
	c := clock.NewFake(t0)
	f := &fixture{t: t, ctx: ctx, db: db, clock: c, svc: discoverysvc.New(db, c, zerolog.Nop()), catalog: catalogsvc.New(db, c)}
	if err := db.CreateAccount(ctx, auth.Account{ID: acct, CreatedAt: t0}, []auth.Flag{auth.FlagAutoDiscovery}); err != nil {
		t.Fatal(err)
	}
	conn := integration.Connector{ID: ids.New("con"), AccountID: acct, Name: "bb", URL: "https://bitbucket.org/acme",
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: "acme", CreatedAt: t0}
	if err := db.CreateConnector(ctx, conn); err != nil {
		t.Fatal(err)
	}
	draft.Name = "bitbucket"
	in, err := integration.New(draft, conn, t0)
	if err != nil {
		t.Fatal(err)
	}
	in.ID = ids.New("int")
	if _, err := db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: acct, Trigger: tasks.Manual, Actor: "test", Now: t0}); err != nil {
		t.Fatal(err)
	}
	f.integ, f.queued = in, true
	return f
}

// sibling creates a second integration, named name, of the same account
// on another workspace; the fixture it returns shares the database, clock
// and services, and its first sync is queued.
func (f *fixture) sibling(name, workspace string) *fixture {
	f.t.Helper()
	conn := integration.Connector{ID: ids.New("con"), AccountID: acct, Name: name, URL: "https://bitbucket.org/" + workspace,
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: workspace, CreatedAt: t0}
	if err := f.db.CreateConnector(f.ctx, conn); err != nil {
		f.t.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: name}, conn, f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	in.ID = ids.New("int")
	if _, err := f.db.CreateIntegration(f.ctx, in, store.SyncRequest{AccountID: acct, Trigger: tasks.Manual, Actor: "test", Now: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
	g := *f
	g.integ, g.queued = in, true
	return &g
}

// repo is a Bitbucket repository as the delegate uploads it, with a raw
// JSON shaped like the API's.
func repo(n int, slug string) *record.Repository {
	uuid := fmt.Sprintf("{00000000-0000-0000-0000-%012d}", n)
	r := &record.Repository{UUID: uuid, Slug: slug, Name: slug, FullName: "acme/" + slug, Workspace: "acme", ProjectKey: "PAY",
		ProjectName: "Payments", Description: "the " + slug + " repository", IsPrivate: true, Language: "go", MainBranch: "main",
		HTMLURL: "https://bitbucket.org/acme/" + slug, CreatedOn: t0.Add(-720 * time.Hour), UpdatedOn: t0.Add(-time.Hour)}
	r.Raw = rawJSON(r)
	return r
}

func rawJSON(r *record.Repository) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"type": "repository", "uuid": r.UUID, "slug": r.Slug, "name": r.Name, "full_name": r.FullName,
		"description": r.Description, "is_private": r.IsPrivate, "language": r.Language,
		"mainbranch": map[string]any{"name": r.MainBranch, "type": "branch"},
		"project":    map[string]any{"key": r.ProjectKey, "name": r.ProjectName},
		"links":      map[string]any{"html": map[string]any{"href": r.HTMLURL}},
		"created_on": r.CreatedOn.Format(time.RFC3339), "updated_on": r.UpdatedOn.Format(time.RFC3339),
	})
	return b
}

// sync runs one complete sync that lists exactly repos (plus records) and
// reports it finished to the discovery service, as the dispatch service does.
func (f *fixture) sync(repos []*record.Repository, extra ...record.Record) tasks.SyncRun {
	f.t.Helper()
	ctx := f.ctx
	if !f.queued {
		if _, _, err := f.db.QueueSync(ctx, store.SyncRequest{AccountID: acct, IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: f.clock.Now()}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.queued = false
	task, ok, err := f.db.AcquireTask(ctx, store.AcquireRequest{AccountID: acct, DelegateID: "d1", Delegate: "delegate-1",
		Now: f.clock.Now(), LeaseFor: time.Minute})
	if err != nil || !ok {
		f.t.Fatalf("acquire: %v, %v", ok, err)
	}
	var records []record.Record
	for _, r := range repos {
		records = append(records, record.Record{Repository: r})
	}
	records = append(records, extra...)
	records = append(records, record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: int64(len(repos))}})
	if _, err := f.db.ApplyBatch(ctx, store.BatchRequest{AccountID: acct, TaskID: task.ID, LeaseToken: task.LeaseToken, Sequence: 1,
		Records: records, Now: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
	res, err := f.db.CompleteTask(ctx, store.CompleteRequest{AccountID: acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Succeeded, Now: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.SyncFinished(ctx, *res.Run); err != nil {
		f.t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	return *res.Run
}

// entity creates a catalog entity from YAML lines.
func (f *fixture) entity(lines ...string) store.StoredEntity {
	f.t.Helper()
	e, err := f.catalog.Create(f.ctx, acct, strings.Join(lines, "\n")+"\n")
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// component creates a Component of type service named name.
func (f *fixture) component(identifier, name string, more ...string) store.StoredEntity {
	f.t.Helper()
	return f.entity(append([]string{"apiVersion: harness.io/v1", "kind: Component", "type: service", "identifier: " + identifier,
		"name: " + name, "owner: group:payments", "spec:", "  lifecycle: production"}, more...)...)
}

// discovered lists every discovered repository by full name.
func (f *fixture) discovered() map[string]discoverysvc.Discovered {
	f.t.Helper()
	_, rows, _, _, err := f.svc.ListDiscovered(f.ctx, acct, f.integ.ID, store.DiscoveredFilter{}, store.Page{Size: 500})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]discoverysvc.Discovered{}
	for _, r := range rows {
		out[r.FullName] = r
	}
	return out
}

func (f *fixture) importItems(items ...discoverysvc.Item) []discoverysvc.Result {
	f.t.Helper()
	res, err := f.svc.Import(f.ctx, acct, "key:test", f.integ.ID, items, false)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) get(ref string) store.StoredEntity {
	f.t.Helper()
	e, err := f.catalog.Get(f.ctx, acct, catalogsvc.Key{Entity: ref})
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) events() []store.Event {
	f.t.Helper()
	ev, _, err := f.db.ListEvents(f.ctx, acct, f.integ.ID, store.Page{Size: 500})
	if err != nil {
		f.t.Fatal(err)
	}
	return ev
}

func (f *fixture) imported() map[string]store.Imported {
	f.t.Helper()
	_, rows, _, _, err := f.svc.ListImported(f.ctx, acct, f.integ.ID, "", store.Page{Size: 500})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]store.Imported{}
	for _, r := range rows {
		out[r.FullName] = r
	}
	return out
}

func rules(r ...integration.CorrelationRule) *[]integration.CorrelationRule { return &r }

func reasonOf(err error) string {
	if f := fault.As(err); f != nil {
		return f.Reason
	}
	return ""
}
