package catalog

import "strings"

// Kinds lists the entity kinds IDP 2.0 has built in, in their canonical
// spelling. Custom kinds are not supported here: an unknown kind is far more
// often a typo than a kind someone defined, so it is rejected with this list.
var Kinds = []string{
	"Component", "API", "Resource", "System", "Group", "User",
	"Workflow", "Environment", "Hierarchy", "aiasset",
}

// Kind names used by the integrations.
const (
	KindComponent = "Component"
	KindAPI       = "API"
	KindResource  = "Resource"
)

// CanonicalKind returns the canonical spelling of kind, matched ignoring
// case (users write "component" as often as "Component"), and whether the
// kind is known.
func CanonicalKind(kind string) (string, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(k, kind) {
			return k, true
		}
	}
	return "", false
}

// KindNeedsType reports whether entities of kind must carry a type. In IDP
// 2.0 the type of a Component, API or Resource decides its layout and
// scorecards; the other kinds may omit it.
func KindNeedsType(kind string) bool {
	switch kind {
	case KindComponent, KindAPI, KindResource:
		return true
	}
	return false
}
