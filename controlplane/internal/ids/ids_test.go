package ids

import (
	"slices"
	"strings"
	"testing"
)

func TestNewSortsInCreationOrderAndDiffers(t *testing.T) {
	var got []string
	for range 1000 {
		got = append(got, New("run"))
	}
	if !slices.IsSorted(got) {
		t.Error("ids minted one after another do not sort in that order")
	}
	if len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Error("two ids are equal")
	}
	for _, id := range got {
		if !strings.HasPrefix(id, "run_") || len(id) != len("run_")+23 {
			t.Fatalf("id %q", id)
		}
	}
}
