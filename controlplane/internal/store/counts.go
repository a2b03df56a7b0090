package store

import "context"

// The totals of the short lists: an account's connectors and integrations,
// an integration's runs. Each is one index range (connectors and
// integrations by account, sync_runs_by_integration), cheap to count on
// every page.

// CountConnectors counts an account's connectors.
func (db *DB) CountConnectors(ctx context.Context, accountID string) (int64, error) {
	return db.count(ctx, `SELECT COUNT(*) FROM connectors WHERE account_id = ?`, accountID)
}

// CountIntegrations counts an account's integrations.
func (db *DB) CountIntegrations(ctx context.Context, accountID string) (int64, error) {
	return db.count(ctx, `SELECT COUNT(*) FROM integrations WHERE account_id = ?`, accountID)
}

// CountSyncRuns counts an integration's sync runs.
func (db *DB) CountSyncRuns(ctx context.Context, accountID, integrationID string) (int64, error) {
	return db.count(ctx, `SELECT COUNT(*) FROM sync_runs WHERE integration_id = ? AND account_id = ?`, integrationID, accountID)
}

func (db *DB) count(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := db.queryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// ConnectorNames maps the given connector ids of an account to their
// names, in one statement whatever the number of ids.
func (db *DB) ConnectorNames(ctx context.Context, accountID string, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{accountID}
	for _, id := range ids {
		args = append(args, id)
	}
	type pair struct{ id, name string }
	rows, err := queryAll(ctx, db, `SELECT id, name FROM connectors WHERE account_id = ? AND id IN `+placeholders(len(ids)), args,
		func(s scanner) (pair, error) {
			var p pair
			return p, s.Scan(&p.id, &p.name)
		})
	for _, p := range rows {
		out[p.id] = p.name
	}
	return out, err
}
