package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// FollowUp is the work that follows a finished sync run (refreshing linked
// entities, recomputing recommendations, auto-importing). It is written
// in the transaction that ends the run, so a crash right after the run
// ended cannot lose it, and deleted once carried out.
type FollowUp struct {
	ID            string
	AccountID     string
	IntegrationID string
	RunID         string
	RunStatus     tasks.RunStatus
	CreatedAt     time.Time
	// Attempts counts the claims so far, the current one included.
	Attempts  int
	LastError string
}

const followUpColumns = `id, account_id, integration_id, run_id, run_status, created_at, attempts, last_error`

func scanFollowUp(row scanner) (FollowUp, error) {
	var f FollowUp
	var status string
	var created int64
	err := row.Scan(&f.ID, &f.AccountID, &f.IntegrationID, &f.RunID, &status, &created, &f.Attempts, &f.LastError)
	f.RunStatus, f.CreatedAt = tasks.RunStatus(status), fromMicros(created)
	return f, err
}

// addFollowUp records the follow-up of a run that just ended, within the
// transaction that ends it. A run ends once, so there is one per run.
func addFollowUp(ctx context.Context, tx *txn, run tasks.SyncRun, now time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO follow_ups (id, account_id, integration_id, run_id, run_status, created_at, available_at,
		claimed_until, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, '') ON CONFLICT (run_id) DO NOTHING`,
		ids.New("fup"), run.AccountID, run.IntegrationID, run.ID, string(run.Status), micros(now), micros(now))
	return err
}

// ClaimFollowUp takes a due follow-up nobody holds, for leaseFor: the
// oldest, or the one of runID when runID is set. ok is false when there is
// none. While claimed, no other caller (on any replica) gets it; a claim
// that runs out (its holder died) makes it due again. On PostgreSQL the
// row is taken with FOR UPDATE SKIP LOCKED, so replicas claiming at once
// pass each other.
func (db *DB) ClaimFollowUp(ctx context.Context, runID string, now time.Time, leaseFor time.Duration) (FollowUp, bool, error) {
	var f FollowUp
	found := false
	err := db.tx(ctx, func(tx *txn) error {
		q := `SELECT ` + followUpColumns + ` FROM follow_ups WHERE available_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)`
		args := []any{micros(now), micros(now)}
		if runID != "" {
			q += ` AND run_id = ?`
			args = append(args, runID)
		}
		var err error
		f, err = scanFollowUp(tx.queryRow(ctx, q+` ORDER BY available_at, id LIMIT 1`+tx.d.lockRows(true), args...))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		f.Attempts++
		_, err = tx.exec(ctx, `UPDATE follow_ups SET claimed_until = ?, attempts = ? WHERE id = ?`, micros(now.Add(leaseFor)), f.Attempts, f.ID)
		found = err == nil
		return err
	})
	return f, found, err
}

// FinishFollowUp deletes a follow-up that was carried out.
func (db *DB) FinishFollowUp(ctx context.Context, id string) error {
	_, err := db.exec(ctx, `DELETE FROM follow_ups WHERE id = ?`, id)
	return err
}

// FailFollowUp records that a claimed follow-up failed, with the
// FOLLOW_UP_FAILED event e in the same transaction: it is due again at
// retryAt, or, when retryAt is zero, given up and deleted.
func (db *DB) FailFollowUp(ctx context.Context, f FollowUp, retryAt time.Time, e Event) error {
	return db.tx(ctx, func(tx *txn) error {
		var err error
		if retryAt.IsZero() {
			_, err = tx.exec(ctx, `DELETE FROM follow_ups WHERE id = ?`, f.ID)
		} else {
			_, err = tx.exec(ctx, `UPDATE follow_ups SET available_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?`,
				micros(retryAt), e.Error, f.ID)
		}
		if err != nil {
			return err
		}
		e.Type, e.AccountID, e.IntegrationID, e.RunID = EventFollowUpFailed, f.AccountID, f.IntegrationID, f.RunID
		return addEvent(ctx, tx, e)
	})
}
