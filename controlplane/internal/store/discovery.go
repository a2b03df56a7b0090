package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
)

// DiscoveryState is an integration's discovery bookkeeping (see
// migrations/0002_discovery.sql).
type DiscoveryState struct {
	IntegrationID string
	AccountID     string
	// DirtyGen counts changes that can alter recommendations; ComputedGen
	// is the count the last correlation run started from.
	DirtyGen, ComputedGen int64
	// ConfigHash is the fingerprint of the configuration the last run used.
	ConfigHash string
	ComputedAt time.Time
	// AutoImportMark is the first_seen_at up to which repositories were
	// considered for auto-import.
	AutoImportMark time.Time
	// Exists is false before the first correlation run.
	Exists bool
}

// Fresh reports whether the stored recommendations reflect every change
// and the configuration with fingerprint hash.
func (s DiscoveryState) Fresh(hash string) bool {
	return s.Exists && s.ComputedGen >= s.DirtyGen && s.ConfigHash == hash
}

// GetDiscoveryState returns an integration's bookkeeping; Exists is false
// when there is none yet.
func (db *DB) GetDiscoveryState(ctx context.Context, integrationID string) (DiscoveryState, error) {
	s := DiscoveryState{IntegrationID: integrationID}
	var computed, mark sql.NullInt64
	err := db.queryRow(ctx, `SELECT account_id, dirty_gen, computed_gen, config_hash, computed_at, auto_import_mark
		FROM discovery_state WHERE integration_id = ?`, integrationID).
		Scan(&s.AccountID, &s.DirtyGen, &s.ComputedGen, &s.ConfigHash, &computed, &mark)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	s.Exists = err == nil
	s.ComputedAt, s.AutoImportMark = fromNullMicros(computed), fromNullMicros(mark)
	return s, err
}

// ensureDiscoveryState creates an integration's bookkeeping row if missing.
func ensureDiscoveryState(ctx context.Context, tx *txn, accountID, integrationID string) error {
	_, err := tx.exec(ctx, `INSERT INTO discovery_state (integration_id, account_id, dirty_gen, computed_gen, config_hash)
		VALUES (?, ?, 1, 0, '') ON CONFLICT (integration_id) DO NOTHING`, integrationID, accountID)
	return err
}

// DiscoveryStates returns the bookkeeping of every integration, with
// Exists false for those never correlated; the caller decides with Fresh
// which need a correlation run.
func (db *DB) DiscoveryStates(ctx context.Context) ([]DiscoveryState, error) {
	rows, err := db.query(ctx, `SELECT i.id, i.account_id, COALESCE(d.dirty_gen, 0), COALESCE(d.computed_gen, 0),
		COALESCE(d.config_hash, ''), d.computed_at, d.auto_import_mark, d.integration_id IS NOT NULL
		FROM integrations i LEFT JOIN discovery_state d ON d.integration_id = i.id ORDER BY i.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DiscoveryState
	for rows.Next() {
		var s DiscoveryState
		var computed, mark sql.NullInt64
		if err := rows.Scan(&s.IntegrationID, &s.AccountID, &s.DirtyGen, &s.ComputedGen, &s.ConfigHash, &computed, &mark, &s.Exists); err != nil {
			return nil, err
		}
		s.ComputedAt, s.AutoImportMark = fromNullMicros(computed), fromNullMicros(mark)
		out = append(out, s)
	}
	return out, rows.Err()
}

// BeginCorrelation returns the generation a correlation run starts from,
// creating the bookkeeping row if needed. Changes after this point bump
// the generation past it, so the run's result is known to be stale.
func (db *DB) BeginCorrelation(ctx context.Context, accountID, integrationID string) (int64, error) {
	var gen int64
	err := db.tx(ctx, func(tx *txn) error {
		if err := ensureDiscoveryState(ctx, tx, accountID, integrationID); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT dirty_gen FROM discovery_state WHERE integration_id = ?`, integrationID).Scan(&gen)
	})
	return gen, err
}

