package rpc_test

import (
	"encoding/json"
	"fmt"
	"testing"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/shared/record"
)

// A page of integrations costs the same statements whatever its size: the
// last run of each comes in the page's query, not one query per row.
func TestListIntegrationsStatementsDoNotGrowWithThePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	h.addIntegrations(60)
	one, many := h.listStatements(1), h.listStatements(60)
	if many != one {
		t.Fatalf("a page of 60 integrations ran %d statements, a page of 1 ran %d: the page must cost the same", many, one)
	}
}

// Every list answers a page with the same statements whatever its size:
// views are built per page, never with a query per row.
func TestListsCostTheSameWhateverThePageSize(t *testing.T) {
	t.Parallel()
	h, _ := newDiscoveryHarness(t)
	ctx := h.mgmt()
	const n = 12
	var repos []*record.Repository
	for i := range n {
		slug := fmt.Sprintf("svc-%02d", i)
		if i%2 == 0 { // half the repositories match an entity
			yaml := fmt.Sprintf("apiVersion: harness.io/v1\nkind: Component\ntype: service\nidentifier: e%02d\nname: %s\nowner: group:x\nspec:\n  lifecycle: production\n", i, slug)
			if _, err := h.catalog.CreateEntity(ctx, &catalogv1.CreateEntityRequest{Yaml: yaml}); err != nil {
				t.Fatal(err)
			}
		}
		uuid := fmt.Sprintf("{00000000-0000-0000-0000-%012d}", i)
		repos = append(repos, &record.Repository{UUID: uuid, Slug: slug, Name: slug, FullName: "acme/" + slug, Workspace: "acme",
			Raw: json.RawMessage(`{"uuid":"` + uuid + `","name":"` + slug + `"}`)})
	}
	conn := h.createConnector("bb", "acme")
	in := h.createIntegration("main", conn.GetId()).GetIntegration()
	h.syncRepos(in.GetId(), repos...)
	var items []*integrationv1.ImportItem
	for i := 0; i < n; i += 4 {
		items = append(items, &integrationv1.ImportItem{Repository: repos[i].Slug})
	}
	if _, err := h.discovery.ImportRepositories(ctx, &integrationv1.ImportRepositoriesRequest{Integration: "main", Items: items}); err != nil {
		t.Fatal(err)
	}

	lists := map[string]func(size int32) int{
		"ListDiscovered": func(size int32) int {
			res, err := h.discovery.ListDiscovered(ctx, &integrationv1.ListDiscoveredRequest{Integration: "main", PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			return len(res.GetRepositories())
		},
		"ListImported": func(size int32) int {
			res, err := h.discovery.ListImported(ctx, &integrationv1.ListImportedRequest{Integration: "main", PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			return len(res.GetRepositories())
		},
		"ListEntities": func(size int32) int {
			res, err := h.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			return len(res.GetEntities())
		},
		"ListEvents": func(size int32) int {
			res, err := h.integrations.ListEvents(ctx, &integrationv1.ListEventsRequest{Integration: "main", PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			return len(res.GetEvents())
		},
		"ListIntegrations": func(size int32) int {
			res, err := h.integrations.ListIntegrations(ctx, &integrationv1.ListIntegrationsRequest{PageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			return len(res.GetIntegrations())
		},
	}
	for name, list := range lists {
		list(1) // recommendations are fresh from here on
		cost := func(size int32) (int64, int) {
			before := h.statements.Load()
			got := list(size)
			return h.statements.Load() - before, got
		}
		// Pages of two and more hold rows with and without matches, so
		// both pay for resolving entities once.
		few, _ := cost(2)
		many, got := cost(n)
		if got < 3 && name != "ListIntegrations" {
			t.Fatalf("%s: a page of %d items cannot show a per-row cost", name, got)
		}
		if many != few {
			t.Errorf("%s: a page of %d ran %d statements, a page of 2 ran %d", name, got, many, few)
		}
	}
}
