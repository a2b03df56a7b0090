package catalog

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func component(t *testing.T) *Entity {
	t.Helper()
	e, err := Parse([]byte(`apiVersion: harness.io/v1
kind: Component
type: service
identifier: payments
name: Payments
owner: group:payments
spec:
  lifecycle: production
  system: billing
`))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	firstImport = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	laterImport = firstImport.Add(72 * time.Hour)
)

func TestLinkKeepsTheFirstActionAndTime(t *testing.T) {
	t.Parallel()
	e := component(t)
	k := RepositoryLink(ScopeAccount, "bb_acme")
	if err := e.Link(k, Link{EntityUUID: "{r1}", Action: ActionRegister, ImportedAt: firstImport}); err != nil {
		t.Fatal(err)
	}
	if err := e.Link(k, Link{EntityUUID: "{r1}", Action: ActionMerge, ImportedAt: laterImport}); err != nil {
		t.Fatal(err)
	}
	want := Link{EntityUUID: "{r1}", Action: ActionRegister, ImportedAt: firstImport}
	if diff := cmp.Diff(want, e.Integrations[k]); diff != "" {
		t.Errorf("link after a second merge (-want +got):\n%s", diff)
	}
}

func TestLinkRefusesASecondRecordInTheSameSlot(t *testing.T) {
	t.Parallel()
	e := component(t)
	k := RepositoryLink(ScopeAccount, "bb_acme")
	if err := e.Link(k, Link{EntityUUID: "{r1}", Action: ActionMerge, ImportedAt: firstImport}); err != nil {
		t.Fatal(err)
	}
	err := e.Link(k, Link{EntityUUID: "{r2}", Action: ActionMerge, ImportedAt: laterImport})
	if !errors.Is(err, ErrAlreadyLinked) {
		t.Fatalf("second record: err = %v, want ErrAlreadyLinked", err)
	}
	if got := e.Integrations[k].EntityUUID; got != "{r1}" {
		t.Errorf("slot now links %s, want the first record kept", got)
	}
	// Another integration, or the same one in another scope, is another slot.
	for _, other := range []LinkKey{RepositoryLink(ScopeAccount, "bb_other"), RepositoryLink("account/default", "bb_acme")} {
		if err := e.Link(other, Link{EntityUUID: "{r2}", Action: ActionMerge, ImportedAt: laterImport}); err != nil {
			t.Errorf("Link(%+v) = %v", other, err)
		}
	}
}

func TestLinkValidates(t *testing.T) {
	t.Parallel()
	good := Link{EntityUUID: "{r1}", Action: ActionMerge, ImportedAt: firstImport}
	tests := []struct {
		name string
		key  LinkKey
		link Link
	}{
		{"bad scope", RepositoryLink("org/x", "bb"), good},
		{"dotted integration id", RepositoryLink(ScopeAccount, "bb.acme"), good},
		{"no record kind", LinkKey{Scope: ScopeAccount, IntegrationID: "bb"}, good},
		{"no uuid", RepositoryLink(ScopeAccount, "bb"), Link{Action: ActionMerge, ImportedAt: firstImport}},
		{"bad action", RepositoryLink(ScopeAccount, "bb"), Link{EntityUUID: "u", Action: "LINK", ImportedAt: firstImport}},
		{"no time", RepositoryLink(ScopeAccount, "bb"), Link{EntityUUID: "u", Action: ActionMerge}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := component(t)
			var ve *ValidationError
			if err := e.Link(tc.key, tc.link); !errors.As(err, &ve) {
				t.Fatalf("Link = %v, want a *ValidationError", err)
			}
			if len(e.Integrations) != 0 {
				t.Error("a refused link was stored")
			}
		})
	}
}

func TestUnlinkKeepsEntityAndIngestedData(t *testing.T) {
	t.Parallel()
	e := component(t)
	k := RepositoryLink(ScopeAccount, "bb_acme")
	if err := e.Link(k, Link{EntityUUID: "{r1}", Action: ActionMerge, ImportedAt: firstImport}); err != nil {
		t.Fatal(err)
	}
	props := map[string]any{"name": "payments", "default_branch": "main"}
	if err := e.SetIngested("BitbucketCloud", props); err != nil {
		t.Fatal(err)
	}
	if !e.Unlink(k) {
		t.Fatal("Unlink found no link")
	}
	if e.Unlink(k) {
		t.Error("second Unlink found a link")
	}
	if len(e.Integrations) != 0 {
		t.Errorf("links after unlink: %v", e.Integrations)
	}
	if diff := cmp.Diff(props, e.IngestedProperties["BitbucketCloud"]); diff != "" {
		t.Errorf("ingested properties after unlink (-want +got):\n%s", diff)
	}
	// A new import after an unlink is a new first link.
	if err := e.Link(k, Link{EntityUUID: "{r2}", Action: ActionMerge, ImportedAt: laterImport}); err != nil {
		t.Fatal(err)
	}
	if got := e.Integrations[k].ImportedAt; !got.Equal(laterImport) {
		t.Errorf("imported_at = %v, want the new import's time", got)
	}
}

func TestSetIngestedReplacesOnlyThatOverlay(t *testing.T) {
	t.Parallel()
	e := component(t)
	before := component(t)
	if err := e.SetIngested("BitbucketCloud", map[string]any{"name": "old", "stale": true}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetIngested("PagerDuty", map[string]any{"service_id": "P1"}); err != nil {
		t.Fatal(err)
	}
	props := map[string]any{
		"name":    "payments-renamed", // differs from the entity's own name, which must stay
		"owner":   "someone-else",
		"project": map[string]string{"key": "PAY"},
		"tags":    []string{"x"},
	}
	if err := e.SetIngested("BitbucketCloud", props); err != nil {
		t.Fatal(err)
	}
	props["name"] = "changed by the caller afterwards"

	want := map[string]map[string]any{
		"BitbucketCloud": {
			"name":    "payments-renamed",
			"owner":   "someone-else",
			"project": map[string]any{"key": "PAY"},
			"tags":    []any{"x"},
		},
		"PagerDuty": {"service_id": "P1"},
	}
	if diff := cmp.Diff(want, e.IngestedProperties); diff != "" {
		t.Errorf("ingested properties (-want +got):\n%s", diff)
	}
	e.IngestedProperties = before.IngestedProperties
	if diff := cmp.Diff(before, e); diff != "" {
		t.Errorf("SetIngested changed the user's entity (-before +after):\n%s", diff)
	}
}

func TestSetIngestedEmptyRemovesAndBadInputFails(t *testing.T) {
	t.Parallel()
	e := component(t)
	if err := e.SetIngested("BitbucketCloud", map[string]any{"name": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetIngested("BitbucketCloud", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.IngestedProperties["BitbucketCloud"]; ok {
		t.Error("empty properties did not remove the overlay")
	}
	if err := e.SetIngested("Bitbucket.Cloud", map[string]any{"a": 1}); err == nil {
		t.Error("a dotted source name was accepted")
	}
	if err := e.SetIngested("BitbucketCloud", map[string]any{"ch": make(chan int)}); err == nil {
		t.Error("a channel was accepted as a property value")
	}
}
