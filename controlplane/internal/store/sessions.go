package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ConsoleSession is a signed-in console: the hash of the id its cookie
// carries and the API key it acts as. When it expires is decided by the
// HTTP layer from these times; the store only keeps them.
type ConsoleSession struct {
	IDHash     string
	APIKeyID   string
	APIKeyHash string // read from the key; not stored with the session
	AccountID  string // likewise
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // the absolute end, whatever the activity
}

// CreateConsoleSession stores a new session. Errors: NotFound when the
// API key is unknown.
func (db *DB) CreateConsoleSession(ctx context.Context, s ConsoleSession) error {
	res, err := db.exec(ctx, `INSERT INTO console_sessions (id_hash, api_key_id, created_at, last_seen_at, expires_at)
		SELECT ?, id, ?, ?, ? FROM api_keys WHERE id = ?`,
		s.IDHash, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt), s.APIKeyID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return NotFound("api key", s.APIKeyID)
	}
	return nil
}

// ConsoleSession returns the session whose id hashes to idHash, with the
// hash and account of its key. Errors: NotFound (also once its key is
// deleted).
func (db *DB) ConsoleSession(ctx context.Context, idHash string) (ConsoleSession, error) {
	s := ConsoleSession{IDHash: idHash}
	var created, seen, expires int64
	err := db.queryRow(ctx, `SELECT s.api_key_id, k.hash, k.account_id, s.created_at, s.last_seen_at, s.expires_at
		FROM console_sessions s JOIN api_keys k ON k.id = s.api_key_id WHERE s.id_hash = ?`, idHash).
		Scan(&s.APIKeyID, &s.APIKeyHash, &s.AccountID, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return ConsoleSession{}, NotFound("console session", "")
	}
	if err != nil {
		return ConsoleSession{}, err
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, nil
}

// TouchConsoleSession records activity of a session; it never moves
// last_seen_at backwards.
func (db *DB) TouchConsoleSession(ctx context.Context, idHash string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`,
		micros(at), idHash, micros(at))
	return err
}

// DeleteConsoleSession ends a session; ending an unknown one is not an
// error.
func (db *DB) DeleteConsoleSession(ctx context.Context, idHash string) error {
	_, err := db.exec(ctx, `DELETE FROM console_sessions WHERE id_hash = ?`, idHash)
	return err
}

// PurgeConsoleSessions deletes the sessions that ended at or before now or
// were last seen at or before idleSince, and returns how many.
func (db *DB) PurgeConsoleSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= ? OR last_seen_at <= ?`, micros(now), micros(idleSince))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
