package correlate

import (
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// Target is a catalog entity a repository may correlate with.
type Target struct {
	ID         string // the store's id of the entity
	Identifier string
	Kind       string
	Type       string
	// Lookup resolves a catalog path to the entity's values; a nil Lookup
	// has none, and the entity can match only through the no-rule fallback.
	Lookup func(path catalog.Path) []string
}

// EntityTarget makes a target of a catalog entity; its values are what the
// entity's YAML shows, ingested properties included.
func EntityTarget(id string, e *catalog.Entity) Target {
	return Target{ID: id, Identifier: e.Identifier, Kind: e.Kind, Type: e.Type, Lookup: e.Lookup}
}

// Filter restricts correlation to the entities an integration may import
// into: its configured kind and, unless Type is empty, type. Kinds and
// types compare ignoring case.
type Filter struct {
	Kind string
	Type string // empty: any type
}

// NewFilter is the filter for an integration's configuration. Under Merge the
// type is not configurable (the existing entity keeps its own), so any type
// of the kind may match.
func NewFilter(b Behavior, kind, typ string) Filter {
	if b == BehaviorMerge {
		typ = ""
	}
	return Filter{Kind: kind, Type: typ}
}

func (f Filter) admits(t Target) bool {
	return (f.Kind == "" || strings.EqualFold(f.Kind, t.Kind)) &&
		(f.Type == "" || strings.EqualFold(f.Type, t.Type))
}
