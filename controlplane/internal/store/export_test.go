package store

import "context"

// RunScript runs src in one transaction as migrate runs a migration, for
// the tests of package store_test.
func RunScript(ctx context.Context, db *DB, src string) error {
	return db.tx(ctx, func(tx *txn) error { return tx.runScript(ctx, src) })
}

// DialectName names db's SQL dialect: "sqlite" or "postgres".
func DialectName(db *DB) string { return db.dialect.name() }
