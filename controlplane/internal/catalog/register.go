package catalog

// Unknown is what Register writes for an owner or lifecycle the field
// mapping does not provide, as the reference's Component template does: the
// entity is valid at once, and scorecards can flag it for someone to fill in.
const Unknown = "unknown"

// RegisterTemplate is what Register knows about a repository when it creates
// an entity for it.
type RegisterTemplate struct {
	Kind string // from the integration, e.g. Component
	Type string // from the integration, or chosen per entity at import

	Slug        string // derives the identifier (IdentifierFromSlug)
	Name        string // display name; the slug when empty
	Description string

	// Owner and Lifecycle come from the field mapping when it maps them;
	// empty means Unknown.
	Owner     string
	Lifecycle string

	// Org and Project place the entity; both empty is account scope, the
	// default for an integration's imports.
	Org     string
	Project string
}

// NewFromRepository builds the entity Register creates for a repository. It
// does not link it or add ingested properties: the caller does that with Link
// and SetIngested, as for a merge. An identifier collision is the store's to
// detect; Register then fails the item and suggests Merge.
func NewFromRepository(t RegisterTemplate) (*Entity, error) {
	if t.Slug == "" {
		var p problems
		p.add("slug", 0, "required: the identifier is derived from it")
		return nil, p.err()
	}
	e := &Entity{
		Kind:        t.Kind,
		Type:        t.Type,
		Identifier:  IdentifierFromSlug(t.Slug),
		Name:        t.Name,
		Owner:       t.Owner,
		Org:         t.Org,
		Project:     t.Project,
		Lifecycle:   t.Lifecycle,
		Description: t.Description,
	}
	if canon, ok := CanonicalKind(e.Kind); ok {
		e.Kind = canon
	}
	if e.Name == "" {
		e.Name = t.Slug
	}
	if e.Owner == "" {
		e.Owner = Unknown
	}
	if e.Lifecycle == "" {
		e.Lifecycle = Unknown
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}
