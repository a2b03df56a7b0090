package store

import "testing"

// A PostgreSQL location is safe to log: no user, no password.
func TestPostgresLocationHidesCredentials(t *testing.T) {
	t.Parallel()
	got := postgresLocation("postgres://idp:s3cret@db.internal:5432/idp?sslmode=require")
	if got != "db.internal:5432/idp" {
		t.Fatalf("location = %q, want db.internal:5432/idp", got)
	}
}
