// Package catalogsvc carries out the catalog API: entities created and
// updated from IDP 2.0 YAML, read back as YAML, listed, deleted, and their
// development activity. The entity model is the catalog package; storage
// is the store. Changes that can alter discovery recommendations are
// marked by the store in the same transaction, and Changed wakes the
// discovery service to recompute them.
package catalogsvc

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Store is what the catalog service needs of the store.
type Store interface {
	CreateEntity(ctx context.Context, accountID string, e *catalog.Entity, now time.Time) (store.StoredEntity, error)
	UpdateEntity(ctx context.Context, accountID string, key store.EntityKey, change func(*catalog.Entity) (*catalog.Entity, error), now time.Time) (store.StoredEntity, error)
	GetEntity(ctx context.Context, accountID string, key store.EntityKey) (store.StoredEntity, error)
	ListEntities(ctx context.Context, accountID string, f store.EntityFilter, p store.Page) ([]store.StoredEntity, string, int64, error)
	DeleteEntity(ctx context.Context, accountID string, key store.EntityKey) (store.StoredEntity, error)
	EntityActivity(ctx context.Context, entityID string, limit int) (store.Activity, error)
}

var _ Store = (*store.DB)(nil)

// Service is the catalog API's behaviour.
type Service struct {
	store Store
	clock clock.Clock
	// Changed is called after every change of an entity; discovery uses it
	// to recompute stale recommendations promptly. May be nil.
	Changed func()
}

// New builds the service; clk is the clock.
func New(s Store, clk clock.Clock) *Service { return &Service{store: s, clock: clk} }

// Key names an entity: an id or identifier, and optionally its kind and
// its scope in API form ("account", "org/<org>", "org/<org>/project/<p>").
type Key struct {
	Entity string
	Kind   string
	Scope  string
}

func (k Key) store() (store.EntityKey, error) {
	if strings.TrimSpace(k.Entity) == "" {
		return store.EntityKey{}, fault.InvalidField("key.entity", "required: the entity id or identifier")
	}
	sk := store.EntityKey{Ref: strings.TrimSpace(k.Entity), Kind: k.Kind}
	if k.Scope != "" {
		var err error
		if sk.Scope, err = ScopeKey(k.Scope, "key.scope"); err != nil {
			return sk, err
		}
	}
	return sk, nil
}

// Create stores a new entity from YAML. The ingested sections
// (metadata.integration and metadata.integration_properties) belong to
// integrations: in a submitted document they are dropped, since links
// copied from another entity would claim repositories that do not feed
// it. Errors: Invalid (with a violation per YAML problem, naming the field
// and its line); AlreadyExists (IDENTIFIER_TAKEN).
func (s *Service) Create(ctx context.Context, accountID, yaml string) (store.StoredEntity, error) {
	e, err := parse(yaml)
	if err != nil {
		return store.StoredEntity{}, err
	}
	e.Integrations, e.IngestedProperties = nil, nil
	out, err := s.store.CreateEntity(ctx, accountID, e, s.clock.Now())
	if err == nil {
		s.changed()
	}
	return out, err
}

// Update replaces an entity's own YAML; the entity is the one with the
// document's kind, identifier and scope. Ingested sections stay as the
// integrations wrote them. Errors: Invalid; NotFound.
func (s *Service) Update(ctx context.Context, accountID, yaml string) (store.StoredEntity, error) {
	e, err := parse(yaml)
	if err != nil {
		return store.StoredEntity{}, err
	}
	key := store.EntityKey{Ref: e.Identifier, Kind: e.Kind, Scope: e.Scope()}
	out, err := s.store.UpdateEntity(ctx, accountID, key, func(cur *catalog.Entity) (*catalog.Entity, error) {
		if cur.Identifier != e.Identifier {
			// Found by id, not by identifier: the document names another entity.
			return nil, store.NotFound("entity", e.Identifier)
		}
		e.Integrations, e.IngestedProperties, e.CreatedAt = cur.Integrations, cur.IngestedProperties, cur.CreatedAt
		return e, nil
	}, s.clock.Now())
	if err == nil {
		s.changed()
	}
	return out, err
}

// Get returns one entity. Errors: NotFound; FailedPrecondition
// (AMBIGUOUS_IDENTIFIER).
func (s *Service) Get(ctx context.Context, accountID string, k Key) (store.StoredEntity, error) {
	sk, err := k.store()
	if err != nil {
		return store.StoredEntity{}, err
	}
	return s.store.GetEntity(ctx, accountID, sk)
}

