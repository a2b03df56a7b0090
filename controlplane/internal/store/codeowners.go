package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
)

// CodeOwnersToCheck lists, for the next sync, the repositories whose
// CODEOWNERS file to read: not deleted, not imported, recommended for
// Register, and never read or read before they last changed. Those never
// read come first; at most limit.
func (db *DB) CodeOwnersToCheck(ctx context.Context, integrationID string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, db, `SELECT r.uuid FROM repositories r
		JOIN recommendations rc ON rc.integration_id = r.integration_id AND rc.repository_uuid = r.uuid
		LEFT JOIN code_owners co ON co.integration_id = r.integration_id AND co.repository_uuid = r.uuid
		WHERE r.integration_id = ? AND r.deleted_at IS NULL AND rc.action = ? AND r.main_branch <> ''
		AND NOT EXISTS (SELECT 1 FROM repository_links l WHERE l.integration_id = r.integration_id AND l.repository_uuid = r.uuid)
		AND (co.repository_uuid IS NULL OR co.repository_updated_on IS NULL OR co.repository_updated_on < r.updated_on)
		ORDER BY co.repository_uuid IS NOT NULL, r.name, r.uuid LIMIT ?`,
		[]any{integrationID, string(catalog.ActionRegister), limit}, func(row scanner) (string, error) {
			var uuid string
			return uuid, row.Scan(&uuid)
		})
}

// codeOwnersColumns are the code_owners columns of a LEFT JOIN as co, NULL
// when the file was never read.
const codeOwnersColumns = `co.path, co.owners, co.covers_repository, co.checked_at`

// codeOwnersDest scans codeOwnersColumns; finish returns the finding, nil
// when the file was never read.
func codeOwnersDest() ([]any, func() (*owners.Finding, error)) {
	var path, list sql.NullString
	var covers sql.NullBool
	var checked sql.NullInt64
	return []any{&path, &list, &covers, &checked}, func() (*owners.Finding, error) {
		if !checked.Valid {
			return nil, nil
		}
		found, err := fromJSON[[]string](list.String)
		if err != nil {
			return nil, err
		}
		return &owners.Finding{Path: path.String, Owners: found, Covers: covers.Bool, CheckedAt: fromMicros(checked.Int64)}, nil
	}
}

// GetCodeOwners returns what a repository's CODEOWNERS file said when last
// read; nil when it never was.
func (db *DB) GetCodeOwners(ctx context.Context, integrationID, uuid string) (*owners.Finding, error) {
	dest, finish := codeOwnersDest()
	err := db.queryRow(ctx, `SELECT `+codeOwnersColumns+` FROM code_owners co WHERE co.integration_id = ? AND co.repository_uuid = ?`,
		integrationID, uuid).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return finish()
}
