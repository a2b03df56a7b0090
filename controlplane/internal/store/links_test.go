package store_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
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

func TestMergeRefusesAnEntityAnotherIntegrationFeeds(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		f.withRepositories(t, 1)
		draft, err := integration.New(integration.Draft{Name: "beta"}, f.conn, t0)
		if err != nil {
			t.Fatal(err)
		}
		draft.ID, draft.Workspace = ids.New("int"), "beta"
		if _, err := db.CreateIntegration(f.ctx, draft, store.SyncRequest{AccountID: f.acct, Trigger: tasks.Manual, Now: t0}); err != nil {
			t.Fatal(err)
		}
		beta := &fixture{db: db, ctx: f.ctx, acct: f.acct}
		beta.withRepositories(t, 1)
		ent := f.createEntity(t, "payments")

		// Both integrations merge a repository into the entity at once:
		// one wins, the other is refused naming it.
		names := map[string]string{f.integ.ID: f.integ.Name, draft.ID: draft.Name}
		errs := map[string]error{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for id := range names {
			wg.Go(func() {
				_, err := db.ImportRepository(f.ctx, store.ImportRequest{AccountID: f.acct, IntegrationID: id,
					RepositoryUUID: repoUUID(0), Action: catalog.ActionMerge, TargetID: ent.ID, Now: t0,
					Event: store.Event{Type: store.EventImported},
					Apply: func(e *catalog.Entity) error {
						return e.Link(catalog.RepositoryLink(catalog.ScopeAccount, id),
							catalog.Link{EntityUUID: repoUUID(0), Action: catalog.ActionMerge, ImportedAt: t0})
					}})
				mu.Lock()
				errs[id] = err
				mu.Unlock()
			})
		}
		wg.Wait()
		var won, lost string
		for id, err := range errs {
			if err == nil {
				won = id
			} else {
				lost = id
			}
		}
		if won == "" || lost == "" {
			t.Fatalf("want one merge to win and one to be refused: %v", errs)
		}
		fe := fault.As(errs[lost])
		if fe == nil || fe.Reason != imports.ReasonEntityLinked || fe.Metadata["integrationId"] != won ||
			!strings.Contains(fe.Message, "integration "+names[won]) || !strings.Contains(fe.Message, "acme/repo-0") {
			t.Fatalf("refused merge: %v", errs[lost])
		}
		got, err := db.GetEntity(f.ctx, f.acct, store.EntityKey{Ref: ent.ID})
		if err != nil || !slices.Equal(got.LinkedIntegrations, []string{won}) || len(got.Entity.Integrations) != 1 {
			t.Fatalf("entity after the merges: %+v, %v", got, err)
		}
	})
}
