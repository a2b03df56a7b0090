package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

func TestEntitiesByIDStaysInTheAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ids := map[string][]string{}
		for _, acct := range []string{"acme", "other"} {
			if err := db.CreateAccount(ctx, auth.Account{ID: acct, CreatedAt: t0}, nil); err != nil {
				t.Fatal(err)
			}
			var ents []*catalog.Entity
			for _, n := range []string{"a", "b"} {
				ents = append(ents, &catalog.Entity{Kind: "Component", Type: "service", Identifier: n, Name: n, Owner: "group:x", Lifecycle: "production"})
			}
			created, err := db.CreateEntities(ctx, acct, ents, t0)
			if err != nil {
				t.Fatal(err)
			}
			ids[acct] = created
		}
		got, err := db.EntitiesByID(ctx, "acme", append(slices.Clone(ids["acme"]), append(ids["other"], "ent_unknown")...))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("got %d entities, want acme's 2: %v", len(got), got)
		}
		for _, id := range ids["acme"] {
			if got[id].AccountID != "acme" || got[id].Entity == nil {
				t.Errorf("entity %s: %+v", id, got[id])
			}
		}
	})
}
