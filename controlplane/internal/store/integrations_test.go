package store_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func TestConnectors(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		dup := f.conn
		dup.ID = ids.New("con")
		if err := db.CreateConnector(f.ctx, dup); fault.As(err) == nil || fault.As(err).Reason != store.ReasonConnectorNameTaken {
			t.Fatalf("duplicate name: %v", err)
		}
		for _, ref := range []string{f.conn.ID, f.conn.Name} {
			got, err := db.GetConnector(f.ctx, "acme", ref)
			if err != nil || got.ID != f.conn.ID {
				t.Fatalf("GetConnector(%s) = %+v, %v", ref, got, err)
			}
		}
		if _, err := db.GetConnector(f.ctx, "other", f.conn.ID); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("connector visible from another account: %v", err)
		}
		err := db.DeleteConnector(f.ctx, "acme", f.conn.Name)
		if fe := fault.As(err); fe == nil || fe.Reason != store.ReasonConnectorInUse {
			t.Fatalf("deleting a connector in use: %v", err)
		}
		spare := f.conn
		spare.ID, spare.Name = ids.New("con"), "spare"
		if err := db.CreateConnector(f.ctx, spare); err != nil {
			t.Fatal(err)
		}
		page1, next, err := db.ListConnectors(f.ctx, "acme", store.Page{Size: 1})
		if err != nil || len(page1) != 1 || page1[0].Name != "bb" || next == "" {
			t.Fatalf("page 1: %v %q %v", page1, next, err)
		}
		page2, next, err := db.ListConnectors(f.ctx, "acme", store.Page{Size: 1, Token: next})
		if err != nil || len(page2) != 1 || page2[0].Name != "spare" || next != "" {
			t.Fatalf("page 2: %v %q %v", page2, next, err)
		}
		if err := db.DeleteConnector(f.ctx, "acme", "spare"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetConnector(f.ctx, "acme", "spare"); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("deleted connector still there: %v", err)
		}
	})
}

func TestIntegrationUniqueness(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		second, err := integration.New(integration.Draft{Name: "other"}, f.conn, t0)
		if err != nil {
			t.Fatal(err)
		}
		second.ID = ids.New("int")
		_, err = db.CreateIntegration(f.ctx, second, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Now: t0})
		if fe := fault.As(err); fe == nil || fe.Code != fault.AlreadyExists || fe.Reason != store.ReasonWorkspaceIntegrated {
			t.Fatalf("second integration on one workspace: %v", err)
		}
		second.Workspace = "elsewhere"
		second.Name = f.integ.Name
		_, err = db.CreateIntegration(f.ctx, second, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Now: t0})
		if fe := fault.As(err); fe == nil || fe.Reason != store.ReasonNameTaken {
			t.Fatalf("second integration with one name: %v", err)
		}
		// Nothing of the refused creates was written.
		list, _, err := db.ListIntegrations(f.ctx, "acme", store.Page{})
		if err != nil || len(list) != 1 {
			t.Fatalf("integrations after refused creates: %d, %v", len(list), err)
		}
		// Another account may integrate the same workspace.
		g := newFixture(t, db, "globex")
		other := g.conn
		other.ID, other.Name, other.Workspace = ids.New("con"), "acme-ws", "acme"
		if err := db.CreateConnector(f.ctx, other); err != nil {
			t.Fatal(err)
		}
		in, err := integration.New(integration.Draft{Name: "acme too"}, other, t0)
		if err != nil {
			t.Fatal(err)
		}
		in.ID = ids.New("int")
		if _, err := db.CreateIntegration(f.ctx, in, store.SyncRequest{AccountID: "globex", Trigger: tasks.Manual, Now: t0}); err != nil {
			t.Fatalf("same workspace in another account: %v", err)
		}
	})
}

