package discoverysvc_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// summary is what a test compares of a Discovered row.
type summary struct {
	Action     catalog.Action
	Suggested  string   // identifier
	Candidates []string // identifiers, best first, "~" marking a Contains match
	Matched    []string
	Kind, Type string
}

func summarize(d discoverysvc.Discovered) summary {
	s := summary{Action: d.Action, Kind: d.Kind, Type: d.Type}
	if d.Suggested != nil {
		s.Suggested = d.Suggested.Entity.Identifier
	}
	for _, m := range d.Matches {
		id := m.Entity.Entity.Identifier
		if !m.Exact {
			id = "~" + id
		}
		s.Candidates = append(s.Candidates, id)
		s.Matched = append(s.Matched, m.MatchedValue)
	}
	return s
}

func TestRecommendationsFollowTheBehaviour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		behavior integration.Behavior
		want     map[string]summary
	}{
		{integration.RegisterAndMerge, map[string]summary{
			"acme/payments-api": {Action: catalog.ActionMerge, Suggested: "payments", Candidates: []string{"payments"},
				Matched: []string{"payments-api"}, Kind: "Component", Type: "service"},
			"acme/billing": {Action: catalog.ActionRegister, Kind: "Component", Type: "service"},
		}},
		// Register: no merge recommendation, and no candidates offered.
		{integration.Register, map[string]summary{
			"acme/payments-api": {Action: catalog.ActionRegister, Kind: "Component", Type: "service"},
			"acme/billing":      {Action: catalog.ActionRegister, Kind: "Component", Type: "service"},
		}},
		// Merge: no register recommendation; without a match, nothing. Any
		// type of the kind may match.
		{integration.Merge, map[string]summary{
			"acme/payments-api": {Action: catalog.ActionMerge, Suggested: "payments", Candidates: []string{"payments"},
				Matched: []string{"payments-api"}, Kind: "Component"},
			"acme/billing": {Kind: "Component"},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.behavior), func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, integration.Draft{Behavior: tt.behavior})
				f.component("payments", "payments-api")
				f.entity("apiVersion: harness.io/v1", "kind: API", "type: openapi", "identifier: billing_api", "name: billing")
				f.sync([]*record.Repository{repo(1, "payments-api"), repo(2, "billing")})
				got := map[string]summary{}
				for name, d := range f.discovered() {
					got[name] = summarize(d)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("discovered (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestCorrelationContainsOnStringsAndLists(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{Correlation: rules(
			integration.CorrelationRule{IngestedPath: "name", CatalogPath: "metadata.tags", Operator: integration.Contains})})
		f.component("pay", "Pay", "metadata:", "  tags: [payments, platform]")
		f.component("pay_service", "Pay service", "metadata:", "  tags: [other, Payments-Service]")
		f.component("exact", "Exact", "metadata:", "  tags: [payments-service-api]")
		f.component("unrelated", "Unrelated", "metadata:", "  tags: [ledger]")
		f.sync([]*record.Repository{repo(1, "payments-service-api"), repo(2, "search")})
		d := f.discovered()
		want := summary{Action: catalog.ActionMerge, Suggested: "exact", Kind: "Component", Type: "service",
			Candidates: []string{"exact", "~pay_service", "~pay"}, Matched: []string{"payments-service-api", "Payments-Service", "payments"}}
		if diff := cmp.Diff(want, summarize(d["acme/payments-service-api"])); diff != "" {
			t.Fatalf("several candidates, exact first, then longest (-want +got):\n%s", diff)
		}
		if got := summarize(d["acme/search"]); got.Action != catalog.ActionRegister || len(got.Candidates) != 0 {
			t.Fatalf("no match: %+v", got)
		}
	})
}

