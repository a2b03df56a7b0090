package catalogsvc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

const acct = "acme"

// newService is the catalog service over a real database with one account;
// changes counts the calls of Changed.
func newService(t *testing.T, db *store.DB) (svc *catalogsvc.Service, changes *int) {
	t.Helper()
	if err := db.CreateAccount(context.Background(), auth.Account{ID: acct, CreatedAt: t0}, nil); err != nil {
		t.Fatal(err)
	}
	svc = catalogsvc.New(db, clock.NewFake(t0))
	changes = new(int)
	svc.Changed = func() { *changes++ }
	return svc, changes
}

func component(identifier, typ, scope string) string {
	return "apiVersion: harness.io/v1\nkind: Component\ntype: " + typ + "\nidentifier: " + identifier + "\nname: " + identifier +
		"\n" + scope + "spec:\n  lifecycle: production\n"
}

// violations returns the field violations of an Invalid fault.
func violations(t *testing.T, err error) map[string]string {
	t.Helper()
	f := fault.As(err)
	if f == nil || f.Code != fault.Invalid {
		t.Fatalf("got %v, want an Invalid fault", err)
	}
	out := map[string]string{}
	for _, v := range f.Violations {
		out[v.Field] = v.Description
	}
	return out
}

func TestInvalidYAMLNamesTheFieldAndItsLine(t *testing.T) {
	t.Parallel()
	svc, changes := newService(t, storetest.SQLite(t))
	ctx := context.Background()
	for _, tc := range []struct {
		name, yaml string
		want       map[string]string
	}{
		{"empty", " \n", map[string]string{"yaml": "required: an IDP 2.0 entity document"}},
		{"malformed YAML has no field, only a line", "kind: [\n", map[string]string{"yaml": "line 1: malformed YAML: did not find expected node content"}},
		{"each bad field with its line", "apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: p\nmetadata:\n  integration: []\n",
			map[string]string{"spec.lifecycle": "line 1: required for kind Component", "metadata.integration": "line 6: must be a mapping"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Create(ctx, acct, tc.yaml)
			if diff := cmp.Diff(tc.want, violations(t, err)); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
			_, err = svc.Update(ctx, acct, tc.yaml)
			if diff := cmp.Diff(tc.want, violations(t, err)); diff != "" {
				t.Errorf("update (-want +got):\n%s", diff)
			}
		})
	}
	if *changes != 0 {
		t.Errorf("Changed called %d times for rejected documents", *changes)
	}
}

