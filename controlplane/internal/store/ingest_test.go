package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ingest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func repoUUID(i int) string { return fmt.Sprintf("{00000000-0000-0000-0000-%012d}", i) }

func repo(i int) *record.Repository {
	return &record.Repository{UUID: repoUUID(i), Slug: fmt.Sprintf("repo-%d", i), Name: fmt.Sprintf("Repo %d", i),
		FullName: fmt.Sprintf("acme/repo-%d", i), Workspace: "acme", ProjectKey: "PAY", MainBranch: "main",
		UpdatedOn: t0.Add(-time.Duration(i) * time.Hour), Raw: json.RawMessage(fmt.Sprintf(`{"uuid":%q,"mainbranch":{"name":"main"}}`, repoUUID(i)))}
}

func repoRecords(from, to int) []record.Record {
	var out []record.Record
	for i := from; i < to; i++ {
		out = append(out, record.Record{Repository: repo(i)})
	}
	return out
}

func hash(i int) string { return fmt.Sprintf("%040x", i) }

func TestApplyBatchExactlyOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		batch := func(seq int64, records []record.Record) (store.BatchResult, error) {
			return db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: seq, Records: records, Now: t0})
		}
		one := append(repoRecords(0, 2),
			record.Record{PullRequest: &record.PullRequest{RepositoryUUID: repoUUID(0), ID: 1, Title: "first", State: "OPEN", UpdatedOn: t0}},
			record.Record{Commit: &record.Commit{RepositoryUUID: repoUUID(0), Hash: hash(1), Message: "init", Parents: []string{}, Date: t0}},
			record.Record{Cursor: &record.Cursor{RepositoryUUID: repoUUID(0), NewestCommitHash: hash(1), CommitsBackfilled: true}},
		)
		if res, err := batch(1, one); err != nil || res.Duplicate || res.Acknowledged != 1 {
			t.Fatalf("batch 1: %+v, %v", res, err)
		}
		// A replay is acknowledged and not applied again.
		if res, err := batch(1, one); err != nil || !res.Duplicate || res.Acknowledged != 1 {
			t.Fatalf("replayed batch 1: %+v, %v", res, err)
		}
		// A gap is refused with the expected sequence.
		_, err := batch(3, repoRecords(5, 6))
		if fe := fault.As(err); fe == nil || fe.Code != fault.OutOfRange || fe.Reason != tasks.ReasonSequenceGap || fe.Metadata["expectedSequence"] != "2" {
			t.Fatalf("gap: %v", err)
		}
		// An invalid record refuses the whole batch, naming the record.
		bad := append(repoRecords(2, 3), record.Record{PullRequest: &record.PullRequest{RepositoryUUID: repoUUID(99), ID: 1}})
		_, err = batch(2, bad)
		if fe := fault.As(err); fe == nil || fe.Code != fault.Invalid || fe.Reason != ingest.ReasonInvalidRecord ||
			fe.Violations[0].Field != "records[1].pull_request.repository_uuid" {
			t.Fatalf("invalid batch: %v", err)
		}
		if _, err := db.GetRepository(f.ctx, f.integ.ID, repoUUID(2)); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("part of a refused batch was applied: %v", err)
		}
		// A rename updates, never duplicates.
		renamed := repo(0)
		renamed.Slug, renamed.Name, renamed.FullName = "payments", "Payments", "acme/payments"
		if _, err := batch(2, []record.Record{{Repository: renamed}}); err != nil {
			t.Fatal(err)
		}
		repos, _, err := db.ListRepositories(f.ctx, f.integ.ID, store.Page{})
		if err != nil || len(repos) != 2 || repos[0].Name != "Payments" || len(repos[0].Raw) == 0 || !repos[0].FirstSeenAt.Equal(t0) {
			t.Fatalf("repositories: %+v, %v", repos, err)
		}
		prs, _ := db.ListPullRequests(f.ctx, f.integ.ID, repoUUID(0))
		commits, _ := db.ListCommits(f.ctx, f.integ.ID, repoUUID(0))
		cursors, _ := db.ListCursors(f.ctx, f.integ.ID)
		if len(prs) != 1 || len(commits) != 1 || len(cursors) != 1 || cursors[0].NewestCommitHash != hash(1) || !cursors[0].CommitsBackfilled {
			t.Fatalf("prs %+v commits %+v cursors %+v", prs, commits, cursors)
		}
		run, _ := db.GetSyncRun(f.ctx, "acme", f.run.ID)
		if diff := cmp.Diff(tasks.Progress{Repositories: 3, PullRequests: 1, Commits: 1}, run.Progress); diff != "" {
			t.Errorf("run counts (-want +got):\n%s", diff)
		}
		reread, _ := db.GetTask(f.ctx, "acme", task.ID)
		if reread.NextSequence() != 3 {
			t.Errorf("next sequence %d, want 3", reread.NextSequence())
		}
	})
}