func TestCreateQueuesFirstSyncAndLogsEvent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		if f.run.Status != tasks.RunQueued || f.run.Trigger != tasks.Manual || f.run.IntegrationID != f.integ.ID {
			t.Fatalf("first run: %+v", f.run)
		}
		if got := f.integ.NextSyncAt; !got.Equal(t0.Add(3 * time.Hour)) {
			t.Errorf("next sync at %v, want %v", got, t0.Add(3*time.Hour))
		}
		events, _, err := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{})
		if err != nil || len(events) != 1 || events[0].Type != store.EventConfigChanged {
			t.Fatalf("events: %+v, %v", events, err)
		}
		// Sync now joins the queued run.
		run, joined, err := db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.Name, Trigger: tasks.Manual, Now: t0})
		if err != nil || !joined || run.ID != f.run.ID {
			t.Fatalf("sync now while queued: %+v joined=%v %v", run, joined, err)
		}
	})
}

func TestUpdateIntegration(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		later := t0.Add(time.Hour)
		rules := []integration.CorrelationRule{{IngestedPath: "slug", CatalogPath: "identifier", Operator: integration.Contains}}
		got, err := db.UpdateIntegration(f.ctx, "acme", f.integ.ID, store.IntegrationChange{Now: later, Actor: "key:admin",
			Apply: func(in *integration.Integration) ([]string, error) {
				return integration.Apply(in, integration.Changes{Mask: []string{"name", "correlation"},
					Draft: integration.Draft{Name: "renamed", Correlation: &rules}}, nil, later)
			}})
		if err != nil {
			t.Fatal(err)
		}
		reread, err := db.GetIntegration(f.ctx, "acme", "renamed")
		if err != nil || reread.ID != f.integ.ID || len(reread.Correlation) != 1 || reread.Correlation[0] != rules[0] || !reread.UpdatedAt.Equal(later) {
			t.Fatalf("after update: %+v (returned %+v), %v", reread, got, err)
		}
		events, _, _ := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{})
		if len(events) != 2 || events[0].Message != "configuration changed: name, correlation" || events[0].Actor != "key:admin" {
			t.Fatalf("newest event: %+v", events)
		}
		// A failing change writes nothing.
		boom := errors.New("boom")
		if _, err := db.UpdateIntegration(f.ctx, "acme", f.integ.ID, store.IntegrationChange{Now: later,
			Apply: func(in *integration.Integration) ([]string, error) { in.Name = "x"; return nil, boom }}); !errors.Is(err, boom) {
			t.Fatalf("failing change: %v", err)
		}
		if again, _ := db.GetIntegration(f.ctx, "acme", f.integ.ID); again.Name != "renamed" {
			t.Fatalf("failing change was written: %q", again.Name)
		}
	})
}

func TestSuspendResume(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		// Suspending with a queued run cancels it at once.
		sc, err := db.SuspendIntegration(f.ctx, "acme", f.integ.ID, "key:admin", t0.Add(time.Minute))
		if err != nil || !sc.Changed || len(sc.Ended) != 1 || sc.Ended[0].Status != tasks.RunCancelled {
			t.Fatalf("suspend: %+v, %v", sc, err)
		}
		queuedErr := sc.Ended[0].Error
		if !sc.Integration.NextSyncAt.IsZero() || sc.Integration.State != integration.Suspended {
			t.Fatalf("suspended integration: %+v", sc.Integration)
		}
		if _, ok := f.acquire(t, t0.Add(2*time.Minute)); ok {
			t.Fatal("a cancelled task was handed out")
		}
		_, _, err = db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: t0})
		if fe := fault.As(err); fe == nil || fe.Reason != store.ReasonIntegrationSuspended {
			t.Fatalf("sync while suspended: %v", err)
		}
		if due, _ := db.DueIntegrations(f.ctx, t0.Add(48*time.Hour), 10); len(due) != 0 {
			t.Fatalf("suspended integration is due: %+v", due)
		}
		if sc, err := db.SuspendIntegration(f.ctx, "acme", f.integ.ID, "", t0); err != nil || sc.Changed {
			t.Fatalf("second suspend: %+v, %v", sc, err)
		}

		resumeAt := t0.Add(time.Hour)
		sc, err = db.ResumeIntegration(f.ctx, "acme", f.integ.ID, "key:admin", resumeAt)
		if err != nil || !sc.Changed || sc.Queued == nil || !sc.Integration.NextSyncAt.Equal(resumeAt.Add(3*time.Hour)) {
			t.Fatalf("resume: %+v, %v", sc, err)
		}
		task := f.mustAcquire(t, resumeAt)
		// Suspending a running sync asks the delegate to stop.
		if _, err := db.SuspendIntegration(f.ctx, "acme", f.integ.ID, "", resumeAt); err != nil {
			t.Fatal(err)
		}
		res, err := db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken, Now: resumeAt, LeaseFor: leaseFor})
		if err != nil || !res.CancelRequested {
			t.Fatalf("renew after suspend: %+v, %v", res, err)
		}
		done, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Cancelled, Error: "cancellation requested", Now: resumeAt})
		if err != nil || done.Run == nil || done.Run.Status != tasks.RunCancelled {
			t.Fatalf("complete cancelled: %+v, %v", done, err)
		}
		// The run says why it stopped, not the delegate's wording.
		if done.Run.Error != "cancelled: the integration was suspended" || queuedErr != done.Run.Error {
			t.Fatalf("cancelled run errors %q (running) and %q (queued), want the suspend named", done.Run.Error, queuedErr)
		}
		events, _, _ := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{Size: 100})
		var types []store.EventType
		for _, e := range events {
			types = append(types, e.Type)
		}
		want := []store.EventType{store.EventSync, store.EventSuspended, store.EventResumed, store.EventSync, store.EventSuspended, store.EventConfigChanged}
		if len(types) != len(want) {
			t.Fatalf("event types %v, want %v", types, want)
		}
		for i := range want {
			if types[i] != want[i] {
				t.Fatalf("event types %v, want %v", types, want)
			}
		}
	})
}

func TestScheduleSyncOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(3*time.Hour + time.Second)
		due, err := db.DueIntegrations(f.ctx, now, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due: %v, %v", due, err)
		}
		run, ok, joined, err := db.ScheduleSync(f.ctx, due[0], now)
		if err != nil || !ok || joined || run.Trigger != tasks.Scheduled {
			t.Fatalf("schedule: %+v %v %v", run, ok, err)
		}
		// A second replica holding the same stale view does nothing.
		if _, ok, _, err := db.ScheduleSync(f.ctx, due[0], now); err != nil || ok {
			t.Fatalf("second schedule of the same due time: ok=%v %v", ok, err)
		}
		in, _ := db.GetIntegration(f.ctx, "acme", f.integ.ID)
		if !in.NextSyncAt.Equal(now.Add(3 * time.Hour)) {
			t.Errorf("next sync at %v, want %v", in.NextSyncAt, now.Add(3*time.Hour))
		}
		runs, _, err := db.ListSyncRuns(f.ctx, "acme", f.integ.ID, store.Page{})
		if err != nil || len(runs) != 2 || runs[0].ID != run.ID {
			t.Fatalf("runs newest first: %+v, %v", runs, err)
		}
	})
}

func TestMigrationsRefuseANewerSchema(t *testing.T) {
	t.Parallel()
	path := "sqlite://" + t.TempDir() + "/idp.db"
	db, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddEvent(t.Context(), store.Event{}); err == nil {
		t.Fatal("an event of no account was stored") // foreign keys are on
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(path, "sqlite://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := store.Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer control plane") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func TestResumeRightAfterSuspendLetsTheRunningSyncFinish(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		if _, err := db.SuspendIntegration(f.ctx, "acme", f.integ.ID, "", t0); err != nil {
			t.Fatal(err)
		}
		sc, err := db.ResumeIntegration(f.ctx, "acme", f.integ.ID, "", t0.Add(time.Second))
		if err != nil || sc.Queued == nil || sc.Queued.ID != f.run.ID {
			t.Fatalf("resume: %+v, %v; want it to join run %s", sc, err, f.run.ID)
		}
		res, err := db.RenewLease(f.ctx, store.RenewRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Now: t0.Add(2 * time.Second), LeaseFor: leaseFor})
		if err != nil || res.CancelRequested {
			t.Fatalf("renew after resume: %+v, %v; the suspend's cancel request should be withdrawn", res, err)
		}
		done, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Outcome: tasks.Succeeded, Now: t0.Add(time.Minute)})
		if err != nil || done.Run == nil || done.Run.ID != f.run.ID || done.Run.Status != tasks.RunSuccess {
			t.Fatalf("complete: %+v, %v", done, err)
		}
	})
}