func TestCorrelationRulesMustAllHold(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{Correlation: rules(
			integration.CorrelationRule{IngestedPath: "name", CatalogPath: "name", Operator: integration.Contains},
			integration.CorrelationRule{IngestedPath: "project.key", CatalogPath: "metadata.annotations.bitbucket.org/project-key"})})
		f.component("orders_pay", "orders", "metadata:", "  annotations:", "    bitbucket.org/project-key: PAY")
		f.component("orders_ops", "orders", "metadata:", "  annotations:", "    bitbucket.org/project-key: OPS")
		f.sync([]*record.Repository{repo(1, "orders-api")})
		got := summarize(f.discovered()["acme/orders-api"])
		want := summary{Action: catalog.ActionMerge, Suggested: "orders_pay", Candidates: []string{"~orders_pay"},
			Matched: []string{"orders, PAY"}, Kind: "Component", Type: "service"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

func TestNoRulesMatchTheIdentifierIgnoringCase(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{Correlation: rules()})
		f.component("Payments_API", "something else")
		f.sync([]*record.Repository{repo(1, "payments-api")})
		got := summarize(f.discovered()["acme/payments-api"])
		if got.Action != catalog.ActionMerge || got.Suggested != "Payments_API" {
			t.Fatalf("identifier fallback: %+v", got)
		}
	})
}

func TestRecommendationsFollowCatalogAndRuleChanges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		f.sync([]*record.Repository{repo(1, "orders-api")})
		action := func() catalog.Action { return f.discovered()["acme/orders-api"].Action }
		if got := action(); got != catalog.ActionRegister {
			t.Fatalf("before any entity: %s", got)
		}
		// An entity of the kind is created: the next read sees the match.
		e := f.component("orders", "orders-api")
		if got := action(); got != catalog.ActionMerge {
			t.Fatalf("after create: %s", got)
		}
		// Renamed so that Equals no longer holds.
		if _, err := f.catalog.Update(f.ctx, acct, "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: orders\nname: orders\nspec:\n  lifecycle: production\n"); err != nil {
			t.Fatal(err)
		}
		if got := action(); got != catalog.ActionRegister {
			t.Fatalf("after rename: %s", got)
		}
		// The rules change to Contains: orders-api contains orders.
		if _, err := f.db.UpdateIntegration(f.ctx, acct, f.integ.ID, store.IntegrationChange{Now: f.clock.Now(),
			Apply: func(in *integration.Integration) ([]string, error) {
				in.Correlation = []integration.CorrelationRule{{IngestedPath: "name", CatalogPath: "name", Operator: integration.Contains}}
				return []string{"correlation"}, nil
			}}); err != nil {
			t.Fatal(err)
		}
		if got := action(); got != catalog.ActionMerge {
			t.Fatalf("after the rule change: %s", got)
		}
		// Deleted: Register again.
		if _, err := f.catalog.Delete(f.ctx, acct, catalogKey(e)); err != nil {
			t.Fatal(err)
		}
		if got := action(); got != catalog.ActionRegister {
			t.Fatalf("after delete: %s", got)
		}
	})
}

func TestBackgroundRefreshRecomputesStaleIntegrations(t *testing.T) {
	t.Parallel()
	f := newFixture(t, storetest.SQLite(t), integration.Draft{})
	f.sync([]*record.Repository{repo(1, "orders")})
	f.component("orders", "orders")
	st, err := f.db.GetDiscoveryState(f.ctx, f.integ.ID)
	if err != nil || st.ComputedGen >= st.DirtyGen {
		t.Fatalf("a catalog change of the kind must make recommendations stale: %+v, %v", st, err)
	}
	if err := f.svc.RefreshStale(f.ctx); err != nil {
		t.Fatal(err)
	}
	st, _ = f.db.GetDiscoveryState(f.ctx, f.integ.ID)
	if st.ComputedGen < st.DirtyGen {
		t.Fatalf("still stale after RefreshStale: %+v", st)
	}
	rows, _, _, err := f.db.ListDiscovered(f.ctx, f.integ.ID, store.DiscoveredFilter{Action: catalog.ActionMerge}, store.Page{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("merge recommendations stored: %d, %v", len(rows), err)
	}
}
