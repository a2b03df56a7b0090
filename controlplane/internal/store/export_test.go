package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RunScript runs src in one transaction as migrate runs a migration, for
// the tests of package store_test.
func RunScript(ctx context.Context, db *DB, src string) error {
	return db.tx(ctx, func(tx *txn) error { return tx.runScript(ctx, src) })
}

// DialectName names db's SQL dialect: "sqlite" or "postgres".
func DialectName(db *DB) string { return db.dialect.name() }

// WakeIn sends w in a transaction that commits when fail is nil and rolls
// back with fail otherwise.
func WakeIn(ctx context.Context, db *DB, w Wake, fail error) error {
	return db.tx(ctx, func(tx *txn) error {
		if err := tx.wake(ctx, w); err != nil {
			return err
		}
		return fail
	})
}

// TerminateListeners kills the PostgreSQL sessions listening for db's
// wake-ups (their last statement was the LISTEN) and says how many.
func TerminateListeners(ctx context.Context, db *DB) (int, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query = $1) AS t`, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()).Scan(&n)
	return n, err
}

// FillSortKeys runs the sort-key step of the repository_sort_key
// migration again, for a database whose rows predate it.
func FillSortKeys(ctx context.Context, db *DB) error {
	return db.tx(ctx, func(tx *txn) error { return fillSortKeys(ctx, tx) })
}
