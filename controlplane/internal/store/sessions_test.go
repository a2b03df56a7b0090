package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

func TestConsoleSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.CreateAccount(ctx, auth.Account{ID: "acme", CreatedAt: t0}, nil); err != nil {
			t.Fatal(err)
		}
		key := auth.APIKey{ID: "key_1", AccountID: "acme", Name: "console", Hash: auth.Hash("idp_ak_x"), CreatedAt: t0}
		if err := db.CreateAPIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		s := store.ConsoleSession{IDHash: "h1", APIKeyID: key.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
		if err := db.CreateConsoleSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateConsoleSession(ctx, store.ConsoleSession{IDHash: "h2", APIKeyID: "key_gone", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0}); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("session of an unknown key: %v, want not found", err)
		}

		got, err := db.ConsoleSession(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		want := s
		want.APIKeyHash, want.AccountID = key.Hash, "acme"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("session (-want +got):\n%s", diff)
		}

		// Activity moves last_seen_at forwards only.
		if err := db.TouchConsoleSession(ctx, "h1", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchConsoleSession(ctx, "h1", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.ConsoleSession(ctx, "h1"); !got.LastSeenAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("last seen %v, want %v", got.LastSeenAt, t0.Add(time.Minute))
		}

		// Purge removes sessions past their end or idle too long, nothing else.
		idle := store.ConsoleSession{IDHash: "idle", APIKeyID: key.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(12 * time.Hour)}
		ended := store.ConsoleSession{IDHash: "ended", APIKeyID: key.ID, CreatedAt: t0, LastSeenAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(time.Hour)}
		for _, s := range []store.ConsoleSession{idle, ended} {
			if err := db.CreateConsoleSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		n, err := db.PurgeConsoleSessions(ctx, t0.Add(time.Hour), t0.Add(30*time.Second))
		if err != nil || n != 2 {
			t.Fatalf("purge: %d, %v; want 2 sessions", n, err)
		}
		for _, h := range []string{"idle", "ended"} {
			if _, err := db.ConsoleSession(ctx, h); fault.CodeOf(err) != fault.NotFound {
				t.Errorf("purged session %s: %v, want not found", h, err)
			}
		}
		if _, err := db.ConsoleSession(ctx, "h1"); err != nil {
			t.Errorf("active session purged: %v", err)
		}

		if err := db.DeleteConsoleSession(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ConsoleSession(ctx, "h1"); fault.CodeOf(err) != fault.NotFound {
			t.Errorf("deleted session: %v, want not found", err)
		}
		if err := db.DeleteConsoleSession(ctx, "h1"); err != nil {
			t.Errorf("deleting twice: %v", err)
		}
	})
}
