package discoverysvc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

func catalogKey(e store.StoredEntity) catalogsvc.Key { return catalogsvc.Key{Entity: e.ID} }

type outcome struct {
	OK     bool
	Action catalog.Action
	Entity string // identifier
	Reason string
}

func outcomes(res []discoverysvc.Result) []outcome {
	out := make([]outcome, len(res))
	for i, r := range res {
		out[i] = outcome{OK: r.OK, Action: r.Action, Reason: r.Reason}
		if r.Entity.Entity != nil {
			out[i].Entity = r.Entity.Entity.Identifier
		}
	}
	return out
}

func TestBulkImportWithOneBadItem(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		taken := f.component("billing", "Billing service")
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "billing"), repo(3, "inventory-api")})
		res := f.importItems(
			discoverysvc.Item{Repository: "orders"},
			discoverysvc.Item{Repository: "acme/billing", Action: catalog.ActionRegister},
			discoverysvc.Item{Repository: "{00000000-0000-0000-0000-000000000003}", Type: "library"},
			discoverysvc.Item{Repository: "no-such-repo"},
		)
		want := []outcome{
			{OK: true, Action: catalog.ActionRegister, Entity: "orders"},
			{Action: catalog.ActionRegister, Reason: store.ReasonIdentifierTaken},
			{OK: true, Action: catalog.ActionRegister, Entity: "inventory_api"},
			{Reason: "NOT_FOUND"},
		}
		if diff := cmp.Diff(want, outcomes(res)); diff != "" {
			t.Fatalf("results (-want +got):\n%s", diff)
		}
		if !strings.Contains(res[1].Message, "merge repository acme/billing into it instead") {
			t.Fatalf("the collision must suggest Merge: %s", res[1].Message)
		}
		// The failed item changed nothing: the entity holding the identifier
		// is untouched and the repository is still discovered.
		if got := f.get(taken.ID); len(got.Entity.Integrations) != 0 || len(got.Entity.IngestedProperties) != 0 || got.Entity.Name != "Billing service" {
			t.Fatalf("entity changed by a failed import: %+v", got.Entity)
		}
		billing, ok := f.discovered()["acme/billing"]
		if !ok {
			t.Fatal("billing is no longer discovered")
		}
		// Register would collide, so it is not recommended, and the note
		// says why.
		if billing.Action != "" || !strings.Contains(billing.Note, "identifier billing") {
			t.Fatalf("billing: recommended %q, note %q", billing.Action, billing.Note)
		}
		if got := f.get("inventory_api").Entity; got.Type != "library" || got.Owner != catalog.Unknown || got.Lifecycle != catalog.Unknown {
			t.Fatalf("registered entity: type %q owner %q lifecycle %q", got.Type, got.Owner, got.Lifecycle)
		}
		imported := f.imported()
		if len(imported) != 2 || imported["acme/orders"].Action != catalog.ActionRegister || imported["acme/orders"].Automatic {
			t.Fatalf("imported: %+v", imported)
		}
		var failed []string
		for _, e := range f.events() {
			if e.Type == store.EventImportFailed {
				failed = append(failed, e.Repository+" "+e.Error)
			}
		}
		if diff := cmp.Diff([]string{"no-such-repo NOT_FOUND", "acme/billing IDENTIFIER_TAKEN"}, failed); diff != "" {
			t.Fatalf("failure events, newest first (-want +got):\n%s", diff)
		}
	})
}

