package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/sortkey"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		body, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, migration{version: v, name: m[2], sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: versions must be 1, 2, 3, ... without gaps", m.version, m.name)
		}
	}
	return out, nil
}

// migrate applies every migration newer than the database in one
// transaction: the schema moves from one version to another or not at
// all. On PostgreSQL an advisory lock keeps replicas starting together
// from racing; on SQLite the write lock taken at BEGIN does the same.
func (db *DB) migrate(ctx context.Context) error {
	all, err := migrations()
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *txn) error {
		if db.dialect.name() == "postgres" {
			if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock(727274)`); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if current > len(all) {
			return fmt.Errorf("the database schema is at version %d but this binary knows only up to %d: run a newer control plane", current, len(all))
		}
		for _, m := range all[current:] {
			if err := tx.runScript(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
			}
			if fill := migrationSteps[m.name]; fill != nil {
				if err := fill(ctx, tx); err != nil {
					return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
				}
			}
			if _, err := tx.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, micros(time.Now())); err != nil {
				return err
			}
		}
		return nil
	})
}

// runScript runs the statements of a migration as written. They take no
// parameters, so a ? in them (in a string, a comment, or PostgreSQL's jsonb
// operator) is not rebound as a placeholder.
func (t *txn) runScript(ctx context.Context, src string) error {
	stmts, err := splitStatements(src)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\nin statement:\n%s", err, stmt)
		}
	}
	return nil
}

// migrationSteps are the parts of migrations SQL cannot do, by migration
// name, run in the migration's transaction right after its SQL.
var migrationSteps = map[string]func(ctx context.Context, tx *txn) error{
	"repository_sort_key": fillSortKeys,
}

// fillSortKeys makes the sort key of every repository already stored.
func fillSortKeys(ctx context.Context, tx *txn) error {
	type row struct{ integrationID, uuid, name string }
	rows, err := queryAll(ctx, tx, `SELECT integration_id, uuid, name FROM repositories`, nil, func(s scanner) (row, error) {
		var r row
		return r, s.Scan(&r.integrationID, &r.uuid, &r.name)
	})
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := tx.exec(ctx, `UPDATE repositories SET sort_key = ? WHERE integration_id = ? AND uuid = ?`,
			sortkey.Of(r.name), r.integrationID, r.uuid); err != nil {
			return err
		}
	}
	return nil
}
