package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
)

// Reasons of catalog failures.
const (
	// ReasonIdentifierTaken: kind, identifier and scope are taken.
	ReasonIdentifierTaken = "IDENTIFIER_TAKEN"
	// ReasonAmbiguousIdentifier: an identifier names entities of several
	// kinds or scopes and the request did not say which.
	ReasonAmbiguousIdentifier = "AMBIGUOUS_IDENTIFIER"
)

// StoredEntity is a catalog entity with what the store keeps beside it.
type StoredEntity struct {
	ID        string
	AccountID string
	// Entity is the whole entity when read one at a time; in lists it
	// holds only the column fields (envelope, lifecycle, description,
	// tags), not Spec, Metadata or the ingested overlays.
	Entity *catalog.Entity
	// SourceDeleted is true when a linked repository was deleted.
	SourceDeleted bool
	// LinkedIntegrations are the ids of the integrations linked to it.
	LinkedIntegrations []string
}

// EntityKey finds an entity: Ref is its id or its identifier; Kind and
// Scope (a catalog scope key) narrow an identifier down when set.
type EntityKey struct {
	Ref   string
	Kind  string
	Scope string
}

// EntityFilter narrows ListEntities; empty fields match everything.
type EntityFilter struct {
	Kind   string // canonical spelling
	Type   string
	Scope  string // catalog scope key
	Search string // case-insensitive substring of the name or identifier
}

const entityColumns = `id, account_id, kind, type, identifier, scope, org, project, name, owner, lifecycle, description, tags,
	document, source_deleted, created_at, updated_at`

func entityArgs(id, accountID string, e *catalog.Entity, doc string, sourceDeleted bool) []any {
	return []any{id, accountID, e.Kind, e.Type, e.Identifier, e.Scope(), e.Org, e.Project, e.Name, e.Owner, e.Lifecycle,
		e.Description, joinList(e.Tags), doc, sourceDeleted, micros(e.CreatedAt), micros(e.UpdatedAt)}
}

// scanEntityColumns reads a row of entityColumns into the column fields.
func scanEntityColumns(row scanner) (StoredEntity, error) { return scanEntity(row, false) }