func TestCompleteListingMarksMissingRepositoriesDeleted(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		sync := func(now time.Time, records []record.Record) store.BatchResult {
			t.Helper()
			task := f.mustAcquire(t, now)
			res, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: 1, Records: records, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
				Outcome: tasks.Succeeded, Now: now}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.QueueSync(f.ctx, store.SyncRequest{AccountID: "acme", IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: now}); err != nil {
				t.Fatal(err)
			}
			return res
		}
		end := record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: 3}}
		sync(t0, append(repoRecords(0, 3), end))
		// Repo 1 disappears; a partial listing (no end marker) deletes nothing.
		sync(t0.Add(time.Hour), repoRecords(0, 1))
		res := sync(t0.Add(2*time.Hour), append(repoRecords(0, 1), record.Record{Repository: repo(2)}, end))
		if diff := cmp.Diff([]string{"acme/repo-1"}, res.Deleted); diff != "" {
			t.Fatalf("deleted (-want +got):\n%s", diff)
		}
		r1, _ := db.GetRepository(f.ctx, f.integ.ID, repoUUID(1))
		if !r1.DeletedAt.Equal(t0.Add(2 * time.Hour)) {
			t.Fatalf("repo-1 deleted at %v", r1.DeletedAt)
		}
		// It comes back: undeleted.
		sync(t0.Add(3*time.Hour), append(repoRecords(0, 3), end))
		r1, _ = db.GetRepository(f.ctx, f.integ.ID, repoUUID(1))
		if !r1.DeletedAt.IsZero() {
			t.Fatalf("reappeared repo still deleted at %v", r1.DeletedAt)
		}
		events, _, _ := db.ListEvents(f.ctx, "acme", f.integ.ID, store.Page{Size: 100})
		n := 0
		for _, e := range events {
			if e.Type == store.EventRepositoryDeleted && e.Repository == "acme/repo-1" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d REPOSITORY_DELETED events for repo-1, want 1", n)
		}
	})
}

func TestReopenKeepsDataAndSkipsAppliedMigrations(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/idp.db"
	db, err := store.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db, "acme")
	db.Close()
	db, err = store.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.GetIntegration(t.Context(), "acme", f.integ.ID); err != nil {
		t.Fatal(err)
	}
}

func TestApplyBatchStoresTextWithNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		r := repo(0)
		r.Description = "pay\x00ments \xff"
		r.Raw = json.RawMessage(`{"uuid":"` + repoUUID(0) + `","description":"pay\u0000ments","big":12345678901234567890}`)
		records := []record.Record{{Repository: r},
			{PullRequest: &record.PullRequest{RepositoryUUID: repoUUID(0), ID: 1, Title: "fix\x00 it", State: "OPEN", UpdatedOn: t0}},
			{Commit: &record.Commit{RepositoryUUID: repoUUID(0), Hash: hash(1), Message: "init\x00ial\n", Parents: []string{}, Date: t0}},
		}
		ingest.Normalize(records) // as the task protocol does before the store
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: "acme", TaskID: task.ID, LeaseToken: task.LeaseToken,
			Sequence: 1, Records: records, Now: t0}); err != nil {
			t.Fatalf("batch with NUL bytes: %v", err)
		}
		got, err := db.GetRepository(f.ctx, f.integ.ID, repoUUID(0))
		if err != nil || got.Description != "payments \uFFFD" {
			t.Fatalf("description %q, %v", got.Description, err)
		}
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(got.Raw))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil || raw["description"] != "payments" || raw["big"] != json.Number("12345678901234567890") {
			t.Fatalf("raw %s, %v", got.Raw, err)
		}
		prs, _ := db.ListPullRequests(f.ctx, f.integ.ID, repoUUID(0))
		commits, _ := db.ListCommits(f.ctx, f.integ.ID, repoUUID(0))
		if len(prs) != 1 || prs[0].Title != "fix it" || len(commits) != 1 || commits[0].Message != "initial\n" {
			t.Fatalf("prs %+v commits %+v", prs, commits)
		}
	})
}
