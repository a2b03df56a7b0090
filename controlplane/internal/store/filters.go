package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// applyFilter writes the verdict of an integration's new filter on every
// one of its repositories, in the transaction that changes the filter.
// Raw objects are read only when the filter looks at forks.
func applyFilter(ctx context.Context, tx *txn, integrationID string, f repofilter.Filter) error {
	type verdict struct {
		uuid, before string
		facts        repofilter.Repository
	}
	raw := "''"
	if f.Forks != repofilter.IncludeForks {
		raw = "raw"
	}
	rows, err := queryAll(ctx, tx, `SELECT uuid, excluded_reason, project_key, slug, name, is_private, updated_on, `+raw+`
		FROM repositories WHERE integration_id = ?`, []any{integrationID}, func(row scanner) (verdict, error) {
		var v verdict
		var updated sql.NullInt64
		var rawJSON string
		err := row.Scan(&v.uuid, &v.before, &v.facts.ProjectKey, &v.facts.Slug, &v.facts.Name, &v.facts.IsPrivate, &updated, &rawJSON)
		v.facts.UpdatedOn = fromNullMicros(updated)
		if rawJSON != "" {
			if r, err := repofilter.FromJSON([]byte(rawJSON)); err == nil {
				v.facts.IsFork = r.IsFork
			}
		}
		return v, err
	})
	if err != nil {
		return err
	}
	for _, v := range rows {
		reason := f.Evaluate(v.facts).Reason
		if reason == v.before {
			continue
		}
		if _, err := tx.exec(ctx, `UPDATE repositories SET excluded_reason = ? WHERE integration_id = ? AND uuid = ?`,
			reason, integrationID, v.uuid); err != nil {
			return err
		}
	}
	return nil
}

// IgnoreRequest ignores, or un-ignores, one repository.
type IgnoreRequest struct {
	AccountID, IntegrationID string
	RepositoryUUID           string
	Actor                    string
	Now                      time.Time
	// Check decides, given whether the repository is linked to an entity,
	// whether it may be ignored (imports.CheckIgnore).
	Check func(linked bool) error
}

// IgnoreRepository marks a repository ignored; ignoring an ignored one
// changes nothing. The check runs on the links read in the transaction.
func (db *DB) IgnoreRepository(ctx context.Context, r IgnoreRequest) error {
	return db.tx(ctx, func(tx *txn) error {
		var uuid string
		if err := tx.queryRow(ctx, `SELECT uuid FROM repositories WHERE integration_id = ? AND uuid = ?`+tx.d.lockRows(false),
			r.IntegrationID, r.RepositoryUUID).Scan(&uuid); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return NotFound("repository", r.RepositoryUUID)
			}
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM repository_links WHERE integration_id = ? AND repository_uuid = ?`,
			r.IntegrationID, r.RepositoryUUID).Scan(&n); err != nil {
			return err
		}
		if err := r.Check(n > 0); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO ignored_repositories (integration_id, repository_uuid, ignored_at, ignored_by)
			VALUES (?, ?, ?, ?) ON CONFLICT (integration_id, repository_uuid) DO NOTHING`,
			r.IntegrationID, r.RepositoryUUID, micros(r.Now), r.Actor)
		return err
	})
}

// UnignoreRepository returns an ignored repository to the Discovered list
// and marks the recommendations stale, so it is correlated again. It
// reports whether the repository was ignored.
func (db *DB) UnignoreRepository(ctx context.Context, r IgnoreRequest) (bool, error) {
	var was bool
	err := db.tx(ctx, func(tx *txn) error {
		res, err := tx.exec(ctx, `DELETE FROM ignored_repositories WHERE integration_id = ? AND repository_uuid = ?`, r.IntegrationID, r.RepositoryUUID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		was = true
		return markIntegrationStale(ctx, tx, r.IntegrationID)
	})
	return was, err
}

// RepositoryState is what a repository's import depends on besides its
// recommendation: whether a user ignored it and whether the filter keeps it.
type RepositoryState struct {
	Ignored        bool
	ExcludedReason string
}

// GetRepositoryState returns a repository's ignore mark and filter verdict.
// Errors: NotFound.
func (db *DB) GetRepositoryState(ctx context.Context, integrationID, uuid string) (RepositoryState, error) {
	var st RepositoryState
	err := db.queryRow(ctx, `SELECT r.excluded_reason, EXISTS (SELECT 1 FROM ignored_repositories i
		WHERE i.integration_id = r.integration_id AND i.repository_uuid = r.uuid) FROM repositories r
		WHERE r.integration_id = ? AND r.uuid = ?`, integrationID, uuid).Scan(&st.ExcludedReason, &st.Ignored)
	if errors.Is(err, sql.ErrNoRows) {
		return st, NotFound("repository", uuid)
	}
	return st, err
}

// PatternCandidate is a repository a pattern may select.
type PatternCandidate struct {
	UUID, Slug, Name, FullName string
}

// IgnoreCandidates returns the repositories of an integration an ignore
// (ignored false: discovered, not imported, not ignored, kept by the
// filter) or an un-ignore (ignored true: the ignored ones) by pattern
// chooses from, by name.
func (db *DB) IgnoreCandidates(ctx context.Context, integrationID string, ignored bool) ([]PatternCandidate, error) {
	q := `SELECT r.uuid, r.slug, r.name, r.full_name FROM repositories r WHERE r.integration_id = ?`
	if ignored {
		q += ` AND ` + isIgnored
	} else {
		q += ` AND NOT ` + isIgnored + ` AND r.excluded_reason = ''
			AND NOT EXISTS (SELECT 1 FROM repository_links l WHERE l.integration_id = r.integration_id AND l.repository_uuid = r.uuid)`
	}
	return queryAll(ctx, db, q+` ORDER BY r.name, r.uuid`, []any{integrationID}, func(row scanner) (PatternCandidate, error) {
		var c PatternCandidate
		err := row.Scan(&c.UUID, &c.Slug, &c.Name, &c.FullName)
		return c, err
	})
}

// isIgnored is the condition that repository r is ignored.
const isIgnored = `EXISTS (SELECT 1 FROM ignored_repositories ig WHERE ig.integration_id = r.integration_id AND ig.repository_uuid = r.uuid)`