// UnimportedRepository is what correlation reads of a repository.
type UnimportedRepository struct {
	UUID, Slug, Name, FullName string
	Raw                        string
	FirstSeenAt                time.Time
	DeletedAt                  time.Time
	Unlinked                   bool
	// Ignored and ExcludedReason keep a repository out of the Discovered
	// list: nothing is recommended for it, nor imported automatically.
	Ignored        bool
	ExcludedReason string
}

// UnimportedRepositories returns an integration's repositories that are
// not linked to an entity, by uuid.
func (db *DB) UnimportedRepositories(ctx context.Context, integrationID string) ([]UnimportedRepository, error) {
	return queryAll(ctx, db, `SELECT r.uuid, r.slug, r.name, r.full_name, r.raw, r.first_seen_at, r.deleted_at, rc.unlinked_at IS NOT NULL,
		`+isIgnored+`, r.excluded_reason
		FROM repositories r
		LEFT JOIN repository_links l ON l.integration_id = r.integration_id AND l.repository_uuid = r.uuid
		LEFT JOIN recommendations rc ON rc.integration_id = r.integration_id AND rc.repository_uuid = r.uuid
		WHERE r.integration_id = ? AND l.entity_id IS NULL ORDER BY r.uuid`, []any{integrationID}, func(row scanner) (UnimportedRepository, error) {
		var r UnimportedRepository
		var first int64
		var deleted sql.NullInt64
		err := row.Scan(&r.UUID, &r.Slug, &r.Name, &r.FullName, &r.Raw, &first, &deleted, &r.Unlinked, &r.Ignored, &r.ExcludedReason)
		r.FirstSeenAt, r.DeletedAt = fromMicros(first), fromNullMicros(deleted)
		return r, err
	})
}

// CorrelationEntity is a catalog entity as correlation reads it.
type CorrelationEntity struct {
	ID     string
	Entity *catalog.Entity
}

// CorrelationEntities returns the account's entities of kind (and type,
// unless empty) that no repository of the integration is linked to: the
// merge candidates. With whole, entities are parsed from their documents
// (rules that read spec or metadata need that); otherwise they carry the
// column fields only, which is much cheaper for 100,000 entities.
func (db *DB) CorrelationEntities(ctx context.Context, accountID, integrationID, kind, typ string, whole bool) ([]CorrelationEntity, error) {
	q := `SELECT ` + entityColumns + ` FROM entities e WHERE account_id = ? AND LOWER(kind) = LOWER(?)
		AND NOT EXISTS (SELECT 1 FROM repository_links l WHERE l.integration_id = ? AND l.entity_id = e.id)`
	args := []any{accountID, kind, integrationID}
	if typ != "" {
		q += ` AND LOWER(type) = LOWER(?)`
		args = append(args, typ)
	}
	return queryAll(ctx, db, q, args, func(row scanner) (CorrelationEntity, error) {
		s, err := scanEntity(row, whole)
		return CorrelationEntity{ID: s.ID, Entity: s.Entity}, err
	})
}

// Recommendation is the stored outcome of correlating one repository.
type Recommendation struct {
	RepositoryUUID string
	Action         catalog.Action // empty when nothing can be recommended
	SuggestedID    string
	Candidates     []StoredCandidate
	// Note says why, when the recommendation is not the obvious one.
	Note string
}

// StoredCandidate is one entity a repository correlates with.
type StoredCandidate struct {
	EntityID     string `json:"entity_id"`
	Exact        bool   `json:"exact"`
	MatchedValue string `json:"matched_value,omitempty"`
}