// An entity takes the data of one integration: the Discovered list of
// another integration never recommends merging into it, says why, and an
// import that followed the recommendation the user saw before that says
// what it did instead.
func TestRecommendationSkipsEntitiesOtherIntegrationsFeed(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		f.component("orders", "orders")
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "orders-service")})
		seen := f.discovered()["acme/orders"]
		if seen.Action != catalog.ActionMerge || seen.Suggested == nil || seen.Suggested.Entity.Identifier != "orders" || seen.Note != "" {
			t.Fatalf("before: %s into %v, note %q", seen.Action, seen.Suggested, seen.Note)
		}

		// Another integration links its own orders repository to the entity.
		g := f.sibling("legacy", "legacy")
		other := repo(3, "orders")
		other.FullName, other.Workspace = "legacy/orders", "legacy"
		g.sync([]*record.Repository{other})
		if res := g.importItems(discoverysvc.Item{Repository: "legacy/orders"}); !res[0].OK || res[0].Action != catalog.ActionMerge {
			t.Fatalf("legacy import: %+v", res[0])
		}

		// Merge into orders would now fail, and Register cannot create
		// another orders: nothing is recommended, and the note says why.
		now := f.discovered()["acme/orders"]
		if now.Action != "" || now.Suggested != nil {
			t.Fatalf("after: recommended %s into %v, want nothing", now.Action, now.Suggested)
		}
		for _, s := range []string{"orders", "legacy/orders", "integration legacy", "unlink that repository in legacy first"} {
			if !strings.Contains(now.Note, s) {
				t.Errorf("note %q does not say %q", now.Note, s)
			}
		}
		res := f.importItems(discoverysvc.Item{Repository: "acme/orders", SeenAction: catalog.ActionMerge, SeenTarget: "orders"})
		if res[0].OK || res[0].Reason != imports.ReasonNoMatch || !strings.Contains(res[0].Message, "legacy/orders") {
			t.Fatalf("import as seen: %+v", res[0])
		}

		// A caller that saw another recommendation than the current one
		// (Merge into orders for orders-service, which is Register now) is
		// told what was done instead, and why.
		if d := f.discovered()["acme/orders-service"]; d.Action != catalog.ActionRegister {
			t.Fatalf("orders-service: %s", d.Action)
		}
		res = f.importItems(discoverysvc.Item{Repository: "acme/orders-service", SeenAction: catalog.ActionMerge, SeenTarget: "orders"})
		if !res[0].OK || res[0].Action != catalog.ActionRegister {
			t.Fatalf("orders-service import: %+v", res[0])
		}
		if !strings.Contains(res[0].Notice, "registered as orders_service") || !strings.Contains(res[0].Notice, "changed from MERGE into orders") {
			t.Fatalf("notice %q", res[0].Notice)
		}
		// As seen: no notice.
		f.component("billing", "billing")
		f.sync([]*record.Repository{repo(1, "orders"), repo(4, "billing")})
		res = f.importItems(discoverysvc.Item{Repository: "acme/billing", SeenAction: catalog.ActionMerge, SeenTarget: "billing"})
		if !res[0].OK || res[0].Action != catalog.ActionMerge || res[0].Notice != "" {
			t.Fatalf("billing import: %+v", res[0])
		}
	})
}

func TestImportRefusesAlreadyLinkedAndWrongBehaviour(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		f.component("orders", "orders")
		other := f.component("other", "Other")
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "ledger")})
		res := f.importItems(discoverysvc.Item{Repository: "orders"}) // recommended: Merge into orders
		if diff := cmp.Diff([]outcome{{OK: true, Action: catalog.ActionMerge, Entity: "orders"}}, outcomes(res)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		f.clock.Advance(time.Minute)
		res = f.importItems(
			discoverysvc.Item{Repository: "orders", Action: catalog.ActionRegister},
			discoverysvc.Item{Repository: "orders", Target: other.ID},
			discoverysvc.Item{Repository: "orders", Target: "orders"}, // the same entity again: nothing changes
			discoverysvc.Item{Repository: "ledger", Target: "orders"},
			discoverysvc.Item{Repository: "ledger", Action: catalog.ActionMerge, Type: "library"},
			discoverysvc.Item{Repository: "ledger", Type: "not a type"},
			discoverysvc.Item{Repository: "ledger", Target: "nothing"},
		)
		want := []outcome{
			{Action: catalog.ActionRegister, Reason: imports.ReasonAlreadyImported},
			{Action: catalog.ActionMerge, Reason: imports.ReasonAlreadyImported},
			{OK: true, Action: catalog.ActionMerge, Entity: "orders"},
			{Action: catalog.ActionMerge, Reason: imports.ReasonEntityLinked},
			{Action: catalog.ActionMerge, Reason: imports.ReasonInvalidType},
			{Action: catalog.ActionRegister, Reason: imports.ReasonInvalidType},
			{Action: catalog.ActionMerge, Reason: imports.ReasonInvalidTarget},
		}
		if diff := cmp.Diff(want, outcomes(res)); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
		link := f.get("orders").Entity.Integrations[catalog.RepositoryLink(catalog.ScopeAccount, f.integ.ID)]
		if link.Action != catalog.ActionMerge || !link.ImportedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("the first link's action and time are kept: %+v", link)
		}
	})
	for _, tt := range []struct {
		behavior integration.Behavior
		item     discoverysvc.Item
	}{
		{integration.Register, discoverysvc.Item{Repository: "orders", Action: catalog.ActionMerge, Target: "orders"}},
		{integration.Merge, discoverysvc.Item{Repository: "orders", Action: catalog.ActionRegister}},
	} {
		t.Run(string(tt.behavior), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, storetest.SQLite(t), integration.Draft{Behavior: tt.behavior})
			f.component("orders", "orders")
			f.sync([]*record.Repository{repo(1, "orders")})
			if got := f.importItems(tt.item); got[0].Reason != imports.ReasonActionNotAllowed {
				t.Fatalf("%+v", got[0])
			}
		})
	}
}

