package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func TestCodeOwnersReadsAndWhatToReadNext(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		task := f.mustAcquire(t, t0)
		apply := func(seq int64, records ...record.Record) error {
			_, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
				Sequence: seq, Records: records, Now: t0})
			return err
		}
		if err := apply(1, repoRecords(0, 4)...); err != nil {
			t.Fatal(err)
		}
		gen, err := db.BeginCorrelation(f.ctx, f.acct, f.integ.ID)
		if err != nil {
			t.Fatal(err)
		}
		recs := []store.Recommendation{{RepositoryUUID: repoUUID(0), Action: catalog.ActionRegister},
			{RepositoryUUID: repoUUID(1), Action: catalog.ActionRegister}, {RepositoryUUID: repoUUID(2), Action: catalog.ActionMerge},
			{RepositoryUUID: repoUUID(3), Action: catalog.ActionRegister}}
		if err := db.SaveRecommendations(f.ctx, f.acct, f.integ.ID, gen, "h", recs, t0); err != nil {
			t.Fatal(err)
		}
		check := func(limit int, want ...int) {
			t.Helper()
			got, err := db.CodeOwnersToCheck(f.ctx, f.integ.ID, limit)
			if err != nil {
				t.Fatal(err)
			}
			var wantUUIDs []string
			for _, i := range want {
				wantUUIDs = append(wantUUIDs, repoUUID(i))
			}
			if !slices.Equal(got, wantUUIDs) {
				t.Fatalf("to check (limit %d): %v, want %v", limit, got, wantUUIDs)
			}
		}
		check(10, 0, 1, 3) // Register only; the Merge one is not read
		check(0)

		// Repository 1 read at its current updated_on, 3 before it last changed.
		upToDate := record.CodeOwners{RepositoryUUID: repoUUID(1), Path: ".bitbucket/CODEOWNERS", Owners: []string{"@acme/payments", "@alice"},
			CoversRepository: true, Line: 2, Revision: "main", RepositoryUpdatedOn: repo(1).UpdatedOn}
		stale := record.CodeOwners{RepositoryUUID: repoUUID(3), Revision: "main", RepositoryUpdatedOn: repo(3).UpdatedOn.Add(-time.Hour)}
		if err := apply(2, record.Record{CodeOwners: &upToDate}, record.Record{CodeOwners: &stale}); err != nil {
			t.Fatal(err)
		}
		check(10, 0, 3) // never read first, then stale
		check(1, 0)

		found, err := db.GetCodeOwners(f.ctx, f.integ.ID, repoUUID(1))
		if err != nil || found == nil || found.Path != ".bitbucket/CODEOWNERS" || !found.Covers ||
			!slices.Equal(found.Owners, []string{"@acme/payments", "@alice"}) || !found.CheckedAt.Equal(t0) {
			t.Fatalf("GetCodeOwners = %+v, %v", found, err)
		}
		if none, err := db.GetCodeOwners(f.ctx, f.integ.ID, repoUUID(0)); none != nil || err != nil {
			t.Fatalf("never read: %+v, %v", none, err)
		}
		list, _, _, err := db.ListDiscovered(f.ctx, f.integ.ID, store.DiscoveredFilter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			switch d.UUID {
			case repoUUID(1):
				if d.CodeOwners == nil || d.CodeOwners.Owners[0] != "@acme/payments" {
					t.Fatalf("discovered %s: %+v", d.Slug, d.CodeOwners)
				}
			case repoUUID(3):
				if d.CodeOwners == nil || d.CodeOwners.Path != "" || d.CodeOwners.Owners == nil {
					t.Fatalf("discovered %s without a file: %+v", d.Slug, d.CodeOwners)
				}
			case repoUUID(0):
				if d.CodeOwners != nil {
					t.Fatalf("discovered %s never read: %+v", d.Slug, d.CodeOwners)
				}
			}
		}

		// A read of a repository never uploaded refuses the batch.
		err = apply(3, record.Record{CodeOwners: &record.CodeOwners{RepositoryUUID: repoUUID(99)}})
		if fe := fault.As(err); fe == nil || fe.Violations[0].Field != "records[0].code_owners.repository_uuid" {
			t.Fatalf("unknown repository: %v", err)
		}
	})
}
