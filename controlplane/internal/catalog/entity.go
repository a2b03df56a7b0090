package catalog

import "time"

// APIVersion is the only apiVersion an IDP 2.0 entity may declare.
const APIVersion = "harness.io/v1"

// Entity is one catalog entity.
//
// The typed fields are the source of truth for the values they hold: Spec
// does not also hold spec.lifecycle, and Metadata does not also hold
// metadata.description, metadata.tags or the two ingested sections. YAML and
// Lookup put them back in place, so readers see one document.
type Entity struct {
	Kind       string // canonical spelling, one of Kinds()
	Type       string // e.g. service; required for Component, API, Resource
	Identifier string // unique per kind and scope (the store enforces it)
	Name       string // display name; Parse defaults it to Identifier
	Owner      string // e.g. group:payments; optional, and any text is accepted, as in IDP
	Org        string // orgIdentifier; empty at account scope
	Project    string // projectIdentifier; needs Org

	Lifecycle   string   // spec.lifecycle; required for Component
	Description string   // metadata.description
	Tags        []string // metadata.tags

	// Spec is the rest of spec as the user wrote it.
	Spec map[string]any
	// Metadata is the rest of metadata as the user wrote it (annotations,
	// links, anything else).
	Metadata map[string]any
	// Extra holds top-level fields IDP 2.0 does not define. They are kept,
	// not rejected, so that nothing a user wrote is silently lost.
	Extra map[string]any

	// Integrations are the links imports made, rendered under
	// metadata.integration. Change them with Link and Unlink.
	Integrations map[LinkKey]Link
	// IngestedProperties holds, per source ("BitbucketCloud"), the fields an
	// integration maps onto the entity, rendered under
	// metadata.integration_properties. Change them with SetIngested.
	IngestedProperties map[string]map[string]any

	// CreatedAt and UpdatedAt are set by the store; they are not part of the
	// YAML.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Scope returns the entity's own scope key (see ScopeKey).
func (e *Entity) Scope() string { return ScopeKey(e.Org, e.Project) }
