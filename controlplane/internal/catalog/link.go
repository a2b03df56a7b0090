package catalog

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Action is how an import brought a record into the catalog.
type Action string

// The two import actions, spelled as metadata.integration stores them.
const (
	ActionRegister Action = "REGISTER" // the import created the entity
	ActionMerge    Action = "MERGE"    // the import linked an existing entity
)

// RecordRepository is the record kind a Bitbucket repository is linked as:
// the key under the integration id in metadata.integration.
const RecordRepository = "repository"

// LinkKey names one link slot of an entity: one record kind of one
// integration, in the integration's scope (a ScopeKey). An entity holds at
// most one link per slot.
type LinkKey struct {
	Scope         string
	IntegrationID string
	Record        string // e.g. RecordRepository
}

// RepositoryLink is the slot a repository of the given integration occupies.
func RepositoryLink(scope, integrationID string) LinkKey {
	return LinkKey{Scope: scope, IntegrationID: integrationID, Record: RecordRepository}
}

// Link records that an integration record (a repository) feeds this entity.
type Link struct {
	EntityUUID string // the record's identity at the source, e.g. the Bitbucket repository uuid
	Action     Action
	ImportedAt time.Time
}

// ErrAlreadyLinked is returned by Entity.Link when the slot already links a
// different record. Replacing it silently would detach the first record
// without anyone unlinking it; the caller reports it instead.
var ErrAlreadyLinked = errors.New("entity already linked to another record of this integration")

// Link links a record to the entity. When the slot already links the same
// record, the first link's action and time are kept: a repository merged
// into the entity it registered still shows as registered, at the time it
// first arrived.
func (e *Entity) Link(k LinkKey, l Link) error {
	var p problems
	checkLink(&p, k, l, noLine)
	if err := p.err(); err != nil {
		return err
	}
	if old, ok := e.Integrations[k]; ok {
		if old.EntityUUID != l.EntityUUID {
			return fmt.Errorf("%w: %s %s of integration %s links %s, not %s",
				ErrAlreadyLinked, k.Scope, k.Record, k.IntegrationID, old.EntityUUID, l.EntityUUID)
		}
		return nil
	}
	if e.Integrations == nil {
		e.Integrations = make(map[LinkKey]Link)
	}
	l.ImportedAt = l.ImportedAt.UTC()
	e.Integrations[k] = l
	return nil
}

// Unlink removes the link in slot k and reports whether there was one.
//
// The ingested properties stay: unlinking stops sync and keeps the entity
// "and its existing data intact", as Harness IDP documents it (its code also
// deletes integration_properties; we follow the documented behaviour, which
// is what users read). Removing the link
// rather than marking it frees the record: it shows as discovered again, is
// never auto-imported again (the control plane remembers the unlink), and a
// later import is a new first link.
func (e *Entity) Unlink(k LinkKey) bool {
	if _, ok := e.Integrations[k]; !ok {
		return false
	}
	delete(e.Integrations, k)
	return true
}

// SetIngested replaces the overlay of one source ("BitbucketCloud") with a
// copy of props; empty props remove it. It never touches the user's own
// fields (name, owner, spec, metadata): an integration that should set those
// goes through a field mapping the caller applies explicitly.
func (e *Entity) SetIngested(source string, props map[string]any) error {
	if err := checkKey(source); err != nil {
		return fmt.Errorf("ingested source %q: %w", source, err)
	}
	if len(props) == 0 {
		delete(e.IngestedProperties, source)
		return nil
	}
	v, err := normalize(props)
	if err != nil {
		return fmt.Errorf("ingested properties of %s: %w", source, err)
	}
	if e.IngestedProperties == nil {
		e.IngestedProperties = make(map[string]map[string]any)
	}
	e.IngestedProperties[source] = v.(map[string]any)
	return nil
}

// checkKey accepts a name used as one key of a catalog path: it must not be
// empty, and it must not contain a dot, which would make the path ambiguous.
func checkKey(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case strings.ContainsAny(s, ". \t\r\n"):
		return errors.New("must not contain dots or spaces")
	}
	return nil
}

// checkLink reports what is wrong with a link slot and its link; line gives
// the YAML line of a field when the link was parsed.
func checkLink(p *problems, k LinkKey, l Link, line lineFunc) {
	base := []any{"metadata", "integration", k.Scope}
	if _, _, err := ParseScopeKey(k.Scope); err != nil {
		p.add(fieldName(base...), line(base...), "%v", err)
	}
	base = append(base, k.IntegrationID)
	if err := checkKey(k.IntegrationID); err != nil {
		p.add(fieldName(base...), line(base...), "integration id %v", err)
	}
	base = append(base, k.Record)
	if err := checkKey(k.Record); err != nil {
		p.add(fieldName(base...), line(base...), "record kind %v", err)
	}
	at := func(f string) []any { return append(base[:len(base):len(base)], f) }
	if l.EntityUUID == "" {
		p.add(fieldName(at("entity_uuid")...), line(at("entity_uuid")...), "required")
	}
	if l.Action != ActionRegister && l.Action != ActionMerge {
		p.add(fieldName(at("entity_action")...), line(at("entity_action")...), "must be %s or %s, not %q", ActionRegister, ActionMerge, l.Action)
	}
	if l.ImportedAt.IsZero() {
		p.add(fieldName(at("imported_at")...), line(at("imported_at")...), "required, as an RFC 3339 time")
	}
}

// Feed names the repository that feeds an entity: an entity takes the
// ingested data of one integration.
type Feed struct {
	IntegrationID   string `json:"integration_id"`
	IntegrationName string `json:"integration_name"`
	Repository      string `json:"repository"` // full name
}
