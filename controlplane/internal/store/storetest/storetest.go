// Package storetest opens real databases for tests: a fresh SQLite file,
// and a PostgreSQL schema of its own when IDP_TEST_POSTGRES_DSN is set.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// Each runs fn once per database: SQLite always, PostgreSQL when
// IDP_TEST_POSTGRES_DSN is set. This is the conformance suite: every test
// written with it must pass on both.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, Postgres(t))
	})
}

// SQLite opens a fresh SQLite database file in a temporary directory.
func SQLite(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "idp.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres opens the PostgreSQL database of IDP_TEST_POSTGRES_DSN in a
// schema of its own, dropped at the end of the test; it skips the test
// when the variable is unset.
func Postgres(t testing.TB, opts ...store.Option) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), PostgresDSN(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresDSN makes a schema of its own on the PostgreSQL database of
// IDP_TEST_POSTGRES_DSN, dropped at the end of the test, and returns the
// DSN that uses it: replicas of a test open it each. It skips the test
// when the variable is unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("IDP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("set IDP_TEST_POSTGRES_DSN=postgres://... to run the tests on PostgreSQL")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "idp_test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("IDP_TEST_POSTGRES_DSN is set but PostgreSQL is not usable: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close()
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
