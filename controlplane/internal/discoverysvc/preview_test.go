package discoverysvc

import (
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

func TestClassify(t *testing.T) {
	reg := store.Recommendation{Action: catalog.ActionRegister}
	mergeA := store.Recommendation{Action: catalog.ActionMerge, SuggestedID: "ent_a"}
	mergeB := store.Recommendation{Action: catalog.ActionMerge, SuggestedID: "ent_b"}
	none := store.Recommendation{Note: "behaviour MERGE does not register"}
	for _, tc := range []struct {
		name          string
		before, after store.Recommendation
		want          Change
	}{
		{"register both times", reg, reg, Unchanged},
		{"same merge target", mergeA, mergeA, Unchanged},
		{"nothing both times", none, none, Unchanged},
		{"register to merge", reg, mergeA, RegisterToMerge},
		{"merge to register", mergeB, reg, MergeToRegister},
		{"another target", mergeA, mergeB, MergeTargetChanged},
		{"to none", mergeA, none, ToNone},
		{"from none", none, reg, FromNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.before, tc.after); got != tc.want {
				t.Fatalf("classify = %q, want %q", got, tc.want)
			}
		})
	}
}
