package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestDataExceptionIsClass22Only(t *testing.T) {
	t.Parallel()
	d := postgresDialect{}
	for code, want := range map[string]bool{"22021": true, "22001": true, "22P05": true, "23505": false, "40P01": false} {
		err := fmt.Errorf("upsert commits: %w", &pgconn.PgError{Code: code})
		if got, ok := d.dataException(err); ok != want || (ok && got != code) {
			t.Errorf("%s: %q, %v; want %v", code, got, ok, want)
		}
	}
	if _, ok := d.dataException(errors.New("connection reset")); ok {
		t.Error("a connection error taken for a data exception")
	}
}
