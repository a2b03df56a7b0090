package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// DB is the SQL implementation of Store.
type DB struct {
	sql     *sql.DB
	dialect dialect
	// location and created let the binaries say which database they use,
	// so that a mistyped --db is seen rather than silently served.
	location string
	created  bool
	// dsn and channel let Listen open a connection of its own and listen
	// where transactions notify (PostgreSQL only).
	dsn, channel string
}

var _ Store = (*DB)(nil)

// Open connects to the database named by dsn and applies pending
// migrations. Accepted forms:
//
//	sqlite://./idp.db, sqlite:///var/lib/idp/idp.db   (file created if missing)
//	postgres://user@host:5432/db?sslmode=disable      (also postgresql://)
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db, err := open(dsn, o)
	if err != nil {
		return nil, err
	}
	if err := db.sql.PingContext(ctx); err != nil {
		db.sql.Close()
		return nil, fmt.Errorf("connect to %s database: %w", db.dialect.name(), err)
	}
	if err := db.migrate(ctx); err != nil {
		db.sql.Close()
		return nil, err
	}
	if db.dsn != "" {
		var schema string
		if err := db.sql.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			db.sql.Close()
			return nil, fmt.Errorf("read the current schema: %w", err)
		}
		db.channel = wakeChannel(schema)
	}
	return db, nil
}

func open(dsn string, o options) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		path := strings.TrimPrefix(dsn, "sqlite://")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, fault.New(fault.Invalid, "", "database %q: sqlite:// needs a file path, e.g. sqlite://./idp.db", dsn)
		}
		_, statErr := os.Stat(path)
		created := errors.Is(statErr, fs.ErrNotExist)
		location := path
		if abs, err := filepath.Abs(path); err == nil {
			location = abs
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("database directory: %w", err)
			}
		}
		// WAL lets readers proceed during a write; synchronous(FULL) makes
		// an acknowledged commit survive power loss, not only a crash;
		// _txlock=immediate takes the write lock at BEGIN so a transaction
		// never fails half-way on a lock upgrade.
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		s, err := openSQL("sqlite", "file:"+path+"?"+q.Encode(), o)
		if err != nil {
			return nil, err
		}
		// SQLite has one writer; one connection makes that explicit and
		// turns lock contention into Go-side queueing instead of
		// SQLITE_BUSY errors.
		s.SetMaxOpenConns(1)
		s.SetConnMaxLifetime(0)
		return &DB{sql: s, dialect: sqliteDialect{}, location: location, created: created}, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := openSQL("pgx", dsn, o)
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		s.SetMaxOpenConns(20)
		s.SetMaxIdleConns(10)
		s.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{sql: s, dialect: postgresDialect{}, location: postgresLocation(dsn), dsn: dsn}, nil
	default:
		return nil, fault.New(fault.Invalid, "", "database %q: want sqlite://PATH or postgres://USER@HOST:PORT/DB", redactDSN(dsn))
	}
}

// redactDSN hides a password in a DSN for error messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return logging.URL(u) // the password as [REDACTED], as every binary prints one
}

// postgresLocation is host:port/database of a PostgreSQL DSN, without the
// user or password.
func postgresLocation(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres"
	}
	return u.Host + "/" + strings.TrimPrefix(u.Path, "/")
}

// Location says where the database is, safe to log: the absolute file path
// of SQLite, host:port/database of PostgreSQL.
func (db *DB) Location() string { return db.location }

// Created reports whether Open created a new, empty SQLite file, which
// with an existing installation usually means a mistyped path.
func (db *DB) Created() bool { return db.created }

// Dialect names the database kind: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name() }

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks the database is reachable, for health checks.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }
