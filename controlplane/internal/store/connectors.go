package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
)

// Reasons of connector failures.
const (
	ReasonConnectorNameTaken = "NAME_TAKEN"
	ReasonConnectorInUse     = "CONNECTOR_IN_USE"
)

const connectorColumns = `id, account_id, name, url, username, token_ref, api_base_url, delegate_selectors, workspace, created_at, token_refs`

// CreateConnector stores a validated connector. Errors: AlreadyExists
// (NAME_TAKEN).
func (db *DB) CreateConnector(ctx context.Context, c integration.Connector) error {
	_, err := db.exec(ctx, `INSERT INTO connectors (`+connectorColumns+`) VALUES `+placeholders(11),
		c.ID, c.AccountID, c.Name, c.URL, c.Username, c.TokenRef, c.APIBaseURL, joinList(c.DelegateSelectors), c.Workspace, micros(c.CreatedAt),
		joinList(c.TokenRefs))
	if db.dialect.isUniqueViolation(err) {
		return fault.New(fault.AlreadyExists, ReasonConnectorNameTaken, "a connector named %q already exists", c.Name).With("name", c.Name)
	}
	return err
}

func scanConnector(row scanner) (integration.Connector, error) {
	var c integration.Connector
	var sel, refs string
	var created int64
	if err := row.Scan(&c.ID, &c.AccountID, &c.Name, &c.URL, &c.Username, &c.TokenRef, &c.APIBaseURL, &sel, &c.Workspace, &created, &refs); err != nil {
		return c, err
	}
	c.CreatedAt = fromMicros(created)
	var err error
	if c.DelegateSelectors, err = splitList(sel); err != nil {
		return c, err
	}
	if c.TokenRefs, err = splitList(refs); err == nil && len(c.TokenRefs) == 0 {
		c.TokenRefs = []string{c.TokenRef} // stored before connectors had several tokens
	}
	return c, err
}

// GetConnector returns a connector by id or name. Errors: NotFound.
func (db *DB) GetConnector(ctx context.Context, accountID, ref string) (integration.Connector, error) {
	c, err := scanConnector(db.queryRow(ctx, `SELECT `+connectorColumns+` FROM connectors
		WHERE account_id = ? AND (id = ? OR name = ?) ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`, accountID, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return c, NotFound("connector", ref)
	}
	return c, err
}

func getConnectorTx(ctx context.Context, tx *txn, accountID, id string) (integration.Connector, error) {
	c, err := scanConnector(tx.queryRow(ctx, `SELECT `+connectorColumns+` FROM connectors WHERE account_id = ? AND id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, NotFound("connector", id)
	}
	return c, err
}

// ListConnectors returns a page of connectors by name.
func (db *DB) ListConnectors(ctx context.Context, accountID string, p Page) ([]integration.Connector, string, error) {
	after, err := afterKey(p)
	if err != nil {
		return nil, "", err
	}
	return listPage(ctx, db, `SELECT `+connectorColumns+` FROM connectors WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?`,
		[]any{accountID, after}, p.size(50), scanConnector, func(c integration.Connector) string { return encodeToken(c.Name) })
}

// DeleteConnector removes a connector no integration uses. Errors:
// NotFound; FailedPrecondition (CONNECTOR_IN_USE).
func (db *DB) DeleteConnector(ctx context.Context, accountID, ref string) error {
	c, err := db.GetConnector(ctx, accountID, ref)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *txn) error {
		var name string
		err := tx.queryRow(ctx, `SELECT name FROM integrations WHERE connector_id = ? ORDER BY name LIMIT 1`, c.ID).Scan(&name)
		if err == nil {
			return fault.New(fault.FailedPrecondition, ReasonConnectorInUse,
				"connector %q is used by integration %q; switch the integration to another connector first", c.Name, name).
				With("connector", c.Name).With("integration", name)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.exec(ctx, `DELETE FROM connectors WHERE id = ?`, c.ID)
		return err
	})
}

// UpdateConnector changes a connector by id or name as apply decides,
// reading and writing it in one transaction. Errors: NotFound;
// AlreadyExists (NAME_TAKEN); whatever apply refuses.
func (db *DB) UpdateConnector(ctx context.Context, accountID, ref string, apply func(*integration.Connector) error) (integration.Connector, error) {
	c, err := db.GetConnector(ctx, accountID, ref)
	if err != nil {
		return c, err
	}
	err = db.tx(ctx, func(tx *txn) error {
		cur, err := getConnectorTx(ctx, tx, accountID, c.ID)
		if err != nil {
			return err
		}
		if err := apply(&cur); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE connectors SET name = ?, token_ref = ?, token_refs = ?, api_base_url = ?, delegate_selectors = ?
			WHERE id = ?`, cur.Name, cur.TokenRef, joinList(cur.TokenRefs), cur.APIBaseURL, joinList(cur.DelegateSelectors), cur.ID)
		if db.dialect.isUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, ReasonConnectorNameTaken, "a connector named %q already exists", cur.Name).With("name", cur.Name)
		}
		c = cur
		return err
	})
	return c, err
}
