package store_test

import (
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

// The totals of the short lists count the account's own rows only, and
// connector names resolve in one call, other accounts' ids left out.
func TestCountsAndConnectorNamesStayInTheAccount(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, b := newFixture(t, db, "acme"), newFixture(t, db, "beta")
		for name, count := range map[string]func() (int64, error){
			"connectors":   func() (int64, error) { return db.CountConnectors(a.ctx, "acme") },
			"integrations": func() (int64, error) { return db.CountIntegrations(a.ctx, "acme") },
			"runs":         func() (int64, error) { return db.CountSyncRuns(a.ctx, "acme", a.integ.ID) },
			"runs of another account's integration": func() (int64, error) {
				n, err := db.CountSyncRuns(a.ctx, "acme", b.integ.ID)
				return n + 1, err // none: 0 reads as 1
			},
		} {
			if n, err := count(); err != nil || n != 1 {
				t.Errorf("%s: %d, %v; want 1", name, n, err)
			}
		}
		names, err := db.ConnectorNames(a.ctx, "acme", []string{a.conn.ID, b.conn.ID, "con_none"})
		if err != nil || len(names) != 1 || names[a.conn.ID] != "bb" {
			t.Errorf("connector names: %v, %v; want only acme's", names, err)
		}
	})
}