func TestMergeIsAdditiveAndTheYAMLShowsBothIngestedSections(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		before := f.component("payments", "payments-api", "  system: money", "metadata:", "  description: Takes payments",
			"  annotations:", "    pagerduty.com/service: P123")
		f.sync([]*record.Repository{repo(1, "payments-api")})
		if res := f.importItems(discoverysvc.Item{Repository: "payments-api"}); !res[0].OK {
			t.Fatalf("%+v", res[0])
		}
		got := f.get("payments")
		doc, err := got.Entity.YAML()
		if err != nil {
			t.Fatal(err)
		}
		e, err := catalog.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		base := "metadata.integration.account." + f.integ.ID + ".repository."
		props := "metadata.integration_properties.BitbucketCloud."
		for path, want := range map[string]string{
			"name": "payments-api", "owner": "group:payments", "spec.lifecycle": "production", "spec.system": "money",
			"metadata.description": "Takes payments", "metadata.annotations.pagerduty.com/service": "P123",
			base + "entity_uuid": "{00000000-0000-0000-0000-000000000001}", base + "entity_action": "MERGE",
			base + "imported_at": "2026-11-24T10:00:00Z",
			props + "name":       "payments-api", props + "url": "https://bitbucket.org/acme/payments-api",
			props + "description": "the payments-api repository", props + "default_branch": "main",
			props + "project.key": "PAY", props + "project.name": "Payments", props + "is_private": "true",
			props + "visibility": "private", props + "full_name": "acme/payments-api", props + "language": "go",
		} {
			if diff := cmp.Diff([]string{want}, e.Lookup(catalog.MustParsePath(path))); diff != "" {
				t.Errorf("%s (-want +got):\n%s\n%s", path, diff, doc)
			}
		}
		if !got.Entity.UpdatedAt.After(before.Entity.UpdatedAt) || !got.Entity.CreatedAt.Equal(before.Entity.CreatedAt) {
			t.Errorf("times: created %v → %v, updated %v → %v", before.Entity.CreatedAt, got.Entity.CreatedAt, before.Entity.UpdatedAt, got.Entity.UpdatedAt)
		}
		if diff := cmp.Diff([]string{f.integ.ID}, got.LinkedIntegrations); diff != "" {
			t.Errorf("linked integrations (-want +got):\n%s", diff)
		}
		// A user update keeps the ingested sections.
		if _, err := f.catalog.Update(f.ctx, acct, "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: payments\nname: Payments\nspec:\n  lifecycle: deprecated\n"); err != nil {
			t.Fatal(err)
		}
		if after := f.get("payments").Entity; len(after.Integrations) != 1 || after.IngestedProperties[discoverysvc.Source]["name"] != "payments-api" {
			t.Fatalf("ingested sections lost on update: %+v", after)
		}
	})
}

