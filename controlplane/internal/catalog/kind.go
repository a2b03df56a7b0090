package catalog

import (
	"slices"
	"strings"
)

// kinds are the entity kinds IDP 2.0 has built in, in their canonical
// spelling. Custom kinds are not supported here: an unknown kind is far more
// often a typo than a kind someone defined, so it is rejected with this list.
var kinds = []string{
	"Component", "API", "Resource", "System", "Group", "User",
	"Workflow", "Environment", "Hierarchy", "aiasset",
}

// Kinds returns the known entity kinds, in their canonical spelling.
func Kinds() []string { return slices.Clone(kinds) }

// Kinds with rules of their own (KindNeedsType, the lifecycle rule).
const (
	KindComponent = "Component"
	KindAPI       = "API"
	KindResource  = "Resource"
)

// CanonicalKind returns the canonical spelling of kind, matched ignoring
// case (users write "component" as often as "Component"), and whether the
// kind is known.
func CanonicalKind(kind string) (string, bool) {
	for _, k := range kinds {
		if strings.EqualFold(k, kind) {
			return k, true
		}
	}
	return "", false
}

// KindNeedsType reports whether entities of kind (canonical spelling) must
// carry a type. In IDP
// 2.0 the type of a Component, API or Resource decides its layout and
// scorecards; the other kinds may omit it.
func KindNeedsType(kind string) bool {
	switch kind {
	case KindComponent, KindAPI, KindResource:
		return true
	}
	return false
}
