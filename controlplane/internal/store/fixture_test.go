package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

const leaseFor = 2 * time.Minute

type fixture struct {
	db    *store.DB
	ctx   context.Context
	acct  string
	conn  integration.Connector
	integ integration.Integration
	run   tasks.SyncRun
}

// newFixture creates an account with a connector and an enabled
// integration whose first sync is queued.
func newFixture(t testing.TB, db *store.DB, account string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, ctx: ctx, acct: account}
	if err := db.CreateAccount(ctx, auth.Account{ID: account, CreatedAt: t0}, []auth.Flag{auth.FlagAutoDiscovery}); err != nil {
		t.Fatal(err)
	}
	f.conn = integration.Connector{ID: ids.New("con"), AccountID: account, Name: "bb", URL: "https://bitbucket.org/" + account,
		Username: "x-token-auth", TokenRef: "env:BB_TOKEN", APIBaseURL: integration.DefaultAPIBaseURL, Workspace: account, CreatedAt: t0}
	if err := db.CreateConnector(ctx, f.conn); err != nil {
		t.Fatal(err)
	}
	in, err := integration.New(integration.Draft{Name: "main"}, f.conn, t0)
	if err != nil {
		t.Fatal(err)
	}
	in.ID = ids.New("int")
	f.run, err = db.CreateIntegration(ctx, in, store.SyncRequest{AccountID: account, Trigger: tasks.Manual, Actor: "test", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	f.integ, err = db.GetIntegration(ctx, account, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) acquire(t testing.TB, now time.Time, tags ...string) (tasks.Task, bool) {
	t.Helper()
	task, ok, err := f.db.AcquireTask(f.ctx, store.AcquireRequest{AccountID: f.acct, DelegateID: "d1", Delegate: "delegate-1",
		Tags: tags, Now: now, LeaseFor: leaseFor})
	if err != nil {
		t.Fatal(err)
	}
	return task, ok
}

func (f *fixture) mustAcquire(t testing.TB, now time.Time, tags ...string) tasks.Task {
	t.Helper()
	task, ok := f.acquire(t, now, tags...)
	if !ok {
		t.Fatal("no task to acquire")
	}
	return task
}
