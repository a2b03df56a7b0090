package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Targeted refreshes run beside the full sync, coalesce until a delegate
// takes them, and a suspend stops them with the full sync.
func TestQueueRefreshCoalescesUntilLeased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acct-refresh")
		req := func(slugs ...string) (tasks.SyncRun, bool) {
			t.Helper()
			run, coalesced, err := db.QueueRefresh(f.ctx, store.TargetedRequest{AccountID: f.acct, IntegrationID: f.integ.ID,
				Slugs: slugs, Trigger: tasks.Webhook, Now: t0.Add(time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			return run, coalesced
		}
		first, coalesced := req("b", "a")
		if coalesced || first.ID == f.run.ID || !slices.Equal(first.Targeted, []string{"a", "b"}) || first.Trigger != tasks.Webhook {
			t.Fatalf("first refresh: %+v coalesced=%v; want a new run beside the full sync, slugs sorted", first, coalesced)
		}
		again, coalesced := req("a", "c")
		if !coalesced || again.ID != first.ID || !slices.Equal(again.Targeted, []string{"a", "b", "c"}) {
			t.Fatalf("second refresh: %+v coalesced=%v; want the first one with c added", again, coalesced)
		}
		// The full sync is leased first (queued first), then the refresh.
		if task, ok := f.acquire(t, t0.Add(2*time.Second)); !ok || task.RunID != f.run.ID {
			t.Fatalf("first lease: %+v %v; want the full sync", task, ok)
		}
		task, ok := f.acquire(t, t0.Add(2*time.Second))
		if !ok || task.RunID != first.ID || !slices.Equal(task.Repositories, []string{"a", "b", "c"}) {
			t.Fatalf("second lease: %+v %v; want the refresh of a, b, c", task, ok)
		}
		// Leased: the next request gets a refresh of its own.
		third, coalesced := req("a")
		if coalesced || third.ID == first.ID {
			t.Fatalf("refresh after the lease: %+v coalesced=%v; want a new one", third, coalesced)
		}
		sc, err := db.SuspendIntegration(f.ctx, f.acct, f.integ.ID, "test", t0.Add(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Ended) != 1 || sc.Ended[0].ID != third.ID {
			t.Fatalf("suspend ended %+v; want the queued refresh (the leased ones are asked to stop)", sc.Ended)
		}
		if _, _, err := db.QueueRefresh(f.ctx, store.TargetedRequest{AccountID: f.acct, IntegrationID: f.integ.ID, Slugs: []string{"a"},
			Trigger: tasks.Manual, Now: t0.Add(4 * time.Second)}); err == nil {
			t.Fatal("refresh of a suspended integration queued")
		}
	})
}

// Deliveries are stored once per X-Request-UUID and claimed once per lease.
func TestDeliveriesStoredOnceAndClaimed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acct-deliveries")
		d := store.Delivery{IntegrationID: f.integ.ID, AccountID: f.acct, RequestUUID: "r1", Event: "repo:push", Attempt: 1,
			Body: []byte(`{}`), ReceivedAt: t0}
		for i, want := range []bool{false, true} {
			dup, err := db.AddDelivery(f.ctx, d)
			if err != nil || dup != want {
				t.Fatalf("add #%d: duplicate=%v err=%v; want %v", i+1, dup, err, want)
			}
		}
		got, err := db.ClaimDeliveries(f.ctx, t0, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].RequestUUID != "r1" || got[0].Tries != 0 {
			t.Fatalf("claim: %+v %v", got, err)
		}
		if again, _ := db.ClaimDeliveries(f.ctx, t0.Add(time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed again within the lease: %+v", again)
		}
		if again, _ := db.ClaimDeliveries(f.ctx, t0.Add(2*time.Minute), time.Minute, 10); len(again) != 1 || again[0].Tries != 1 {
			t.Fatalf("claim after the lease ran out: %+v; want it once more", again)
		}
		if err := db.FinishDelivery(f.ctx, d, "applied", false, t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if again, _ := db.ClaimDeliveries(f.ctx, t0.Add(time.Hour), time.Minute, 10); len(again) != 0 {
			t.Fatalf("a finished delivery claimed: %+v", again)
		}
		stats, err := db.WebhookDeliveryStats(f.ctx, f.acct)
		if err != nil || stats[f.integ.ID].Count != 1 {
			t.Fatalf("stats: %+v %v", stats, err)
		}
		if n, err := db.PruneDeliveries(f.ctx, t0.Add(2*time.Minute), 10); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) applied at the cut-off; want none", n, err)
		}
		if n, err := db.PruneDeliveries(f.ctx, t0.Add(3*time.Minute), 10); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v); want the applied delivery", n, err)
		}
		if dup, err := db.AddDelivery(f.ctx, d); err != nil || dup {
			t.Fatalf("after pruning, the request id is forgotten: duplicate=%v %v", dup, err)
		}
	})
}

