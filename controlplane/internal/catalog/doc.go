// Package catalog is the catalog entity of the developer portal, in the IDP
// 2.0 YAML shape users already write (apiVersion harness.io/v1): parsing with
// errors that name the field and its line, rendering, the rules an entity
// must follow, and the overlays an integration import adds to it.
//
// An entity has two kinds of content. The user's own YAML (name, owner, spec,
// metadata, anything else they wrote) is kept whole so that it round-trips.
// What integrations add is kept apart, in Integrations (the links written
// under metadata.integration) and IngestedProperties (written under
// metadata.integration_properties), so that an import can never overwrite
// what the user wrote, and so that unlinking or refreshing touches only the
// overlay. Both are rendered in place when the entity is shown as YAML.
//
// The package is pure: it does no I/O. Uniqueness of identifiers, storage
// times and who may change what belong to the store and the services.
package catalog
