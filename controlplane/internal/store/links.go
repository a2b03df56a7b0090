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
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// ImportRequest links one repository to a catalog entity, in one
// transaction: either everything below happens or nothing does.
type ImportRequest struct {
	AccountID      string
	IntegrationID  string
	RepositoryUUID string
	Action         catalog.Action
	Automatic      bool
	// New is the entity Register creates; TargetID the entity Merge links.
	New      *catalog.Entity
	TargetID string
	// Apply adds the link and the ingested properties to the entity, inside
	// the transaction, on its current state.
	Apply func(*catalog.Entity) error
	// PropsHash fingerprints the ingested properties Apply writes.
	PropsHash string
	Now       time.Time
	// Event is recorded with the link; its time and ids are filled in.
	Event Event
}

// ImportOutcome is what an import did.
type ImportOutcome struct {
	Entity StoredEntity
	// Repeated is true when the repository was already linked to the
	// merge target: nothing changed.
	Repeated bool
}

// ImportRepository carries out an ImportRequest. Errors: NotFound (the
// repository or the merge target); AlreadyExists (IDENTIFIER_TAKEN);
// FailedPrecondition (ALREADY_IMPORTED, ENTITY_LINKED).
func (db *DB) ImportRepository(ctx context.Context, r ImportRequest) (ImportOutcome, error) {
	var out ImportOutcome
	err := db.tx(ctx, func(tx *txn) error {
		repo, err := lockRepository(ctx, tx, r.IntegrationID, r.RepositoryUUID)
		if err != nil {
			return err
		}
		facts := imports.Facts{IntegrationID: r.IntegrationID, Repository: repo.FullName, Action: r.Action, TargetID: r.TargetID}
		err = tx.queryRow(ctx, `SELECT entity_id FROM repository_links WHERE integration_id = ? AND repository_uuid = ?`,
			r.IntegrationID, r.RepositoryUUID).Scan(&facts.Linked)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var e StoredEntity
		if facts.Linked == "" && r.Action == catalog.ActionMerge {
			if e, err = lockEntity(ctx, tx, r.TargetID); err != nil || e.AccountID != r.AccountID {
				if err == nil {
					err = NotFound("entity", r.TargetID)
				}
				return err
			}
			// Read after the entity lock, so a concurrent merge into the same
			// entity is seen.
			facts.TargetIdentifier = e.Entity.Identifier
			if facts.TargetFeed, err = entityFeed(ctx, tx, e.ID, r.IntegrationID); err != nil {
				return err
			}
		}
		repeated, err := imports.Check(facts)
		if err != nil {
			return err
		}
		if repeated {
			out.Repeated = true
			out.Entity, err = getEntityTx(ctx, tx, facts.Linked)
			return err
		}
		switch r.Action {
		case catalog.ActionRegister:
			if err := r.Apply(r.New); err != nil {
				return err
			}
			if e, err = insertEntity(ctx, tx, r.AccountID, r.New, r.Now); err != nil {
				return err
			}
		case catalog.ActionMerge:
			if err := r.Apply(e.Entity); err != nil {
				return err
			}
			if err := writeEntity(ctx, tx, e.ID, e.Entity, false, r.Now); err != nil {
				return err
			}
		default:
			return fmt.Errorf("import action %q", r.Action)
		}
		if _, err := tx.exec(ctx, `INSERT INTO repository_links (integration_id, repository_uuid, account_id, entity_id, action,
			automatic, imported_at, props_hash) VALUES `+placeholders(8), r.IntegrationID, r.RepositoryUUID, r.AccountID, e.ID,
			string(r.Action), r.Automatic, micros(r.Now), r.PropsHash); err != nil {
			return err
		}
		if err := setSourceDeleted(ctx, tx, e.ID); err != nil {
			return err
		}
		if err := clearAutoImportRetry(ctx, tx, r.IntegrationID, r.RepositoryUUID); err != nil {
			return err
		}
		if e, err = getEntityTx(ctx, tx, e.ID); err != nil {
			return err
		}
		if err := markKindStale(ctx, tx, r.AccountID, e.Entity.Kind); err != nil {
			return err
		}
		if err := markIntegrationStale(ctx, tx, r.IntegrationID); err != nil {
			return err
		}
		ev := r.Event
		ev.AccountID, ev.IntegrationID, ev.Time, ev.Repository = r.AccountID, r.IntegrationID, r.Now, repo.FullName
		if err := addEvent(ctx, tx, ev); err != nil {
			return err
		}
		e.LinkedIntegrations, err = linkedIntegrations(ctx, tx, e.ID)
		out.Entity = e
		return err
	})
	return out, err
}