// Filter narrows List; Scope is in API form.
type Filter struct {
	Kind, Type, Scope, Search string
}

// List returns a page of entities by kind then identifier, without their
// documents, and how many match across all pages.
func (s *Service) List(ctx context.Context, accountID string, f Filter, p store.Page) ([]store.StoredEntity, string, int64, error) {
	sf := store.EntityFilter{Kind: f.Kind, Type: f.Type, Search: strings.TrimSpace(f.Search)}
	if f.Kind != "" {
		canon, ok := catalog.CanonicalKind(f.Kind)
		if !ok {
			return nil, "", 0, fault.InvalidField("kind", "unknown kind %q; want one of %s", f.Kind, strings.Join(catalog.Kinds(), ", "))
		}
		sf.Kind = canon
	}
	if f.Scope != "" {
		var err error
		if sf.Scope, err = ScopeKey(f.Scope, "scope"); err != nil {
			return nil, "", 0, err
		}
	}
	return s.store.ListEntities(ctx, accountID, sf, p)
}

// Delete removes an entity; repositories linked to it return to the
// Discovered list. Errors: NotFound; FailedPrecondition
// (AMBIGUOUS_IDENTIFIER).
func (s *Service) Delete(ctx context.Context, accountID string, k Key) (store.StoredEntity, error) {
	sk, err := k.store()
	if err != nil {
		return store.StoredEntity{}, err
	}
	out, err := s.store.DeleteEntity(ctx, accountID, sk)
	if err == nil {
		s.changed()
	}
	return out, err
}

// DefaultActivityLimit and MaxActivityLimit bound the recent pull requests
// and commits returned.
const (
	DefaultActivityLimit = 10
	MaxActivityLimit     = 100
)

// Activity returns an entity with the development activity of the
// repositories linked to it. Errors: NotFound.
func (s *Service) Activity(ctx context.Context, accountID string, k Key, limit int) (store.StoredEntity, store.Activity, error) {
	e, err := s.Get(ctx, accountID, k)
	if err != nil {
		return e, store.Activity{}, err
	}
	switch {
	case limit <= 0:
		limit = DefaultActivityLimit
	case limit > MaxActivityLimit:
		limit = MaxActivityLimit
	}
	a, err := s.store.EntityActivity(ctx, e.ID, limit)
	return e, a, err
}

func (s *Service) changed() {
	if s.Changed != nil {
		s.Changed()
	}
}

// parse reads an entity, turning its validation errors into a fault whose
// violations name each field and its line.
func parse(yaml string) (*catalog.Entity, error) {
	if strings.TrimSpace(yaml) == "" {
		return nil, fault.InvalidField("yaml", "required: an IDP 2.0 entity document")
	}
	e, err := catalog.ParseSubmitted([]byte(yaml))
	if err == nil {
		return e, nil
	}
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	var v fault.Violations
	for _, fe := range ve.Errors {
		field := fe.Field
		if field == "" {
			field = "yaml"
		}
		if fe.Line > 0 {
			v.Add(field, "line %d: %s", fe.Line, fe.Rule)
		} else {
			v.Add(field, "%s", fe.Rule)
		}
	}
	return nil, v.Err("INVALID_ENTITY", "the entity YAML is not valid")
}

// ScopeName is the API form of a scope: "account", "org/<org>" or
// "org/<org>/project/<project>".
func ScopeName(org, project string) string {
	switch {
	case org == "":
		return "account"
	case project == "":
		return "org/" + org
	}
	return "org/" + org + "/project/" + project
}

// ScopeKey turns the API form of a scope into the catalog's scope key;
// field names the request field in the error.
func ScopeKey(name, field string) (string, error) {
	parts := strings.Split(strings.TrimSpace(name), "/")
	var org, project string
	switch {
	case len(parts) == 1 && parts[0] == "account":
	case len(parts) == 2 && parts[0] == "org":
		org = parts[1]
	case len(parts) == 4 && parts[0] == "org" && parts[2] == "project":
		org, project = parts[1], parts[3]
	default:
		return "", fault.InvalidField(field, "%q is not a scope: want account, org/<org> or org/<org>/project/<project>", name)
	}
	key := catalog.ScopeKey(org, project)
	if _, _, err := catalog.ParseScopeKey(key); err != nil {
		return "", fault.InvalidField(field, "%v", err)
	}
	return key, nil
}

// ScopeNameOf returns the API form of an entity's scope.
func ScopeNameOf(e *catalog.Entity) string { return ScopeName(e.Org, e.Project) }
