package catalog

import (
	"slices"
	"testing"
)

func TestCanonicalKind(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"component": "Component", "API": "API", "api": "API", "AIAsset": "aiasset", "group": "Group"} {
		if got, ok := CanonicalKind(in); !ok || got != want {
			t.Errorf("CanonicalKind(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "Service", "Components"} {
		if got, ok := CanonicalKind(in); ok {
			t.Errorf("CanonicalKind(%q) = %q, want unknown", in, got)
		}
	}
}

func TestKindsIsACopy(t *testing.T) {
	t.Parallel()
	k := Kinds()
	k[0] = "Changed"
	if !slices.Contains(Kinds(), "Component") {
		t.Error("changing the result of Kinds changed the known kinds")
	}
}