// SaveRecommendations stores the outcome of a correlation run that started
// at generation gen with the configuration fingerprint hash, atomically.
// Unlink marks are kept. When a run that started from a newer generation
// has saved already (another replica, or a slower run finishing late),
// nothing is written: its result is the fresher one.
func (db *DB) SaveRecommendations(ctx context.Context, accountID, integrationID string, gen int64, hash string, recs []Recommendation, now time.Time) error {
	return db.tx(ctx, func(tx *txn) error {
		if err := ensureDiscoveryState(ctx, tx, accountID, integrationID); err != nil {
			return err
		}
		// The lock orders concurrent saves, so the check and the write
		// below are one step.
		var saved int64
		if err := tx.queryRow(ctx, `SELECT computed_gen FROM discovery_state WHERE integration_id = ?`+tx.d.lockRows(false),
			integrationID).Scan(&saved); err != nil {
			return err
		}
		if saved > gen {
			return nil
		}
		rows := make([][]any, len(recs))
		for i, r := range recs {
			cands := r.Candidates
			if cands == nil {
				cands = []StoredCandidate{}
			}
			rows[i] = []any{integrationID, r.RepositoryUUID, string(r.Action), r.SuggestedID, toJSON(cands), nil, micros(now), r.Note}
		}
		a := applier{tx: tx, d: tx.d}
		if err := a.upsert(ctx, "recommendations", recommendationCols, []string{"integration_id", "repository_uuid"},
			[]string{"unlinked_at"}, rows); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `UPDATE discovery_state SET computed_gen = ?, config_hash = ?, computed_at = ?
			WHERE integration_id = ?`, gen, hash, micros(now), integrationID)
		return err
	})
}

var recommendationCols = []string{"integration_id", "repository_uuid", "action", "suggested_entity_id", "candidates", "unlinked_at", "computed_at", "note"}

// AdvanceAutoImportMark records that repositories first seen up to mark
// were considered for auto-import.
func (db *DB) AdvanceAutoImportMark(ctx context.Context, accountID, integrationID string, mark time.Time) error {
	return db.tx(ctx, func(tx *txn) error {
		if err := ensureDiscoveryState(ctx, tx, accountID, integrationID); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `UPDATE discovery_state SET auto_import_mark = ? WHERE integration_id = ?
			AND (auto_import_mark IS NULL OR auto_import_mark < ?)`, micros(mark), integrationID, micros(mark))
		return err
	})
}

// AutoImportRetries returns the repositories of an integration whose
// automatic import failed for a transient reason, with how many times.
func (db *DB) AutoImportRetries(ctx context.Context, integrationID string) (map[string]int, error) {
	type retry struct {
		uuid     string
		attempts int
	}
	rows, err := queryAll(ctx, db, `SELECT repository_uuid, attempts FROM auto_import_retries WHERE integration_id = ?`,
		[]any{integrationID}, func(row scanner) (retry, error) {
			var r retry
			err := row.Scan(&r.uuid, &r.attempts)
			return r, err
		})
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.uuid] = r.attempts
	}
	return out, err
}

// SetAutoImportRetry records that a repository's automatic import failed
// for a transient reason for the attempts-th time; attempts 0 removes the
// record (imported, failed for good, or no longer a candidate).
func (db *DB) SetAutoImportRetry(ctx context.Context, integrationID, uuid string, attempts int, now time.Time) error {
	return db.tx(ctx, func(tx *txn) error {
		if attempts == 0 {
			return clearAutoImportRetry(ctx, tx, integrationID, uuid)
		}
		_, err := tx.exec(ctx, `INSERT INTO auto_import_retries (integration_id, repository_uuid, attempts, last_failed_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (integration_id, repository_uuid)
			DO UPDATE SET attempts = excluded.attempts, last_failed_at = excluded.last_failed_at`,
			integrationID, uuid, attempts, micros(now))
		return err
	})
}

func clearAutoImportRetry(ctx context.Context, tx *txn, integrationID, uuid string) error {
	_, err := tx.exec(ctx, `DELETE FROM auto_import_retries WHERE integration_id = ? AND repository_uuid = ?`, integrationID, uuid)
	return err
}

// DiscoveredView is which repositories not imported ListDiscovered shows.
type DiscoveredView string

// Views of the repositories not imported.
const (
	// ViewDiscovered: those the filter keeps and nobody ignored.
	ViewDiscovered DiscoveredView = ""
	// ViewIgnored: those a user ignored.
	ViewIgnored DiscoveredView = "ignored"
	// ViewExcluded: those the filter leaves out (ignored ones excepted).
	ViewExcluded DiscoveredView = "excluded"
)

