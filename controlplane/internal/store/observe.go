package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// seenResolution is how stale a delegate's last_seen_at may get before a
// poll or renewal writes it again: writing at every call would add a write
// to each of them for no gain in what it tells.
const seenResolution = 10 * time.Second

// DelegateSeen records that a delegate of the account called now (polled
// for work).
func (db *DB) DelegateSeen(ctx context.Context, accountID, delegateID string, now time.Time) error {
	_, err := db.exec(ctx, `UPDATE delegates SET last_seen_at = ? WHERE account_id = ? AND id = ? AND last_seen_at < ?`,
		micros(now), accountID, delegateID, micros(now.Add(-seenResolution)))
	return err
}

// TaskDelegateSeen records that the delegate holding a task of the account
// called now (renewed its lease).
func (db *DB) TaskDelegateSeen(ctx context.Context, accountID, taskID string, now time.Time) error {
	_, err := db.exec(ctx, `UPDATE delegates SET last_seen_at = ?
		WHERE id = (SELECT delegate_id FROM tasks WHERE account_id = ? AND id = ?) AND last_seen_at < ?`,
		micros(now), accountID, taskID, micros(now.Add(-seenResolution)))
	return err
}

// DelegatesSeenSince counts the delegates of every account that called at
// or after since.
func (db *DB) DelegatesSeenSince(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	err := db.queryRow(ctx, `SELECT COUNT(*) FROM delegates WHERE last_seen_at >= ?`, micros(since)).Scan(&n)
	return n, err
}

// TaskCount is how many tasks of a type are in a state.
type TaskCount struct {
	Type  tasks.Type
	State tasks.State
	Count int64
}

// CountActiveTasks counts the queued and leased tasks of every account by
// type and state. Finished tasks are left out: they accumulate without
// bound, and a partial index keeps this to the tasks still active.
func (db *DB) CountActiveTasks(ctx context.Context) ([]TaskCount, error) {
	rows, err := db.query(ctx, `SELECT type, state, COUNT(*) FROM tasks WHERE state <> 'DONE' GROUP BY type, state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TaskCount
	for rows.Next() {
		var c TaskCount
		var typ, state string
		if err := rows.Scan(&typ, &state, &c.Count); err != nil {
			return nil, err
		}
		c.Type, c.State = tasks.Type(typ), tasks.State(state)
		out = append(out, c)
	}
	return out, rows.Err()
}

// PoolStats returns the connection pool's statistics.
func (db *DB) PoolStats() sql.DBStats { return db.sql.Stats() }
