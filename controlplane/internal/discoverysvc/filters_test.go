package discoverysvc_test

import (
	"slices"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// A repository the filter leaves out is neither discovered nor imported
// automatically; ignored ones are not recommended, not imported by "all",
// and come back when un-ignored.
func TestFilterAndIgnoreKeepRepositoriesOutOfImports(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{AutoImport: true, Filter: repofilter.Filter{ExcludeNames: []string{"sandbox-*"}}})
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "sandbox-orders")})
		imported := f.imported()
		if len(imported) != 1 || !imported["acme/orders"].Automatic {
			t.Fatalf("auto-import with a filter: %+v", imported)
		}
		if len(f.discovered()) != 0 {
			t.Fatalf("discovered %v", f.discovered())
		}
		res := f.importItems(discoverysvc.Item{Repository: "sandbox-orders"})
		if res[0].OK || res[0].Reason != imports.ReasonExcludedByFilter {
			t.Fatalf("import of a filtered-out repository: %+v", res[0])
		}

		if _, err := f.svc.SetAutoImport(f.ctx, acct, "key:test", f.integ.ID, false); err != nil {
			t.Fatal(err)
		}
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "sandbox-orders"), repo(3, "search"), repo(4, "ledger"), repo(5, "legacy")})
		out, err := f.svc.Ignore(f.ctx, acct, "key:ops", f.integ.ID, []string{"search", "orders", "nope"}, "")
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		for _, r := range out {
			reasons = append(reasons, r.Reason)
		}
		if !slices.Equal(reasons, []string{"", imports.ReasonAlreadyImported, "NOT_FOUND"}) {
			t.Fatalf("ignore results %+v", out)
		}
		if out, err = f.svc.Ignore(f.ctx, acct, "key:ops", f.integ.ID, nil, "LE*"); err != nil || len(out) != 2 {
			t.Fatalf("ignore by pattern: %+v, %v", out, err) // ledger, legacy; not sandbox-orders (excluded)
		}
		if len(f.discovered()) != 0 {
			t.Fatalf("discovered after ignoring: %v", f.discovered())
		}
		res, err = f.svc.Import(f.ctx, acct, "key:test", f.integ.ID, nil, true)
		if err != nil || len(res) != 0 {
			t.Fatalf("import --all took ignored repositories: %+v, %v", res, err)
		}
		if _, err := f.svc.Ignore(f.ctx, acct, "key:ops", f.integ.ID, []string{"x"}, "a/b"); err == nil {
			t.Fatal("a pattern with / accepted")
		}
		if _, err := f.svc.Unignore(f.ctx, acct, "key:ops", f.integ.ID, nil, "*"); err != nil {
			t.Fatal(err)
		}
		d := f.discovered()
		if len(d) != 3 || d["acme/search"].Action != catalog.ActionRegister {
			t.Fatalf("after unignore: %v", d)
		}
	})
}

// The preview reports, without storing anything, what a correlation
// change and a filter change would do.
func TestPreview(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, integration.Draft{})
		f.component("orders", "orders")
		f.component("payments", "pay")
		f.sync([]*record.Repository{repo(1, "orders"), repo(2, "payments-api"), repo(3, "search")})
		before := f.integ
		after := before
		after.Correlation = []integration.CorrelationRule{{IngestedPath: "name", CatalogPath: "name", Operator: integration.Contains}}
		p, err := f.svc.Preview(f.ctx, before, after)
		if err != nil {
			t.Fatal(err)
		}
		if p.Repositories != 3 || p.Counts[discoverysvc.RegisterToMerge] != 1 || len(p.Examples) != 1 ||
			p.Examples[0].Repository != "acme/payments-api" || p.Examples[0].ToEntity != "payments" {
			t.Fatalf("correlation preview: %+v", p)
		}
		after = before
		after.Behavior, after.Type = integration.Merge, ""
		if p, err = f.svc.Preview(f.ctx, before, after); err != nil || p.Counts[discoverysvc.ToNone] != 2 {
			t.Fatalf("behavior preview: %+v, %v", p, err)
		}
		after = before
		after.Filter = repofilter.Filter{ExcludeNames: []string{"search"}}
		if p, err = f.svc.Preview(f.ctx, before, after); err != nil || p.Leaving != 1 || p.Repositories != 2 {
			t.Fatalf("filter preview: %+v, %v", p, err)
		}
		if d := f.discovered(); d["acme/orders"].Action != catalog.ActionMerge || d["acme/payments-api"].Action != catalog.ActionRegister || len(d) != 3 {
			t.Fatalf("a preview changed the Discovered list: %v", d)
		}
	})
}