// entityFeed returns what feeds an entity already, the integration
// integrationID first, or nil when no repository is linked to it.
func entityFeed(ctx context.Context, tx *txn, entityID, integrationID string) (*catalog.Feed, error) {
	var f catalog.Feed
	err := tx.queryRow(ctx, `SELECT l.integration_id, i.name, r.full_name FROM repository_links l
		JOIN repositories r ON r.integration_id = l.integration_id AND r.uuid = l.repository_uuid
		JOIN integrations i ON i.id = l.integration_id
		WHERE l.entity_id = ? ORDER BY CASE WHEN l.integration_id = ? THEN 0 ELSE 1 END, l.integration_id LIMIT 1`,
		entityID, integrationID).Scan(&f.IntegrationID, &f.IntegrationName, &f.Repository)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// EntityFeeds returns, by entity id, what feeds the account's entities of
// kind that repositories of other integrations than integrationID are
// linked to: the entities a merge from integrationID cannot take.
func (db *DB) EntityFeeds(ctx context.Context, accountID, integrationID, kind string) (map[string]catalog.Feed, error) {
	type fed struct {
		entityID string
		feed     catalog.Feed
	}
	rows, err := queryAll(ctx, db, `SELECT l.entity_id, l.integration_id, i.name, r.full_name FROM repository_links l
		JOIN entities e ON e.id = l.entity_id
		JOIN repositories r ON r.integration_id = l.integration_id AND r.uuid = l.repository_uuid
		JOIN integrations i ON i.id = l.integration_id
		WHERE l.account_id = ? AND l.integration_id <> ? AND LOWER(e.kind) = LOWER(?) ORDER BY l.entity_id, l.integration_id`,
		[]any{accountID, integrationID, kind}, func(row scanner) (fed, error) {
			var f fed
			err := row.Scan(&f.entityID, &f.feed.IntegrationID, &f.feed.IntegrationName, &f.feed.Repository)
			return f, err
		})
	if err != nil {
		return nil, err
	}
	out := make(map[string]catalog.Feed, len(rows))
	for _, f := range rows {
		if _, ok := out[f.entityID]; !ok {
			out[f.entityID] = f.feed
		}
	}
	return out, nil
}

// EntityIdentifiers returns the identifiers the account's entities of kind
// take in a scope (a catalog scope key): those Register cannot create.
func (db *DB) EntityIdentifiers(ctx context.Context, accountID, kind, scope string) (map[string]bool, error) {
	ids, err := queryAll(ctx, db, `SELECT identifier FROM entities WHERE account_id = ? AND kind = ? AND scope = ?`,
		[]any{accountID, kind, scope}, func(row scanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

func lockRepository(ctx context.Context, tx *txn, integrationID, uuid string) (Repository, error) {
	r, err := scanRepository(tx.queryRow(ctx, repoSelect+` WHERE integration_id = ? AND uuid = ?`+tx.d.lockRows(false), integrationID, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return r, NotFound("repository", uuid)
	}
	return r, err
}

// setSourceDeleted flags an entity when any repository linked to it is
// deleted, and clears the flag otherwise.
func setSourceDeleted(ctx context.Context, tx *txn, entityID string) error {
	_, err := tx.exec(ctx, `UPDATE entities SET source_deleted = EXISTS (SELECT 1 FROM repository_links l JOIN repositories r
		ON r.integration_id = l.integration_id AND r.uuid = l.repository_uuid WHERE l.entity_id = ? AND r.deleted_at IS NOT NULL)
		WHERE id = ?`, entityID, entityID)
	return err
}

// UnlinkRequest stops syncing a repository into its entity.
type UnlinkRequest struct {
	AccountID      string
	IntegrationID  string
	RepositoryUUID string
	// Slot is the entity's link slot of the integration.
	Slot  catalog.LinkKey
	Actor string
	Now   time.Time
}

// UnlinkRepository removes a repository's link: the entity loses the link
// (its data stays), the repository returns to the Discovered list marked
// unlinked, and the event is recorded. Errors: NotFound; FailedPrecondition
// (NOT_IMPORTED).
func (db *DB) UnlinkRepository(ctx context.Context, r UnlinkRequest) (StoredEntity, error) {
	var out StoredEntity
	err := db.tx(ctx, func(tx *txn) error {
		repo, err := lockRepository(ctx, tx, r.IntegrationID, r.RepositoryUUID)
		if err != nil {
			return err
		}
		var entityID string
		err = tx.queryRow(ctx, `SELECT entity_id FROM repository_links WHERE integration_id = ? AND repository_uuid = ?`,
			r.IntegrationID, r.RepositoryUUID).Scan(&entityID)
		if errors.Is(err, sql.ErrNoRows) {
			return imports.NotImported(repo.FullName)
		}
		if err != nil {
			return err
		}
		if out, err = lockEntity(ctx, tx, entityID); err != nil {
			return err
		}
		out.Entity.Unlink(r.Slot)
		if _, err := tx.exec(ctx, `DELETE FROM repository_links WHERE integration_id = ? AND repository_uuid = ?`,
			r.IntegrationID, r.RepositoryUUID); err != nil {
			return err
		}
		if err := writeEntity(ctx, tx, entityID, out.Entity, out.SourceDeleted, r.Now); err != nil {
			return err
		}
		if err := setSourceDeleted(ctx, tx, entityID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `INSERT INTO recommendations (`+strings.Join(recommendationCols, ", ")+`) VALUES `+placeholders(8)+`
			ON CONFLICT (integration_id, repository_uuid) DO UPDATE SET unlinked_at = excluded.unlinked_at`,
			r.IntegrationID, r.RepositoryUUID, "", "", "[]", micros(r.Now), micros(r.Now), ""); err != nil {
			return err
		}
		if err := markKindStale(ctx, tx, r.AccountID, out.Entity.Kind); err != nil {
			return err
		}
		if err := markIntegrationStale(ctx, tx, r.IntegrationID); err != nil {
			return err
		}
		return addEvent(ctx, tx, Event{AccountID: r.AccountID, IntegrationID: r.IntegrationID, Time: r.Now, Type: EventUnlinked,
			Actor: r.Actor, Repository: repo.FullName, Message: fmt.Sprintf("repository %s unlinked from %s %s; the entity and its data are kept",
				repo.FullName, out.Entity.Kind, out.Entity.Identifier)})
	})
	return out, err
}

func scanImported(row scanner) (Imported, error) {
	var im Imported
	var action string
	var at int64
	var err error
	im.Repository, err = scanRepository(scanAppend{row, []any{&im.EntityID, &action, &im.Automatic, &at, &im.ExcludedReason}})
	im.Action, im.ImportedAt = catalog.Action(action), fromMicros(at)
	return im, err
}

// Imported is a row of the Imported list.
type Imported struct {
	Repository
	EntityID   string
	Action     catalog.Action
	Automatic  bool
	ImportedAt time.Time
	// ExcludedReason says why the integration's filter leaves the
	// repository out; it stays imported. Empty when the filter keeps it.
	ExcludedReason string
	// Entity holds the column fields of the linked entity.
	Entity StoredEntity
}

// ListImported returns a page of an integration's linked repositories by
// name, and how many match across all pages. search is a case-insensitive
// substring of the repository name.
func (db *DB) ListImported(ctx context.Context, accountID, integrationID, search string, p Page) ([]Imported, string, int64, error) {
	from := ` FROM repository_links l JOIN repositories r ON r.integration_id = l.integration_id AND r.uuid = l.repository_uuid
		WHERE l.integration_id = ?`
	args := []any{integrationID}
	if search != "" {
		pat := likePattern(search)
		from += repoSearch
		args = append(args, pat, pat)
	}
	var total int64
	if err := db.queryRow(ctx, `SELECT COUNT(*)`+from, args...).Scan(&total); err != nil {
		return nil, "", 0, err
	}
	cond, after, err := afterRepository(p)
	if err != nil {
		return nil, "", 0, err
	}
	out, next, err := listPage(ctx, db, `SELECT `+repoColumns("r")+`, l.entity_id, l.action, l.automatic, l.imported_at, r.excluded_reason`+from+cond+
		byRepositoryName+` LIMIT ?`, append(args, after...), p.size(50), scanImported, func(im Imported) string { return encodeToken(im.Name, im.UUID) })
	if err != nil {
		return nil, "", 0, err
	}
	ids := make([]string, len(out))
	for i, im := range out {
		ids[i] = im.EntityID
	}
	if len(ids) > 0 {
		ents, err := db.EntitiesByID(ctx, accountID, ids)
		if err != nil {
			return nil, "", 0, err
		}
		for i := range out {
			out[i].Entity = ents[out[i].EntityID]
		}
	}
	return out, next, total, nil
}

// repoColumns is the column list of repoSelect qualified by alias.
func repoColumns(alias string) string {
	cols := []string{"integration_id", "uuid", "account_id", "slug", "name", "full_name", "workspace", "project_key", "project_name",
		"description", "is_private", "language", "main_branch", "html_url", "clone_https_url", "clone_ssh_url", "created_on",
		"updated_on", "size_bytes", "raw", "first_seen_at", "updated_at", "last_seen_task_id", "deleted_at"}
	return alias + "." + strings.Join(cols, ", "+alias+".")
}

// LinkedRepository is a linked repository as a refresh reads it.
type LinkedRepository struct {
	Repository
	EntityID  string
	PropsHash string
}

// LinkedRepositories returns an integration's linked repositories, by uuid.
func (db *DB) LinkedRepositories(ctx context.Context, integrationID string) ([]LinkedRepository, error) {
	return queryAll(ctx, db, `SELECT `+repoColumns("r")+`, l.entity_id, l.props_hash FROM repository_links l
		JOIN repositories r ON r.integration_id = l.integration_id AND r.uuid = l.repository_uuid
		WHERE l.integration_id = ? ORDER BY r.uuid`, []any{integrationID}, func(row scanner) (LinkedRepository, error) {
		var lr LinkedRepository
		var err error
		lr.Repository, err = scanRepository(scanAppend{row, []any{&lr.EntityID, &lr.PropsHash}})
		return lr, err
	})
}

// RefreshRequest rewrites the ingested properties of a linked entity.
type RefreshRequest struct {
	AccountID      string
	IntegrationID  string
	RepositoryUUID string
	EntityID       string
	PropsHash      string
	Apply          func(*catalog.Entity) error
	Now            time.Time
}

// RefreshLinkedEntity applies a refresh if the repository is still linked
// to the entity (an unlink in between wins) and reports whether it was.
func (db *DB) RefreshLinkedEntity(ctx context.Context, r RefreshRequest) (bool, error) {
	done := false
	err := db.tx(ctx, func(tx *txn) error {
		// The entity is locked before the link is checked, so an unlink
		// that commits while this waits for the lock is seen.
		e, err := lockEntity(ctx, tx, r.EntityID)
		if fault.CodeOf(err) == fault.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM repository_links WHERE integration_id = ? AND repository_uuid = ? AND entity_id = ?`,
			r.IntegrationID, r.RepositoryUUID, r.EntityID).Scan(&n); err != nil || n == 0 {
			return err
		}
		if err := r.Apply(e.Entity); err != nil {
			return err
		}
		if err := writeEntity(ctx, tx, e.ID, e.Entity, e.SourceDeleted, r.Now); err != nil {
			return err
		}
		if err := setSourceDeleted(ctx, tx, e.ID); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE repository_links SET props_hash = ? WHERE integration_id = ? AND repository_uuid = ?`,
			r.PropsHash, r.IntegrationID, r.RepositoryUUID); err != nil {
			return err
		}
		done = true
		return markKindStale(ctx, tx, r.AccountID, e.Entity.Kind)
	})
	return done, err
}

// Activity is the development activity of an entity's linked repositories.
type Activity struct {
	Open, Merged, Declined int64
	Commits                int64
	RecentPullRequests     []ActivityPullRequest
	RecentCommits          []ActivityCommit
}

// ActivityPullRequest is a pull request with its repository's full name.
type ActivityPullRequest struct {
	Repository string
	record.PullRequest
}

// ActivityCommit is a commit with its repository's full name.
type ActivityCommit struct {
	Repository string
	record.Commit
}

// EntityActivity sums the pull requests and commits of the repositories
// linked to an entity and returns the latest limit of each, newest first.
func (db *DB) EntityActivity(ctx context.Context, entityID string, limit int) (Activity, error) {
	var a Activity
	err := db.read(ctx, func(tx *txn) error {
		const linked = ` JOIN repository_links l ON l.integration_id = x.integration_id AND l.repository_uuid = x.repository_uuid
			JOIN repositories r ON r.integration_id = x.integration_id AND r.uuid = x.repository_uuid WHERE l.entity_id = ?`
		rows, err := tx.query(ctx, `SELECT x.state, COUNT(*) FROM pull_requests x`+linked+` GROUP BY x.state`, entityID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var state string
			var n int64
			if err := rows.Scan(&state, &n); err != nil {
				rows.Close()
				return err
			}
			switch state {
			case "OPEN":
				a.Open += n
			case "MERGED":
				a.Merged += n
			case "DECLINED", "SUPERSEDED":
				a.Declined += n
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM commits x`+linked, entityID).Scan(&a.Commits); err != nil {
			return err
		}
		a.RecentPullRequests, err = queryAll(ctx, tx, `SELECT r.full_name, x.repository_uuid, x.number, x.title, x.state, x.author,
			x.updated_on, x.html_url FROM pull_requests x`+linked+` ORDER BY x.updated_on DESC, x.number DESC LIMIT ?`,
			[]any{entityID, limit}, func(row scanner) (ActivityPullRequest, error) {
				var p ActivityPullRequest
				var updated sql.NullInt64
				err := row.Scan(&p.Repository, &p.RepositoryUUID, &p.ID, &p.Title, &p.State, &p.Author, &updated, &p.HTMLURL)
				p.UpdatedOn = fromNullMicros(updated)
				return p, err
			})
		if err != nil {
			return err
		}
		a.RecentCommits, err = queryAll(ctx, tx, `SELECT r.full_name, x.repository_uuid, x.hash, x.committed_at, x.author_raw,
			x.author_user, x.message, x.html_url FROM commits x`+linked+` ORDER BY x.committed_at DESC, x.hash LIMIT ?`,
			[]any{entityID, limit}, func(row scanner) (ActivityCommit, error) {
				var c ActivityCommit
				var date sql.NullInt64
				err := row.Scan(&c.Repository, &c.RepositoryUUID, &c.Hash, &date, &c.AuthorRaw, &c.AuthorUser, &c.Message, &c.HTMLURL)
				c.Date = fromNullMicros(date)
				return c, err
			})
		return err
	})
	return a, err
}
