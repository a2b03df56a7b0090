package store_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store/storetest"
)

func TestStaleRecommendationsDoNotOverwriteFresherOnes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, "acme")
		f.withRepositories(t, 1)
		save := func(gen int64, suggested string) error {
			return db.SaveRecommendations(f.ctx, f.acct, f.integ.ID, gen, "h", []store.Recommendation{{RepositoryUUID: repoUUID(0),
				Action: catalog.ActionRegister, SuggestedID: suggested}}, t0)
		}
		suggested := func() string {
			t.Helper()
			d, _, _, err := db.ListDiscovered(f.ctx, f.integ.ID, store.DiscoveredFilter{}, store.Page{})
			if err != nil || len(d) != 1 {
				t.Fatalf("discovered: %+v, %v", d, err)
			}
			return d[0].SuggestedID
		}
		// A replica's run from generation 5 finishes first; one from
		// generation 3 finishes after it.
		if err := save(5, "from-gen-5"); err != nil {
			t.Fatal(err)
		}
		if err := save(3, "from-gen-3"); err != nil {
			t.Fatal(err)
		}
		if got := suggested(); got != "from-gen-5" {
			t.Fatalf("suggested %q after a stale save; want the generation 5 result kept", got)
		}
		if st, _ := db.GetDiscoveryState(f.ctx, f.integ.ID); st.ComputedGen != 5 {
			t.Fatalf("computed generation %d, want 5", st.ComputedGen)
		}

		// Saved concurrently, the newest generation wins whatever the order.
		var wg sync.WaitGroup
		for gen := int64(6); gen <= 9; gen++ {
			wg.Go(func() {
				if err := save(gen, fmt.Sprintf("from-gen-%d", gen)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := suggested(); got != "from-gen-9" {
			t.Fatalf("suggested %q after concurrent saves; want the generation 9 result", got)
		}
	})
}
