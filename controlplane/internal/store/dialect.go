package store

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds every difference between the two databases.
type dialect interface {
	name() string
	// rebind turns the portable '?' placeholders into the dialect's own.
	rebind(query string) string
	// lockRows is appended to a SELECT that claims rows inside a write
	// transaction; skipLocked lets concurrent claimers pass each other.
	lockRows(skipLocked bool) string
	// maxParams is the most bind parameters one statement may carry.
	maxParams() int
	isUniqueViolation(err error) bool
	// dataException reports whether err is the database refusing a value
	// (a character it cannot store, a value too large), with its code:
	// the same statement fails again however often it is retried.
	dataException(err error) (string, bool)
}

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) lockRows(bool) string   { return "" } // one writer: transactions are serial
func (sqliteDialect) maxParams() int         { return 32766 }
func (sqliteDialect) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func (sqliteDialect) dataException(err error) (string, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_TOOBIG || e.Code() == sqlite3.SQLITE_MISMATCH) {
		return sqlite.ErrorCodeString[e.Code()], true
	}
	return "", false
}

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

func (postgresDialect) rebind(q string) string {
	n := strings.Count(q, "?")
	if n == 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + n*3)
	i := 0
	for _, r := range q {
		if r == '?' {
			i++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(i))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (postgresDialect) lockRows(skipLocked bool) string {
	if skipLocked {
		return " FOR UPDATE SKIP LOCKED"
	}
	return " FOR UPDATE"
}

func (postgresDialect) maxParams() int { return 65535 }

func (postgresDialect) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// dataException is SQLSTATE class 22, e.g. 22021 for a NUL byte or invalid
// UTF-8 in text, 22001 for a value too long, 22003 for a number out of range.
func (postgresDialect) dataException(err error) (string, bool) {
	var e *pgconn.PgError
	if errors.As(err, &e) && strings.HasPrefix(e.Code, "22") {
		return e.Code, true
	}
	return "", false
}