func TestAutoImportThenUnlinkThenSync(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{AutoImport: true})
		f.component("ledger", "ledger")
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "ledger")})
		imported := f.imported()
		if len(imported) != 2 || !imported["acme/orders"].Automatic || imported["acme/orders"].Action != catalog.ActionRegister ||
			imported["acme/ledger"].Action != catalog.ActionMerge || imported["acme/ledger"].Entity.Entity.Identifier != "ledger" {
			t.Fatalf("after the first sync: %+v", imported)
		}
		if len(f.discovered()) != 0 {
			t.Fatalf("discovered after auto-import: %v", f.discovered())
		}

		if _, err := f.svc.Unlink(f.ctx, acct, "key:test", f.integ.ID, "orders"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Unlink(f.ctx, acct, "key:test", f.integ.ID, "orders"); imports.ReasonNotImported != reasonOf(err) {
			t.Fatalf("second unlink: %v", err)
		}
		d := f.discovered()["acme/orders"]
		if !d.Unlinked || d.Action != catalog.ActionMerge || d.Suggested.Entity.Identifier != "orders" {
			t.Fatalf("unlinked repository in Discovered: %+v", summarize(d))
		}

		// The next sync discovers a new repository and auto-imports it, but
		// not the unlinked one.
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "ledger"), repo(3, "search")})
		imported = f.imported()
		if _, ok := imported["acme/orders"]; ok || !imported["acme/search"].Automatic || len(imported) != 2 {
			t.Fatalf("after the second sync: %+v", imported)
		}
		kept := f.get("orders").Entity
		if len(kept.Integrations) != 0 || kept.IngestedProperties[discoverysvc.Source]["name"] != "orders" {
			t.Fatalf("the unlinked entity keeps its data and loses its link: %+v", kept)
		}
		var types []store.EventType
		for _, e := range f.events() {
			if e.Type != store.EventConfigChanged {
				types = append(types, e.Type)
			}
		}
		want := []store.EventType{store.EventAutoImported, store.EventSync, store.EventUnlinked,
			store.EventAutoImported, store.EventAutoImported, store.EventSync}
		if diff := cmp.Diff(want, types); diff != "" {
			t.Fatalf("events, newest first (-want +got):\n%s", diff)
		}
	})
}

// TestDeletingALinkedEntityReturnsItsRepositories: the catalog service's
// delete unlinks the entity's repositories, which are Discovered again and
// correlate without it.
func TestDeletingALinkedEntityReturnsItsRepositories(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		ledger := f.component("ledger", "ledger")
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "ledger")})
		if res := f.importItems(discoverysvc.Item{Repository: "ledger"}, discoverysvc.Item{Repository: "orders"}); !res[0].OK || !res[1].OK {
			t.Fatalf("import: %+v", res)
		}
		if len(f.discovered()) != 0 {
			t.Fatalf("discovered after import: %v", f.discovered())
		}
		deleted, err := f.catalog.Delete(f.ctx, acct, catalogKey(ledger))
		if err != nil || deleted.ID != ledger.ID {
			t.Fatalf("delete: %+v, %v", deleted, err)
		}
		imported := f.imported()
		if _, ok := imported["acme/ledger"]; ok || len(imported) != 1 {
			t.Fatalf("imported after the delete: %+v", imported)
		}
		d, ok := f.discovered()["acme/ledger"]
		if !ok || d.Action != catalog.ActionRegister || len(d.Matches) != 0 {
			t.Fatalf("ledger after its entity was deleted: %+v (listed %v)", summarize(d), ok)
		}
		if _, err := f.catalog.Get(f.ctx, acct, catalogKey(ledger)); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("get the deleted entity: %v", err)
		}
	})
}

func TestAutoImportTakesOnlyNewDiscoveries(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{Behavior: integration.Merge})
		f.component("search", "search")
		f.sync([]*record.Repository{repo(1, "orders")})
		in, err := f.svc.SetAutoImport(f.ctx, acct, "key:test", f.integ.ID, true)
		if err != nil || !in.AutoImport {
			t.Fatalf("set auto-import: %+v, %v", in, err)
		}
		// orders was waiting already; search is new and matches; ledger is
		// new but under Merge has nothing to merge into.
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "search"), repo(3, "ledger")})
		imported := f.imported()
		if len(imported) != 1 || imported["acme/search"].Action != catalog.ActionMerge {
			t.Fatalf("imported: %+v", imported)
		}
		if d := f.discovered(); len(d) != 2 || d["acme/ledger"].Action != "" {
			t.Fatalf("discovered: %+v", d)
		}
	})
}