// The list carries each integration's last run, the newest, exactly as
// LastSyncRun reads it.
func TestListIntegrationsCarriesTheLastRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		first := f.mustAcquire(t, t0)
		if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: first.ID, LeaseToken: first.LeaseToken,
			Outcome: tasks.Failed, Error: "boom", Now: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		second, _, err := db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		never := f.integ
		never.ID, never.Name, never.Workspace = ids.New("int"), "never", "never"
		conn := f.conn
		conn.ID, conn.Name, conn.Workspace = ids.New("con"), "never", "never"
		if err := db.CreateConnector(f.ctx, conn); err != nil {
			t.Fatal(err)
		}
		never.ConnectorID = conn.ID
		if _, err := db.CreateIntegration(f.ctx, never, store.SyncRequest{AccountID: "acme", Trigger: tasks.Manual, Now: t0}); err != nil {
			t.Fatal(err)
		}
		list, _, err := db.ListIntegrations(f.ctx, "acme", store.Page{})
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %d, %v", len(list), err)
		}
		for _, in := range list {
			want, ok, err := db.LastSyncRun(f.ctx, "acme", in.ID)
			if err != nil || !ok || in.LastRun == nil {
				t.Fatalf("%s: last run %v, listed %v, %v", in.Name, ok, in.LastRun, err)
			}
			if diff := cmp.Diff(want, *in.LastRun); diff != "" {
				t.Errorf("%s: listed last run (-LastSyncRun +list):\n%s", in.Name, diff)
			}
		}
		if list[0].LastRun.ID != second.ID || list[0].LastRun.Status != tasks.RunQueued {
			t.Errorf("main's last run %+v, want the second, queued", list[0].LastRun)
		}
	})
}

// TestMovingTheStartDateBackFetchesOlderHistory: backfills are complete
// down to the start date only, so moving it back starts them again, and
// moving it forward leaves them be.
func TestMovingTheStartDateBackFetchesOlderHistory(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		setStart := func(start time.Time) {
			t.Helper()
			_, err := db.UpdateIntegration(f.ctx, "acme", f.integ.ID, store.IntegrationChange{Actor: "test", Now: t0,
				Apply: func(in *integration.Integration) ([]string, error) {
					return integration.Apply(in, integration.Changes{Mask: []string{integration.FieldStartDate},
						Draft: integration.Draft{StartDate: start}}, nil, t0)
				}})
			if err != nil {
				t.Fatal(err)
			}
		}
		backfilled := func() (bool, bool) {
			t.Helper()
			cs, err := db.ListCursors(f.ctx, f.integ.ID)
			if err != nil || len(cs) != 1 {
				t.Fatalf("cursors %v, %v", cs, err)
			}
			return cs[0].CommitsBackfilled, cs[0].PullRequestsBackfilled
		}
		setStart(t0.AddDate(0, -1, 0))
		task := f.mustAcquire(t, t0)
		records := append(repoRecords(0, 1), record.Record{Cursor: &record.Cursor{RepositoryUUID: repoUUID(0), NewestCommitHash: hash(2),
			OldestCommitHash: hash(1), CommitsBackfilled: true, NewestPullRequestUpdatedOn: t0, OldestPullRequestUpdatedOn: t0.AddDate(0, 0, -20),
			PullRequestsBackfilled: true}})
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Sequence: 1, Records: records, Now: t0}); err != nil {
			t.Fatal(err)
		}
		setStart(t0.AddDate(0, 0, -10)) // forward: what is stored covers it
		if c, p := backfilled(); !c || !p {
			t.Fatalf("moving the start date forward restarted the backfill: commits %v, pull requests %v", c, p)
		}
		setStart(t0.AddDate(-1, 0, 0)) // back: the older year is fetched
		if c, p := backfilled(); c || p {
			t.Fatalf("moving the start date back left the backfill complete: commits %v, pull requests %v", c, p)
		}
		events, _, err := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{})
		if err != nil || len(events) == 0 || !strings.Contains(events[0].Message, "older history") {
			t.Fatalf("the change does not say the history is fetched: %v %v", events, err)
		}
	})
}