// DiscoveredFilter narrows ListDiscovered.
type DiscoveredFilter struct {
	View         DiscoveredView
	Search       string         // case-insensitive substring of the name or slug
	Action       catalog.Action // only this recommendation, when set
	UnlinkedOnly bool
}

// Discovered is a row of the Discovered list.
type Discovered struct {
	Repository
	Recommendation
	Unlinked bool
	// CodeOwners is what its CODEOWNERS file said; nil until it was read.
	CodeOwners *owners.Finding
	// IgnoredAt and IgnoredBy are set in the Ignored view.
	IgnoredAt time.Time
	IgnoredBy string
	// ExcludedReason is set in the Excluded view.
	ExcludedReason string
}

// ListDiscovered returns a page of an integration's repositories that are
// not imported, by name, and how many match across all pages.
func (db *DB) ListDiscovered(ctx context.Context, integrationID string, f DiscoveredFilter, p Page) ([]Discovered, string, int64, error) {
	// NOT EXISTS rather than an outer join on the links: PostgreSQL then
	// estimates the unlinked rows right and walks repositories_by_sort_key
	// for one page instead of sorting every repository.
	from := ` FROM repositories r
		LEFT JOIN recommendations rc ON rc.integration_id = r.integration_id AND rc.repository_uuid = r.uuid
		LEFT JOIN code_owners co ON co.integration_id = r.integration_id AND co.repository_uuid = r.uuid
		LEFT JOIN ignored_repositories ig ON ig.integration_id = r.integration_id AND ig.repository_uuid = r.uuid
		WHERE r.integration_id = ?
		AND NOT EXISTS (SELECT 1 FROM repository_links l WHERE l.integration_id = r.integration_id AND l.repository_uuid = r.uuid)`
	args := []any{integrationID}
	switch f.View {
	case ViewIgnored:
		from += ` AND ig.repository_uuid IS NOT NULL`
	case ViewExcluded:
		from += ` AND ig.repository_uuid IS NULL AND r.excluded_reason <> ''`
	default:
		from += ` AND ig.repository_uuid IS NULL AND r.excluded_reason = ''`
	}
	if f.Search != "" {
		pat := likePattern(f.Search)
		from += repoSearch
		args = append(args, pat, pat)
	}
	if f.Action != "" {
		from += ` AND rc.action = ?`
		args = append(args, string(f.Action))
	}
	if f.UnlinkedOnly {
		from += ` AND rc.unlinked_at IS NOT NULL`
	}
	var total int64
	if err := db.queryRow(ctx, `SELECT COUNT(*)`+from, args...).Scan(&total); err != nil {
		return nil, "", 0, err
	}
	cond, after, err := afterRepository(p)
	if err != nil {
		return nil, "", 0, err
	}
	out, next, err := listPage(ctx, db, `SELECT `+repoColumns("r")+`, COALESCE(rc.action, ''), COALESCE(rc.suggested_entity_id, ''),
		COALESCE(rc.candidates, '[]'), rc.unlinked_at IS NOT NULL, COALESCE(rc.note, ''), ig.ignored_at, COALESCE(ig.ignored_by, ''),
		r.excluded_reason, `+codeOwnersColumns+from+cond+byRepositoryName+` LIMIT ?`, append(args, after...), p.size(50),
		scanDiscovered, func(d Discovered) string { return encodeToken(d.Name, d.UUID) })
	return out, next, total, err
}

func scanDiscovered(row scanner) (Discovered, error) {
	var d Discovered
	var action, cands string
	var ignoredAt sql.NullInt64
	var err error
	coDest, coFinish := codeOwnersDest()
	if d.Repository, err = scanRepository(scanAppend{row, append([]any{&action, &d.SuggestedID, &cands, &d.Unlinked, &d.Note,
		&ignoredAt, &d.IgnoredBy, &d.ExcludedReason}, coDest...)}); err != nil {
		return d, err
	}
	d.IgnoredAt = fromNullMicros(ignoredAt)
	d.RepositoryUUID, d.Action = d.UUID, catalog.Action(action)
	if d.CodeOwners, err = coFinish(); err != nil {
		return d, err
	}
	d.Candidates, err = fromJSON[[]StoredCandidate](cands)
	return d, err
}