func TestSyncKeepsLinkedEntitiesFresh(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		a := repo(1, "orders")
		f.sync([]*record.Repository{a})
		if res := f.importItems(discoverysvc.Item{Repository: "orders"}); !res[0].OK {
			t.Fatalf("%+v", res[0])
		}
		props := func() map[string]any { return f.get("orders").Entity.IngestedProperties[discoverysvc.Source] }

		// Renamed, described, re-branched and made public in Bitbucket.
		renamed := *a
		renamed.Name, renamed.Slug, renamed.FullName = "Order Service", "order-service", "acme/order-service"
		renamed.Description, renamed.MainBranch, renamed.IsPrivate = "Takes orders", "develop", false
		renamed.Raw = rawJSON(&renamed)
		f.sync([]*record.Repository{&renamed})
		got := props()
		for k, want := range map[string]any{"name": "Order Service", "full_name": "acme/order-service", "description": "Takes orders",
			"default_branch": "develop", "visibility": "public", "is_private": false} {
			if got[k] != want {
				t.Errorf("%s = %v, want %v", k, got[k], want)
			}
		}
		if e := f.get("orders").Entity; e.Name != "orders" || e.Description != "the orders repository" {
			t.Errorf("the entity's own fields changed: name %q, description %q", e.Name, e.Description)
		}

		// Deleted in Bitbucket: flagged, not deleted.
		f.sync(nil)
		if e := f.get("orders"); e.Entity.IngestedProperties[discoverysvc.Source]["deleted"] != true || !e.SourceDeleted {
			t.Fatalf("deleted repository not flagged: %+v, source deleted %v", e.Entity.IngestedProperties, e.SourceDeleted)
		}
		if imp := f.imported()["acme/order-service"]; !imp.DeletedAt.After(t0) {
			t.Fatalf("imported row of a deleted repository: %+v", imp)
		}

		// Back again, then suspended before the run's end is handled: the
		// entity is left alone.
		f.sync([]*record.Repository{&renamed})
		if e := f.get("orders"); e.SourceDeleted || e.Entity.IngestedProperties[discoverysvc.Source]["deleted"] != nil {
			t.Fatal("a repository that came back is still flagged deleted")
		}
		again := renamed
		again.Name = "Renamed while suspended"
		again.Raw = rawJSON(&again)
		f.syncThenSuspend([]*record.Repository{&again})
		if got := props()["name"]; got != "Order Service" {
			t.Fatalf("a suspended integration changed the entity: name %v", got)
		}
	})
}

