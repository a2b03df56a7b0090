package store_test

import (
	"slices"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// The Discovered list reads in the order people expect, accented names
// with their letter, on both databases, and every page size walks the same
// order without losing or repeating a repository.
func TestDiscoveredOrdersNamesByLetterAndPagesAlike(t *testing.T) {
	t.Parallel()
	names := []string{"zebra", "Ärger", "beta", "École", "alpha", "Zürich", "eagle", "Øresund", "apple", "Apple", "café", "cafe", "Ωmega", "日本"}
	want := []string{"alpha", "apple", "Apple", "Ärger", "beta", "cafe", "café", "eagle", "École", "Øresund", "zebra", "Zürich", "Ωmega", "日本"}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		var records []record.Record
		for i, n := range names {
			r := repo(i)
			r.Name = n
			records = append(records, record.Record{Repository: r})
		}
		task := f.mustAcquire(t, t0)
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
			Sequence: 1, Records: records, Now: t0}); err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1, 3, 5, 50} {
			var got []string
			token := ""
			for {
				page, next, total, err := db.ListDiscovered(f.ctx, f.integ.ID, store.DiscoveredFilter{}, store.Page{Size: size, Token: token})
				if err != nil {
					t.Fatal(err)
				}
				if total != int64(len(names)) {
					t.Fatalf("total %d, want %d", total, len(names))
				}
				for _, d := range page {
					got = append(got, d.Name)
				}
				if next == "" {
					break
				}
				token = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages of %d: %q\nwant %q", size, got, want)
			}
		}
	})
}

// Rows stored before the sort key existed get theirs when the migration
// that adds it runs.
func TestSortKeyMigrationFillsExistingRows(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		records := []record.Record{}
		for i, n := range []string{"zeta", "Ärger", "beta"} {
			r := repo(i)
			r.Name = n
			records = append(records, record.Record{Repository: r})
		}
		task := f.mustAcquire(t, t0)
		if _, err := db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
			Sequence: 1, Records: records, Now: t0}); err != nil {
			t.Fatal(err)
		}
		if err := store.RunScript(f.ctx, db, `UPDATE repositories SET sort_key = ''`); err != nil {
			t.Fatal(err)
		}
		if err := store.FillSortKeys(f.ctx, db); err != nil {
			t.Fatal(err)
		}
		page, _, _, err := db.ListDiscovered(f.ctx, f.integ.ID, store.DiscoveredFilter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range page {
			got = append(got, d.Name)
		}
		if want := []string{"Ärger", "beta", "zeta"}; !slices.Equal(got, want) {
			t.Fatalf("after the migration step: %q, want %q", got, want)
		}
	})
}