// A pull request from a delivery and from a sync page: whichever is newer
// wins, in either order, so a page fetched before a merge and uploaded
// after its delivery does not reopen the pull request.
func TestPullRequestNewerWinsAcrossSyncAndDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acct-newer")
		task, ok := f.acquire(t, t0)
		if !ok {
			t.Fatal("no task")
		}
		repo := &record.Repository{UUID: "{r1}", Slug: "svc", Name: "svc", FullName: "acct-newer/svc", Workspace: "acct-newer"}
		pr := func(state string, at time.Time) *record.PullRequest {
			return &record.PullRequest{RepositoryUUID: "{r1}", ID: 7, Title: state, State: state, UpdatedOn: at}
		}
		batch := func(seq int64, recs ...record.Record) {
			t.Helper()
			if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: seq, Records: recs, Now: t0}); err != nil {
				t.Fatal(err)
			}
		}
		state := func() string {
			t.Helper()
			prs, err := db.ListPullRequests(f.ctx, f.integ.ID, "{r1}")
			if err != nil || len(prs) != 1 {
				t.Fatalf("pull requests: %+v %v", prs, err)
			}
			return prs[0].State
		}
		batch(1, record.Record{Repository: repo}, record.Record{PullRequest: pr("OPEN", t0)})
		res, err := db.ApplyHook(f.ctx, store.HookApply{AccountID: f.acct, IntegrationID: f.integ.ID, RequestUUID: "r1",
			PullRequest: pr("MERGED", t0.Add(time.Minute)), Now: t0})
		if err != nil || res.Stale || res.Unknown {
			t.Fatalf("delivery: %+v %v", res, err)
		}
		batch(2, record.Record{PullRequest: pr("OPEN", t0)}) // a page fetched before the merge
		if got := state(); got != "MERGED" {
			t.Fatalf("after an older sync page: %s, want MERGED", got)
		}
		res, err = db.ApplyHook(f.ctx, store.HookApply{AccountID: f.acct, IntegrationID: f.integ.ID, RequestUUID: "r2",
			PullRequest: pr("OPEN", t0.Add(30*time.Second)), Now: t0})
		if err != nil || !res.Stale || state() != "MERGED" {
			t.Fatalf("older delivery: %+v %v, state %s; want stale, MERGED", res, err, state())
		}
		batch(3, record.Record{PullRequest: pr("DECLINED", t0.Add(2*time.Minute))},
			record.Record{Cursor: &record.Cursor{RepositoryUUID: "{r1}", NewestCommitHash: "abc"}})
		if got := state(); got != "DECLINED" {
			t.Fatalf("after a newer sync page: %s, want DECLINED", got)
		}
		// A targeted refresh gets the cursors of its repositories only.
		for _, tc := range []struct {
			slugs []string
			want  int
		}{{nil, 1}, {[]string{"svc"}, 1}, {[]string{"other"}, 0}, {[]string{"other", "svc"}, 1}} {
			if cs, err := db.ListCursors(f.ctx, f.integ.ID, tc.slugs...); err != nil || len(cs) != tc.want {
				t.Fatalf("cursors of %v: %+v %v; want %d", tc.slugs, cs, err, tc.want)
			}
		}
	})
}
