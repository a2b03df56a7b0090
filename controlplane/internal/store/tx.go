package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// txn is a transaction that rebinds placeholders for its dialect.
type txn struct {
	tx      *sql.Tx
	d       dialect
	channel string // of wake-ups, on PostgreSQL
}

func (t *txn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t *txn) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// tx runs fn in a transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, fn func(*txn) error) error {
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	t := &txn{tx: sqlTx, d: db.dialect, channel: db.channel}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Reads outside transactions.

func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.dialect.rebind(q), args...)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.dialect.rebind(q), args...)
}

func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, db.dialect.rebind(q), args...)
}

// Time is stored as Unix microseconds, UTC; the zero time as NULL.

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// Lists and small structures are stored as JSON text.

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("store: marshal " + err.Error()) // only our own plain types are marshalled
	}
	return string(b)
}

func fromJSON[T any](s string) (T, error) {
	var v T
	if s == "" {
		return v, nil
	}
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

func encodeBytes(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func decodeBytes(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

func joinList(v []string) string { return toJSON(nonNil(v)) }

func splitList(s string) ([]string, error) { return fromJSON[[]string](s) }

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// placeholders returns "(?, ?, ?)" for n columns.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// NotFound builds the NotFound fault for a missing resource.
func NotFound(what, ref string) error {
	return fault.New(fault.NotFound, "", "%s %q not found", what, ref).With(strings.ReplaceAll(what, " ", ""), ref)
}

// scanner is a row being read: *sql.Row, *sql.Rows or a wrapper of either.
type scanner interface{ Scan(dest ...any) error }

// scanString reads a row of one text column.
func scanString(row scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// querier runs reads: the database, or a transaction.
type querier interface {
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// queryAll runs a query and scans every row it returns. The rows are
// closed when it returns, so the caller may write in the same transaction.
func queryAll[T any](ctx context.Context, q querier, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
