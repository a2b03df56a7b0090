package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

func TestAccountsKeysTokensFlags(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: t0}, nil); err != nil {
			t.Fatal(err)
		}
		err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: t0}, nil)
		if got := fault.CodeOf(err); got != fault.AlreadyExists {
			t.Fatalf("second CreateAccount: code %v (%v), want already exists", got, err)
		}
		if on, err := db.FeatureFlag(ctx, "acme", auth.FlagAutoDiscovery); err != nil || on {
			t.Fatalf("flag never set: got %v, %v; want off", on, err)
		}
		for _, want := range []bool{true, false, true} {
			if err := db.SetFeatureFlag(ctx, "acme", auth.FlagAutoDiscovery, want, t0); err != nil {
				t.Fatal(err)
			}
			if on, err := db.FeatureFlag(ctx, "acme", auth.FlagAutoDiscovery); err != nil || on != want {
				t.Fatalf("flag: got %v, %v; want %v", on, err, want)
			}
		}
		if err := db.SetFeatureFlag(ctx, "nobody", auth.FlagAutoDiscovery, true, t0); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("flag of unknown account: %v, want not found", err)
		}

		key := auth.APIKey{ID: "key_1", AccountID: "acme", Name: "ci", Hash: auth.Hash("idp_ak_x"),
			Permissions: []auth.Permission{auth.IntegrationEdit, auth.CatalogView}, CreatedAt: t0}
		if err := db.CreateAPIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		got, err := db.APIKeyByHash(ctx, key.Hash)
		if err != nil {
			t.Fatal(err)
		}
		key.Permissions = []auth.Permission{auth.CatalogView, auth.IntegrationEdit} // stored sorted
		if diff := cmp.Diff(key, got); diff != "" {
			t.Errorf("api key (-want +got):\n%s", diff)
		}
		if _, err := db.APIKeyByHash(ctx, auth.Hash("idp_ak_other")); fault.CodeOf(err) != fault.NotFound {
			t.Errorf("unknown key: %v, want not found", err)
		}

		tok := auth.DelegateToken{ID: "dt_1", AccountID: "acme", Name: "delegates", Hash: auth.Hash("idp_dt_x"), CreatedAt: t0}
		if err := db.CreateDelegateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		gotTok, err := db.DelegateTokenByHash(ctx, tok.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tok, gotTok); diff != "" {
			t.Errorf("delegate token (-want +got):\n%s", diff)
		}
	})
}

func TestRegisterDelegateKeepsID(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: t0}, nil); err != nil {
			t.Fatal(err)
		}
		first, _, err := db.RegisterDelegate(ctx, store.Delegate{ID: "dlg_a", AccountID: "acme", Name: "d1", Tags: []string{"x"},
			Version: "1", Concurrency: 2, RegisteredAt: t0, LastSeenAt: t0}, 5)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := db.RegisterDelegate(ctx, store.Delegate{ID: "dlg_b", AccountID: "acme", Name: "d1", Tags: []string{"y", "z"},
			Version: "2", Concurrency: 4, RegisteredAt: t0.Add(1), LastSeenAt: t0.Add(1)}, 5)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != first.ID {
			t.Fatalf("re-register changed id: %s -> %s", first.ID, again.ID)
		}
		got, err := db.GetDelegate(ctx, "acme", first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"y", "z"}, got.Tags); diff != "" || got.Version != "2" || got.Concurrency != 4 {
			t.Errorf("updated delegate: %+v", got)
		}
		if _, err := db.GetDelegate(ctx, "other", first.ID); fault.CodeOf(err) != fault.NotFound {
			t.Errorf("delegate seen from another account: %v", err)
		}
	})
}
