package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

// withRepositories stores repositories 0..n-1 of the fixture's integration.
func (f *fixture) withRepositories(t testing.TB, n int) {
	t.Helper()
	task := f.mustAcquire(t, t0)
	if _, err := f.db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: f.acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
		Sequence: 1, Records: repoRecords(0, n), Now: t0}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) createEntity(t testing.TB, identifier string) store.StoredEntity {
	t.Helper()
	e, err := f.db.CreateEntity(f.ctx, f.acct, &catalog.Entity{Kind: "Component", Type: "service", Identifier: identifier,
		Name: identifier, Lifecycle: "production"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// editDuring returns a hook that, called inside another transaction's
// read-modify-write of the entity, starts a user edit adding tag and gives
// it time to finish; wait returns when the edit is stored. Without a lock on
// the entity row, the edit commits inside the window and the other
// transaction then overwrites it.
func editDuring(t *testing.T, f *fixture, entityID, tag string) (hook func(), wait func()) {
	done := make(chan error, 1)
	hook = func() {
		go func() {
			_, err := f.db.UpdateEntity(f.ctx, f.acct, store.EntityKey{Ref: entityID}, func(e *catalog.Entity) (*catalog.Entity, error) {
				e.Tags = append(e.Tags, tag)
				return e, nil
			}, t0)
			done <- err
		}()
		select {
		case err := <-done:
			done <- err
		case <-time.After(300 * time.Millisecond):
		}
	}
	wait = func() {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	return hook, wait
}

func TestEntityWritesDoNotLoseConcurrentEdits(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		f.withRepositories(t, 1)
		ent := f.createEntity(t, "payments")
		slot := catalog.RepositoryLink(catalog.ScopeAccount, f.integ.ID)

		hook, wait := editDuring(t, f, ent.ID, "edited-during-merge")
		if _, err := db.ImportRepository(f.ctx, store.ImportRequest{AccountID: f.acct, IntegrationID: f.integ.ID,
			RepositoryUUID: repoUUID(0), Action: catalog.ActionMerge, TargetID: ent.ID, Now: t0,
			Event: store.Event{Type: store.EventImported},
			Apply: func(e *catalog.Entity) error {
				hook()
				return e.Link(slot, catalog.Link{EntityUUID: repoUUID(0), Action: catalog.ActionMerge, ImportedAt: t0})
			}}); err != nil {
			t.Fatal(err)
		}
		wait()

		hook, wait = editDuring(t, f, ent.ID, "edited-during-refresh")
		if ok, err := db.RefreshLinkedEntity(f.ctx, store.RefreshRequest{AccountID: f.acct, IntegrationID: f.integ.ID,
			RepositoryUUID: repoUUID(0), EntityID: ent.ID, PropsHash: "h2", Now: t0,
			Apply: func(e *catalog.Entity) error {
				hook()
				return e.SetIngested("BitbucketCloud", map[string]any{"repository": "acme/repo-0"})
			}}); err != nil || !ok {
			t.Fatalf("refresh: %v, %v", ok, err)
		}
		wait()

		got, err := db.GetEntity(f.ctx, f.acct, store.EntityKey{Ref: ent.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range []string{"edited-during-merge", "edited-during-refresh"} {
			if !slices.Contains(got.Entity.Tags, tag) {
				t.Errorf("tag %s lost: tags %v", tag, got.Entity.Tags)
			}
		}
		if _, ok := got.Entity.Integrations[slot]; !ok {
			t.Errorf("merge link lost: %v", got.Entity.Integrations)
		}
		if got.Entity.IngestedProperties["BitbucketCloud"]["repository"] != "acme/repo-0" {
			t.Errorf("refresh lost: %v", got.Entity.IngestedProperties)
		}
	})
}