// scanEntity reads a row of entityColumns; with whole, the entity is
// parsed from its document, otherwise built from the columns.
func scanEntity(row scanner, whole bool) (StoredEntity, error) {
	var s StoredEntity
	var e catalog.Entity
	var scope, tags, doc string
	var created, updated int64
	if err := row.Scan(&s.ID, &s.AccountID, &e.Kind, &e.Type, &e.Identifier, &scope, &e.Org, &e.Project, &e.Name, &e.Owner,
		&e.Lifecycle, &e.Description, &tags, &doc, &s.SourceDeleted, &created, &updated); err != nil {
		return s, err
	}
	if whole {
		parsed, err := catalog.Parse([]byte(doc))
		if err != nil {
			return s, fmt.Errorf("stored entity %s does not parse: %w", s.ID, err)
		}
		e = *parsed
	} else {
		var err error
		if e.Tags, err = splitList(tags); err != nil {
			return s, err
		}
		if len(e.Tags) == 0 {
			e.Tags = nil
		}
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	s.Entity = &e
	return s, nil
}

// render is the stored document of an entity, one that reads back.
func render(e *catalog.Entity) (string, error) {
	b, err := e.Document()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// identifierTaken is the error of a create that collides.
func identifierTaken(e *catalog.Entity) error {
	return fault.New(fault.AlreadyExists, ReasonIdentifierTaken, "a %s with identifier %s already exists in scope %s",
		e.Kind, e.Identifier, e.Scope()).With("kind", e.Kind).With("identifier", e.Identifier).With("scope", e.Scope())
}

// CreateEntity stores a new entity and marks the recommendations of the
// integrations correlating on its kind stale. It sets the entity's times to
// now. Errors: AlreadyExists (IDENTIFIER_TAKEN).
func (db *DB) CreateEntity(ctx context.Context, accountID string, e *catalog.Entity, now time.Time) (StoredEntity, error) {
	var out StoredEntity
	err := db.tx(ctx, func(tx *txn) error {
		var err error
		out, err = insertEntity(ctx, tx, accountID, e, now)
		if err != nil {
			return err
		}
		return markKindStale(ctx, tx, accountID, e.Kind)
	})
	return out, err
}

func insertEntity(ctx context.Context, tx *txn, accountID string, e *catalog.Entity, now time.Time) (StoredEntity, error) {
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM entities WHERE account_id = ? AND kind = ? AND identifier = ? AND scope = ?`,
		accountID, e.Kind, e.Identifier, e.Scope()).Scan(&n); err != nil {
		return StoredEntity{}, err
	}
	if n > 0 {
		return StoredEntity{}, identifierTaken(e)
	}
	e.CreatedAt, e.UpdatedAt = now.UTC(), now.UTC()
	doc, err := render(e)
	if err != nil {
		return StoredEntity{}, err
	}
	id := ids.New("ent")
	if _, err := tx.exec(ctx, `INSERT INTO entities (`+entityColumns+`) VALUES `+placeholders(17), entityArgs(id, accountID, e, doc, false)...); err != nil {
		if tx.d.isUniqueViolation(err) {
			return StoredEntity{}, identifierTaken(e)
		}
		return StoredEntity{}, err
	}
	return StoredEntity{ID: id, AccountID: accountID, Entity: e}, nil
}

// UpdateEntity changes the entity key names in one transaction: change
// runs on the stored entity and returns the one to store, which must keep
// kind, identifier and scope. Recommendations of the kind are marked stale.
// Errors: NotFound; FailedPrecondition (AMBIGUOUS_IDENTIFIER).
func (db *DB) UpdateEntity(ctx context.Context, accountID string, key EntityKey, change func(*catalog.Entity) (*catalog.Entity, error), now time.Time) (StoredEntity, error) {
	var out StoredEntity
	err := db.tx(ctx, func(tx *txn) error {
		cur, err := findEntity(ctx, tx, accountID, key, true)
		if err != nil {
			return err
		}
		next, err := change(cur.Entity)
		if err != nil {
			return err
		}
		if next.Kind != cur.Entity.Kind || next.Identifier != cur.Entity.Identifier || next.Scope() != cur.Entity.Scope() {
			return fault.New(fault.Invalid, "", "kind, identifier and scope of an entity cannot change")
		}
		if err := writeEntity(ctx, tx, cur.ID, next, cur.SourceDeleted, now); err != nil {
			return err
		}
		if err := markKindStale(ctx, tx, accountID, next.Kind); err != nil {
			return err
		}
		out = StoredEntity{ID: cur.ID, AccountID: accountID, Entity: next, SourceDeleted: cur.SourceDeleted}
		out.LinkedIntegrations, err = linkedIntegrations(ctx, tx, cur.ID)
		return err
	})
	return out, err
}

// writeEntity stores a changed entity under its id.
func writeEntity(ctx context.Context, tx *txn, id string, e *catalog.Entity, sourceDeleted bool, now time.Time) error {
	e.UpdatedAt = now.UTC()
	doc, err := render(e)
	if err != nil {
		return err
	}
	a := entityArgs(id, "", e, doc, sourceDeleted)
	_, err = tx.exec(ctx, `UPDATE entities SET type = ?, name = ?, owner = ?, lifecycle = ?, description = ?, tags = ?, document = ?,
		source_deleted = ?, updated_at = ? WHERE id = ?`, a[3], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[16], id)
	return err
}

// GetEntity returns one whole entity. Errors: NotFound; FailedPrecondition
// (AMBIGUOUS_IDENTIFIER).
func (db *DB) GetEntity(ctx context.Context, accountID string, key EntityKey) (StoredEntity, error) {
	var out StoredEntity
	err := db.read(ctx, func(tx *txn) error {
		var err error
		if out, err = findEntity(ctx, tx, accountID, key, false); err != nil {
			return err
		}
		out.LinkedIntegrations, err = linkedIntegrations(ctx, tx, out.ID)
		return err
	})
	return out, err
}

// DeleteEntity removes an entity; its links go with it, so the linked
// repositories return to the Discovered list. Errors: NotFound;
// FailedPrecondition (AMBIGUOUS_IDENTIFIER).
func (db *DB) DeleteEntity(ctx context.Context, accountID string, key EntityKey) (StoredEntity, error) {
	var out StoredEntity
	err := db.tx(ctx, func(tx *txn) error {
		var err error
		if out, err = findEntity(ctx, tx, accountID, key, true); err != nil {
			return err
		}
		if out.LinkedIntegrations, err = linkedIntegrations(ctx, tx, out.ID); err != nil {
			return err
		}
		for _, id := range out.LinkedIntegrations {
			if err := markIntegrationStale(ctx, tx, id); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `DELETE FROM entities WHERE id = ?`, out.ID); err != nil {
			return err
		}
		return markKindStale(ctx, tx, accountID, out.Entity.Kind)
	})
	return out, err
}

// findEntity resolves a key to one entity, preferring an id match.
func findEntity(ctx context.Context, tx *txn, accountID string, key EntityKey, lock bool) (StoredEntity, error) {
	q := `SELECT ` + entityColumns + ` FROM entities WHERE account_id = ? AND (id = ? OR identifier = ?)`
	args := []any{accountID, key.Ref, key.Ref}
	if key.Kind != "" {
		q += ` AND LOWER(kind) = LOWER(?)`
		args = append(args, key.Kind)
	}
	if key.Scope != "" {
		q += ` AND scope = ?`
		args = append(args, key.Scope)
	}
	q += ` ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END, kind, scope LIMIT 21`
	args = append(args, key.Ref)
	if lock {
		q += tx.d.lockRows(false)
	}
	found, err := queryAll(ctx, tx, q, args, scanEntityColumns)
	if err != nil {
		return StoredEntity{}, err
	}
	switch {
	case len(found) == 0:
		return StoredEntity{}, NotFound("entity", key.Ref)
	case len(found) > 1 && found[0].ID != key.Ref:
		var where []string
		for _, f := range found {
			where = append(where, f.Entity.Kind+" in "+f.Entity.Scope())
		}
		return StoredEntity{}, fault.New(fault.FailedPrecondition, ReasonAmbiguousIdentifier,
			"identifier %s names %d entities (%s); give the kind or the scope, or the entity id", key.Ref, len(found), strings.Join(where, ", ")).
			With("identifier", key.Ref).With("kinds", strings.Join(where, ","))
	}
	return getEntityTx(ctx, tx, found[0].ID)
}

func getEntityTx(ctx context.Context, tx *txn, id string) (StoredEntity, error) {
	return readEntity(ctx, tx, id, "")
}

// lockEntity reads an entity and locks its row until the transaction ends.
// Every read-modify-write of an entity's document starts with it, so a
// concurrent writer waits and then reads the result instead of having its
// change overwritten.
func lockEntity(ctx context.Context, tx *txn, id string) (StoredEntity, error) {
	return readEntity(ctx, tx, id, tx.d.lockRows(false))
}

func readEntity(ctx context.Context, tx *txn, id, lock string) (StoredEntity, error) {
	s, err := scanEntity(tx.queryRow(ctx, `SELECT `+entityColumns+` FROM entities WHERE id = ?`+lock, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return s, NotFound("entity", id)
	}
	return s, err
}

func linkedIntegrations(ctx context.Context, tx *txn, entityID string) ([]string, error) {
	return queryAll(ctx, tx, `SELECT DISTINCT integration_id FROM repository_links WHERE entity_id = ? ORDER BY integration_id`,
		[]any{entityID}, scanString)
}

// ListEntities returns a page of entities by kind, identifier and scope,
// and how many match across all pages.
func (db *DB) ListEntities(ctx context.Context, accountID string, f EntityFilter, p Page) ([]StoredEntity, string, int64, error) {
	where := ` WHERE account_id = ?`
	args := []any{accountID}
	if f.Kind != "" {
		where += ` AND LOWER(kind) = LOWER(?)`
		args = append(args, f.Kind)
	}
	if f.Type != "" {
		where += ` AND type = ?`
		args = append(args, f.Type)
	}
	if f.Scope != "" {
		where += ` AND scope = ?`
		args = append(args, f.Scope)
	}
	if f.Search != "" {
		where += ` AND (LOWER(name) LIKE ? ESCAPE '\' OR LOWER(identifier) LIKE ? ESCAPE '\')`
		pat := likePattern(f.Search)
		args = append(args, pat, pat)
	}
	var total int64
	if err := db.queryRow(ctx, `SELECT COUNT(*) FROM entities`+where, args...).Scan(&total); err != nil {
		return nil, "", 0, err
	}
	if p.Token != "" {
		k, err := decodeToken(p.Token, 3)
		if err != nil {
			return nil, "", 0, err
		}
		where += ` AND (kind > ? OR (kind = ? AND (identifier > ? OR (identifier = ? AND scope > ?))))`
		args = append(args, k[0], k[0], k[1], k[1], k[2])
	}
	out, next, err := listPage(ctx, db, `SELECT `+entityColumns+` FROM entities`+where+` ORDER BY kind, identifier, scope LIMIT ?`,
		args, p.size(50), scanEntityColumns, func(s StoredEntity) string { return encodeToken(s.Entity.Kind, s.Entity.Identifier, s.Entity.Scope()) })
	if err != nil {
		return nil, "", 0, err
	}
	if err := db.fillSourceLinks(ctx, out); err != nil {
		return nil, "", 0, err
	}
	return out, next, total, nil
}

// fillSourceLinks sets LinkedIntegrations of a page of entities.
func (db *DB) fillSourceLinks(ctx context.Context, page []StoredEntity) error {
	if len(page) == 0 {
		return nil
	}
	byID := make(map[string]*StoredEntity, len(page))
	args := make([]any, len(page))
	for i := range page {
		byID[page[i].ID] = &page[i]
		args[i] = page[i].ID
	}
	rows, err := db.query(ctx, `SELECT DISTINCT entity_id, integration_id FROM repository_links WHERE entity_id IN `+
		placeholders(len(page))+` ORDER BY entity_id, integration_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var eid, iid string
		if err := rows.Scan(&eid, &iid); err != nil {
			return err
		}
		byID[eid].LinkedIntegrations = append(byID[eid].LinkedIntegrations, iid)
	}
	return rows.Err()
}

// likePattern turns a search text into a LIKE pattern matching it as a
// lower-case substring, with LIKE's wildcards escaped.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// markKindStale marks the recommendations of the account's integrations
// that correlate on kind as stale.
func markKindStale(ctx context.Context, tx *txn, accountID, kind string) error {
	_, err := tx.exec(ctx, `UPDATE discovery_state SET dirty_gen = dirty_gen + 1 WHERE account_id = ?
		AND integration_id IN (SELECT id FROM integrations WHERE account_id = ? AND LOWER(kind) = LOWER(?))`, accountID, accountID, kind)
	return err
}

// markIntegrationStale marks one integration's recommendations as stale.
func markIntegrationStale(ctx context.Context, tx *txn, integrationID string) error {
	_, err := tx.exec(ctx, `UPDATE discovery_state SET dirty_gen = dirty_gen + 1 WHERE integration_id = ?`, integrationID)
	return err
}

// read runs fn in a transaction used for reading only: several queries
// see one snapshot.
func (db *DB) read(ctx context.Context, fn func(*txn) error) error { return db.tx(ctx, fn) }

// CreateEntities stores many new entities in one transaction, for bulk
// loads of an existing catalog: all are stored or, on the first collision
// (IDENTIFIER_TAKEN), none. Recommendations of their kinds are marked stale.
func (db *DB) CreateEntities(ctx context.Context, accountID string, list []*catalog.Entity, now time.Time) ([]string, error) {
	out := make([]string, len(list))
	err := db.tx(ctx, func(tx *txn) error {
		kinds := map[string]bool{}
		rows := make([][]any, len(list))
		for i, e := range list {
			e.CreatedAt, e.UpdatedAt = now.UTC(), now.UTC()
			doc, err := render(e)
			if err != nil {
				return fmt.Errorf("entity %d (%s): %w", i, e.Identifier, err)
			}
			out[i] = ids.New("ent")
			rows[i] = entityArgs(out[i], accountID, e, doc, false)
			kinds[e.Kind] = true
		}
		per := min(tx.d.maxParams()/17, 500)
		for start := 0; start < len(rows); start += per {
			chunk := rows[start:min(start+per, len(rows))]
			var b strings.Builder
			args := make([]any, 0, len(chunk)*17)
			b.WriteString(`INSERT INTO entities (` + entityColumns + `) VALUES `)
			for i, r := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(placeholders(17))
				args = append(args, r...)
			}
			if _, err := tx.exec(ctx, b.String(), args...); err != nil {
				if tx.d.isUniqueViolation(err) {
					return fault.New(fault.AlreadyExists, ReasonIdentifierTaken, "an entity of the batch collides with an existing one or another of the batch")
				}
				return err
			}
		}
		for k := range kinds {
			if err := markKindStale(ctx, tx, accountID, k); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
