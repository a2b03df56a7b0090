package synctask

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCheckpointClaimsOnlyAcknowledgedWork(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tr := newTracker(checkpoint{})
	// Page 1: a, b, c (b and c created at the same instant), stored in batch 1.
	p1 := tr.addPage([]repoKey{{"a", at(1)}, {"b", at(2)}, {"c", at(2)}}, 1)
	// Page 2: d, e, listed in batch 2.
	p2 := tr.addPage([]repoKey{{"d", at(3)}, {"e", at(4)}}, 2)
	tr.repoDone(p1, "a", 2)
	tr.repoDone(p1, "b", 2)
	tr.repoDone(p1, "c", 3)
	tr.repoDone(p2, "e", 3)

	sort := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	// Nothing acknowledged: nothing claimed.
	if diff := cmp.Diff(checkpoint{Version: 1}, tr.snapshot(0, 0, 0), sort, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("acked 0 (-want +got):\n%s", diff)
	}
	// Batch 2 stored: a and b are done, page 1 is not finished (c is in 3).
	if diff := cmp.Diff(checkpoint{Version: 1, Done: []string{"a", "b"}, PullRequests: 5}, tr.snapshot(2, 5, 0), sort); diff != "" {
		t.Errorf("acked 2 (-want +got):\n%s", diff)
	}
	// Batch 3 stored: page 1 folds into the key; b and c share its
	// created_on, so they stay listed as done; e is done on page 2.
	want := checkpoint{Version: 1, After: at(2), Listed: 1, Done: []string{"b", "c", "e"}}
	if diff := cmp.Diff(want, tr.snapshot(3, 0, 0), sort); diff != "" {
		t.Errorf("acked 3 (-want +got):\n%s", diff)
	}
	tr.repoDone(p2, "d", 4)
	tr.expect(5)
	tr.listingFinished(false)
	want = checkpoint{Version: 1, After: at(4), Listed: 4, Done: []string{"e"}, Complete: true, Expected: 5, Unverified: true}
	if diff := cmp.Diff(want, tr.snapshot(4, 0, 0), sort); diff != "" {
		t.Errorf("acked 4 (-want +got):\n%s", diff)
	}

	// A resumed attempt carries the done list until those pages come again.
	got, err := decodeCheckpoint(want.encode())
	if err != nil || !cmp.Equal(want, got, sort) {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if _, err := decodeCheckpoint([]byte(`{"v":99}`)); err == nil {
		t.Error("a checkpoint of an unknown version was accepted")
	}
	if _, err := decodeCheckpoint([]byte(`not json`)); err == nil {
		t.Error("garbage accepted as a checkpoint")
	}
}