// syncThenSuspend syncs repos, suspends the integration after the run ends
// and before discovery hears of it.
func (f *fixture) syncThenSuspend(repos []*record.Repository) {
	f.t.Helper()
	if _, _, err := f.db.QueueSync(f.ctx, store.SyncRequest{AccountID: acct, IntegrationID: f.integ.ID, Trigger: tasks.Manual, Now: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
	task, _, err := f.db.AcquireTask(f.ctx, store.AcquireRequest{AccountID: acct, DelegateID: "d1", Now: f.clock.Now(), LeaseFor: time.Minute})
	if err != nil {
		f.t.Fatal(err)
	}
	var records []record.Record
	for _, r := range repos {
		records = append(records, record.Record{Repository: r})
	}
	if _, err := f.db.ApplyBatch(f.ctx, store.BatchRequest{AccountID: acct, TaskID: task.ID, LeaseToken: task.LeaseToken, Sequence: 1,
		Records: records, Now: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
	res, err := f.db.CompleteTask(f.ctx, store.CompleteRequest{AccountID: acct, TaskID: task.ID, LeaseToken: task.LeaseToken,
		Outcome: tasks.Succeeded, Now: f.clock.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.db.SuspendIntegration(f.ctx, acct, f.integ.ID, "key:test", f.clock.Now()); err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.SyncFinished(f.ctx, *res.Run); err != nil {
		f.t.Fatal(err)
	}
}

func TestActivityOfALinkedEntity(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		uuid := repo(1, "orders").UUID
		pr := func(n int64, state string, age time.Duration) record.Record {
			return record.Record{PullRequest: &record.PullRequest{RepositoryUUID: uuid, ID: n, Title: "change " + state, State: state,
				Author: "Ada", UpdatedOn: t0.Add(-age)}}
		}
		commit := func(hash, msg string, age time.Duration) record.Record {
			return record.Record{Commit: &record.Commit{RepositoryUUID: uuid, Hash: hash, Message: msg, AuthorRaw: "Ada <ada@example.com>",
				AuthorUser: "Ada Lovelace", Parents: []string{}, Date: t0.Add(-age)}}
		}
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "other")}, pr(1, "MERGED", 3*time.Hour), pr(2, "OPEN", time.Hour),
			pr(3, "OPEN", 2*time.Hour), pr(4, "DECLINED", 4*time.Hour), commit(strings.Repeat("a", 40), "first\n\nbody", 2*time.Hour), commit(strings.Repeat("b", 40), "second", time.Hour))
		if res := f.importItems(discoverysvc.Item{Repository: "orders"}); !res[0].OK {
			t.Fatalf("%+v", res[0])
		}
		_, a, err := f.catalog.Activity(f.ctx, acct, catalogsvc.Key{Entity: "orders", Kind: "component"}, 2)
		if err != nil {
			t.Fatal(err)
		}
		var prs, commits []string
		for _, p := range a.RecentPullRequests {
			prs = append(prs, p.Repository+" "+p.Title)
		}
		for _, c := range a.RecentCommits {
			commits = append(commits, c.Hash+" "+c.AuthorUser)
		}
		if a.Open != 2 || a.Merged != 1 || a.Declined != 1 || a.Commits != 2 {
			t.Errorf("counts: %+v", a)
		}
		if diff := cmp.Diff([]string{"acme/orders change OPEN", "acme/orders change OPEN"}, prs); diff != "" {
			t.Errorf("recent pull requests (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{strings.Repeat("b", 40) + " Ada Lovelace", strings.Repeat("a", 40) + " Ada Lovelace"}, commits); diff != "" {
			t.Errorf("recent commits (-want +got):\n%s", diff)
		}
	})
}

// failingImports fails the imports of chosen repositories: fail returns
// the error of the n-th attempt (from 1), or nil to let it through.
type failingImports struct {
	*store.DB
	mu       sync.Mutex
	attempts map[string]int
	fail     map[string]func(n int) error
}

func (s *failingImports) ImportRepository(ctx context.Context, r store.ImportRequest) (store.ImportOutcome, error) {
	s.mu.Lock()
	s.attempts[r.RepositoryUUID]++
	n := s.attempts[r.RepositoryUUID]
	s.mu.Unlock()
	if fail := s.fail[r.RepositoryUUID]; fail != nil {
		if err := fail(n); err != nil {
			return store.ImportOutcome{}, err
		}
	}
	return s.DB.ImportRepository(ctx, r)
}

func TestAutoImportRetriesTransientFailuresOnly(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{AutoImport: true})
		orders, ledger, search := repo(1, "orders"), repo(2, "ledger"), repo(3, "search")
		deadlock := errors.New("deadlock detected (SQLSTATE 40P01)")
		flaky := &failingImports{DB: db, attempts: map[string]int{}, fail: map[string]func(int) error{
			// Fails once, as a deadlock would.
			orders.UUID: func(n int) error {
				if n == 1 {
					return deadlock
				}
				return nil
			},
			// Fails for good.
			ledger.UUID: func(int) error {
				return fault.New(fault.AlreadyExists, store.ReasonIdentifierTaken, "a Component with identifier ledger already exists")
			},
			// Fails transiently every time.
			search.UUID: func(int) error { return deadlock },
		}}
		f.svc = discoverysvc.New(flaky, f.clock, zerolog.Nop())
		all := []*record.Repository{orders, ledger, search}

		failures := func() map[string]int {
			out := map[string]int{}
			for _, e := range f.events() {
				if e.Type == store.EventImportFailed {
					out[e.Repository]++
				}
			}
			return out
		}
		f.sync(all)
		if len(f.imported()) != 0 {
			t.Fatalf("imported after the first sync: %v", f.imported())
		}
		if diff := cmp.Diff(map[string]int{"acme/ledger": 1}, failures()); diff != "" {
			t.Fatalf("IMPORT_FAILED events after the first sync (-want +got):\n%s", diff)
		}

		// The next sync retries orders, which now succeeds, but not ledger.
		f.sync(all)
		if im := f.imported(); len(im) != 1 || !im["acme/orders"].Automatic {
			t.Fatalf("imported after the second sync: %v", im)
		}
		for i := 0; i < 5; i++ {
			f.sync(all)
		}
		want := map[string]int{orders.UUID: 2, ledger.UUID: 1, search.UUID: 5}
		if diff := cmp.Diff(want, flaky.attempts); diff != "" {
			t.Errorf("import attempts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{"acme/ledger": 1, "acme/search": 1}, failures()); diff != "" {
			t.Errorf("IMPORT_FAILED events, one per final failure (-want +got):\n%s", diff)
		}
	})
}