// TestCreateDropsSubmittedIngestedSections: a document copied from a linked
// entity must not claim its repositories.
func TestCreateDropsSubmittedIngestedSections(t *testing.T) {
	t.Parallel()
	svc, changes := newService(t, storetest.SQLite(t))
	copied := &catalog.Entity{Kind: "Component", Type: "service", Identifier: "copy", Name: "copy", Owner: "unknown", Lifecycle: "production",
		IngestedProperties: map[string]map[string]any{"BitbucketCloud": {"uuid": "{u1}"}}}
	if err := copied.Link(catalog.RepositoryLink(catalog.ScopeKey("", ""), "int-1"), catalog.Link{EntityUUID: "{u1}", Action: catalog.ActionRegister, ImportedAt: t0}); err != nil {
		t.Fatal(err)
	}
	doc, err := copied.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "integration_properties") {
		t.Fatalf("the test document has no ingested sections:\n%s", doc)
	}
	created, err := svc.Create(context.Background(), acct, string(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(context.Background(), acct, catalogsvc.Key{Entity: created.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.Entity.Integrations != nil || got.Entity.IngestedProperties != nil {
		t.Errorf("ingested sections kept: %+v, %+v", got.Entity.Integrations, got.Entity.IngestedProperties)
	}
	if *changes != 1 {
		t.Errorf("Changed called %d times, want 1", *changes)
	}
}

func TestKeysAreValidated(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, storetest.SQLite(t))
	ctx := context.Background()
	for _, tc := range []struct {
		key   catalogsvc.Key
		field string
	}{
		{catalogsvc.Key{Entity: "  "}, "key.entity"},
		{catalogsvc.Key{Entity: "payments", Scope: "project/x"}, "key.scope"},
		{catalogsvc.Key{Entity: "payments", Scope: "org/Not Valid"}, "key.scope"},
	} {
		_, err := svc.Get(ctx, acct, tc.key)
		if _, ok := violations(t, err)[tc.field]; !ok {
			t.Errorf("get %+v: %v, want a violation of %s", tc.key, err, tc.field)
		}
		_, err = svc.Delete(ctx, acct, tc.key)
		if _, ok := violations(t, err)[tc.field]; !ok {
			t.Errorf("delete %+v: %v, want a violation of %s", tc.key, err, tc.field)
		}
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc, _ := newService(t, db)
		ctx := context.Background()
		for _, y := range []string{
			component("orders", "service", ""),
			component("orders_lib", "library", ""),
			component("payments", "service", "orgIdentifier: acme\n"),
			component("payments_web", "website", "orgIdentifier: acme\nprojectIdentifier: shop\n"),
			"apiVersion: harness.io/v1\nkind: API\ntype: openapi\nidentifier: orders_api\nname: Orders\n",
		} {
			if _, err := svc.Create(ctx, acct, y); err != nil {
				t.Fatal(err)
			}
		}
		list := func(f catalogsvc.Filter) []string {
			t.Helper()
			var ids []string
			p := store.Page{Size: 2}
			for {
				page, next, total, err := svc.List(ctx, acct, f, p)
				if err != nil {
					t.Fatalf("list %+v: %v", f, err)
				}
				for _, e := range page {
					ids = append(ids, e.Entity.Identifier)
				}
				if next == "" {
					if int(total) != len(ids) {
						t.Errorf("list %+v: total %d, %d across the pages", f, total, len(ids))
					}
					return ids
				}
				p.Token = next
			}
		}
		for _, tc := range []struct {
			filter catalogsvc.Filter
			want   []string
		}{
			{catalogsvc.Filter{}, []string{"orders_api", "orders", "orders_lib", "payments", "payments_web"}},
			{catalogsvc.Filter{Kind: "component", Type: "service"}, []string{"orders", "payments"}},
			{catalogsvc.Filter{Scope: "account"}, []string{"orders_api", "orders", "orders_lib"}},
			{catalogsvc.Filter{Scope: "org/acme"}, []string{"payments"}},
			{catalogsvc.Filter{Scope: "org/acme/project/shop"}, []string{"payments_web"}},
			{catalogsvc.Filter{Search: " ORDERS "}, []string{"orders_api", "orders", "orders_lib"}},
			{catalogsvc.Filter{Kind: "Component", Search: "web"}, []string{"payments_web"}},
			{catalogsvc.Filter{Kind: "Group"}, nil},
		} {
			if diff := cmp.Diff(tc.want, list(tc.filter)); diff != "" {
				t.Errorf("list %+v (-want +got):\n%s", tc.filter, diff)
			}
		}
		_, _, _, err := svc.List(ctx, acct, catalogsvc.Filter{Scope: "everywhere"}, store.Page{})
		if _, ok := violations(t, err)["scope"]; !ok {
			t.Errorf("bad scope: %v", err)
		}
		_, _, _, err = svc.List(ctx, acct, catalogsvc.Filter{}, store.Page{Token: "not-a-token"})
		if _, ok := violations(t, err)["page_token"]; !ok {
			t.Errorf("bad token: %v", err)
		}
	})
}

func TestScopeNamesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ org, project, name string }{
		{"", "", "account"}, {"acme", "", "org/acme"}, {"acme", "shop", "org/acme/project/shop"},
	} {
		if got := catalogsvc.ScopeName(tc.org, tc.project); got != tc.name {
			t.Errorf("ScopeName(%q, %q) = %q, want %q", tc.org, tc.project, got, tc.name)
		}
		key, err := catalogsvc.ScopeKey(tc.name, "scope")
		if err != nil || key != catalog.ScopeKey(tc.org, tc.project) {
			t.Errorf("ScopeKey(%q) = %q, %v", tc.name, key, err)
		}
	}
}