// scanAppend scans a row into a repository's columns followed by more.
type scanAppend struct {
	row  scanner
	more []any
}

func (s scanAppend) Scan(dest ...any) error { return s.row.Scan(append(dest, s.more...)...) }

// EntitiesByID returns the column fields of the given entities of an
// account; ids not found are left out.
func (db *DB) EntitiesByID(ctx context.Context, accountID string, ids []string) (map[string]StoredEntity, error) {
	out := make(map[string]StoredEntity, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		// By primary key only: with account_id in the condition, SQLite
		// walks the account's whole (account_id, identifier) index
		// instead, 100,000 rows for 50 ids. The account is checked here.
		found, err := queryAll(ctx, db, `SELECT `+entityColumns+` FROM entities WHERE id IN `+placeholders(len(chunk)),
			args, scanEntityColumns)
		if err != nil {
			return nil, err
		}
		for _, s := range found {
			if s.AccountID == accountID {
				out[s.ID] = s
			}
		}
	}
	return out, nil
}

// FindRepository resolves a repository reference of an integration: its
// Bitbucket uuid (with or without braces), full name, slug or name, in that
// order of preference. Errors: NotFound; FailedPrecondition
// (AMBIGUOUS_REPOSITORY) when a name is shared.
func (db *DB) FindRepository(ctx context.Context, integrationID, ref string) (Repository, error) {
	ref = strings.TrimSpace(ref)
	braced := ref
	if ref != "" && !strings.HasPrefix(ref, "{") {
		braced = "{" + ref + "}"
	}
	found, err := queryAll(ctx, db, repoSelect+` WHERE integration_id = ? AND (uuid = ? OR uuid = ? OR full_name = ? OR slug = ? OR name = ?)
		ORDER BY CASE WHEN uuid = ? OR uuid = ? THEN 0 WHEN full_name = ? THEN 1 WHEN slug = ? THEN 2 ELSE 3 END, uuid LIMIT 3`,
		[]any{integrationID, ref, braced, ref, ref, ref, ref, braced, ref, ref}, scanRepository)
	if err != nil {
		return Repository{}, err
	}
	switch {
	case len(found) == 0 || ref == "":
		return Repository{}, NotFound("repository", ref)
	case len(found) > 1 && found[0].Name == ref && found[1].Name == ref && found[0].Slug != ref && found[0].FullName != ref:
		return Repository{}, ambiguousRepository(ref, found)
	}
	return found[0], nil
}

// ReasonAmbiguousRepository: a repository name is shared; the slug, full
// name or uuid is needed.
const ReasonAmbiguousRepository = "AMBIGUOUS_REPOSITORY"

func ambiguousRepository(ref string, found []Repository) error {
	var names []string
	for _, r := range found {
		names = append(names, r.FullName)
	}
	return fault.New(fault.FailedPrecondition, ReasonAmbiguousRepository,
		"repository name %q is shared by %s; give the slug, workspace/slug or uuid", ref, strings.Join(names, ", ")).With("repository", ref)
}

// GetRecommendation returns the stored recommendation of a repository and
// whether it was unlinked once; a repository never correlated has an empty
// recommendation.
func (db *DB) GetRecommendation(ctx context.Context, integrationID, uuid string) (Recommendation, bool, error) {
	rec := Recommendation{RepositoryUUID: uuid}
	var action, cands string
	var unlinked bool
	err := db.queryRow(ctx, `SELECT action, suggested_entity_id, candidates, unlinked_at IS NOT NULL, note FROM recommendations
		WHERE integration_id = ? AND repository_uuid = ?`, integrationID, uuid).Scan(&action, &rec.SuggestedID, &cands, &unlinked, &rec.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	rec.Action = catalog.Action(action)
	rec.Candidates, err = fromJSON[[]StoredCandidate](cands)
	return rec, unlinked, err
}
