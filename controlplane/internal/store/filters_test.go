package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

func discoveredSlugs(t *testing.T, f *fixture, view store.DiscoveredView) (slugs []string, rows []store.Discovered) {
	t.Helper()
	rows, _, total, err := f.db.ListDiscovered(f.ctx, f.integ.ID, store.DiscoveredFilter{View: view}, store.Page{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		slugs = append(slugs, r.Slug)
	}
	if int(total) != len(rows) {
		t.Fatalf("total %d, rows %d", total, len(rows))
	}
	return slugs, rows
}

// The filter's verdict is stored with every repository: at ingest, and for
// all of them when the filter changes. A complete listing made with a
// filter deletes only what that filter would have listed. Ignored
// repositories leave the Discovered list for the Ignored view.
func TestFilterVerdictsDeletionsAndIgnore(t *testing.T) {
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
		setFilter := func(flt repofilter.Filter) {
			t.Helper()
			if _, err := db.UpdateIntegration(f.ctx, "acme", f.integ.ID, store.IntegrationChange{Actor: "t", Now: t0,
				Apply: func(in *integration.Integration) ([]string, error) {
					return integration.Apply(in, integration.Changes{Mask: []string{integration.FieldFilter}, Draft: integration.Draft{Filter: flt}}, nil, t0)
				}}); err != nil {
				t.Fatal(err)
			}
		}
		ops := repo(9)
		ops.ProjectKey = "OPS"
		sync(t0, append(repoRecords(0, 4), record.Record{Repository: ops}))
		if got, _ := discoveredSlugs(t, f, store.ViewDiscovered); len(got) != 5 {
			t.Fatalf("no filter: discovered %v", got)
		}

		// A filter change takes repositories out at once, with the reason.
		setFilter(repofilter.Filter{IncludeProjects: []string{"PAY"}, ExcludeNames: []string{"repo-1"}})
		got, _ := discoveredSlugs(t, f, store.ViewDiscovered)
		if diff := cmp.Diff([]string{"repo-0", "repo-2", "repo-3"}, got); diff != "" {
			t.Fatalf("discovered with the filter (-want +got):\n%s", diff)
		}
		_, rows := discoveredSlugs(t, f, store.ViewExcluded)
		reasons := map[string]string{}
		for _, r := range rows {
			reasons[r.Slug] = r.ExcludedReason
		}
		if diff := cmp.Diff(map[string]string{"repo-1": "matches the excluded name repo-1",
			"repo-9": "project OPS is not among the included projects (PAY)"}, reasons); diff != "" {
			t.Fatalf("excluded view (-want +got):\n%s", diff)
		}

		// A new repository is judged as it arrives. The listing was made
		// with the project part: OPS's repository was not listed and is not
		// deleted; PAY's unseen repo-3 is.
		newOne := repo(5)
		newOne.Slug = "repo-1-copy"
		lw := repofilter.Filter{IncludeProjects: []string{"PAY"}}
		res := sync(t0.Add(time.Hour), append(repoRecords(0, 3), record.Record{Repository: newOne},
			record.Record{ListingComplete: &record.ListingComplete{RepositoryCount: 4, ListedWith: &lw}}))
		if diff := cmp.Diff([]string{"acme/repo-3"}, res.Deleted); diff != "" {
			t.Fatalf("deleted (-want +got):\n%s", diff)
		}
		if r, _ := db.GetRepository(f.ctx, f.integ.ID, ops.UUID); !r.DeletedAt.IsZero() {
			t.Fatalf("a repository the listing's filter left out was taken as deleted")
		}
		if got, _ := discoveredSlugs(t, f, store.ViewDiscovered); !slices.Contains(got, "repo-1-copy") || slices.Contains(got, "repo-1") {
			t.Fatalf("discovered after the sync %v", got)
		}

		// Ignore: out of the list, in the Ignored view, through syncs.
		var checked []bool
		ignore := store.IgnoreRequest{AccountID: "acme", IntegrationID: f.integ.ID, RepositoryUUID: repoUUID(0), Actor: "key:ops", Now: t0,
			Check: func(linked bool) error { checked = append(checked, linked); return nil }}
		for range 2 { // twice: the second changes nothing
			if err := db.IgnoreRepository(f.ctx, ignore); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(checked, []bool{false, false}) {
			t.Fatalf("check saw linked %v", checked)
		}
		sync(t0.Add(2*time.Hour), repoRecords(0, 3))
		got, _ = discoveredSlugs(t, f, store.ViewDiscovered)
		ignoredSlugs, ignoredRows := discoveredSlugs(t, f, store.ViewIgnored)
		if slices.Contains(got, "repo-0") || !slices.Equal(ignoredSlugs, []string{"repo-0"}) || ignoredRows[0].IgnoredBy != "key:ops" ||
			!ignoredRows[0].IgnoredAt.Equal(t0) {
			t.Fatalf("discovered %v, ignored %v", got, ignoredRows)
		}
		st, err := db.GetRepositoryState(f.ctx, f.integ.ID, repoUUID(0))
		if err != nil || !st.Ignored {
			t.Fatalf("state %+v, %v", st, err)
		}
		cands, err := db.IgnoreCandidates(f.ctx, f.integ.ID, true)
		if err != nil || len(cands) != 1 || cands[0].UUID != repoUUID(0) {
			t.Fatalf("ignored candidates %v, %v", cands, err)
		}
		cands, err = db.IgnoreCandidates(f.ctx, f.integ.ID, false)
		if err != nil || len(cands) != 3 { // repo-2, repo-3 (deleted, still listed), repo-1-copy
			t.Fatalf("candidates %v, %v", cands, err)
		}
		// A refused check writes nothing.
		refuse := ignore
		refuse.RepositoryUUID = repoUUID(2)
		refuse.Check = func(bool) error { return errors.New("no") }
		if err := db.IgnoreRepository(f.ctx, refuse); err == nil || !strings.Contains(err.Error(), "no") {
			t.Fatalf("refused ignore: %v", err)
		}
		if st, _ := db.GetRepositoryState(f.ctx, f.integ.ID, repoUUID(2)); st.Ignored {
			t.Fatal("a refused ignore was stored")
		}
		if was, err := db.UnignoreRepository(f.ctx, ignore); err != nil || !was {
			t.Fatalf("unignore: %v %v", was, err)
		}
		if was, err := db.UnignoreRepository(f.ctx, ignore); err != nil || was {
			t.Fatalf("second unignore: %v %v", was, err)
		}
		if got, _ := discoveredSlugs(t, f, store.ViewDiscovered); !slices.Contains(got, "repo-0") {
			t.Fatalf("un-ignored repository not back: %v", got)
		}
	})
}
