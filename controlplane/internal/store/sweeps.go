package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// SweepFacts are what the store knows that a sync's plan is decided from.
type SweepFacts struct {
	// Trigger is what started the task's run.
	Trigger tasks.Trigger
	// ListedAsOf and LastFullListing are the integration's (see
	// sweep.Facts).
	ListedAsOf, LastFullListing time.Time
	// Repositories are the integration's live repositories.
	Repositories []sweep.Repository
}

// PlanSync returns the plan of a leased sync task: the one stored by an
// earlier attempt, or else the one decide makes from the store's facts,
// stored with the task in the same transaction so that every attempt of a
// run carries out one plan. Errors: FailedPrecondition (LEASE_LOST).
func (db *DB) PlanSync(ctx context.Context, accountID, taskID, leaseToken string, decide func(SweepFacts) sweep.Plan) (sweep.Plan, error) {
	var plan sweep.Plan
	err := db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, accountID, taskID)
		if err != nil {
			return err
		}
		if t.State != tasks.Leased || t.LeaseToken != leaseToken {
			return tasks.ErrLeaseLost
		}
		var stored string
		if err := tx.queryRow(ctx, `SELECT sweep_plan FROM tasks WHERE id = ?`, t.ID).Scan(&stored); err != nil {
			return err
		}
		if stored != "" {
			return json.Unmarshal([]byte(stored), &plan)
		}
		f, err := sweepFacts(ctx, tx, t)
		if err != nil {
			return err
		}
		plan = decide(f)
		b, err := json.Marshal(plan)
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE tasks SET sweep_plan = ? WHERE id = ?`, string(b), t.ID)
		return err
	})
	return plan, err
}

func sweepFacts(ctx context.Context, tx *txn, t tasks.Task) (SweepFacts, error) {
	var f SweepFacts
	var listed, full sql.NullInt64
	if err := tx.queryRow(ctx, `SELECT listed_as_of, last_full_listing_at FROM integrations WHERE id = ?`, t.IntegrationID).
		Scan(&listed, &full); err != nil {
		return f, err
	}
	f.ListedAsOf, f.LastFullListing = fromNullMicros(listed), fromNullMicros(full)
	if t.RunID != "" {
		var trigger string
		if err := tx.queryRow(ctx, `SELECT triggered_by FROM sync_runs WHERE id = ?`, t.RunID).Scan(&trigger); err != nil {
			return f, err
		}
		f.Trigger = tasks.Trigger(trigger)
	}
	var err error
	f.Repositories, err = queryAll(ctx, tx, `SELECT r.uuid, c.pr_confirmed_at, r.updated_on,
		EXISTS (SELECT 1 FROM pull_requests p WHERE p.integration_id = r.integration_id AND p.repository_uuid = r.uuid AND p.state = 'OPEN')
		FROM repositories r LEFT JOIN repository_cursors c ON c.integration_id = r.integration_id AND c.repository_uuid = r.uuid
		WHERE r.integration_id = ? AND r.deleted_at IS NULL ORDER BY r.uuid`, []any{t.IntegrationID}, func(row scanner) (sweep.Repository, error) {
		var r sweep.Repository
		var confirmed, updated sql.NullInt64
		err := row.Scan(&r.UUID, &confirmed, &updated, &r.OpenPullRequests)
		r.ConfirmedAt, r.UpdatedOn = fromNullMicros(confirmed), fromNullMicros(updated)
		return r, err
	})
	return f, err
}

// listingCompleted records what a complete listing of task t establishes
// under its plan: every repository updated before the plan time was
// listed, and after a full listing, that a full listing happened then. A
// task without a plan lists everything, as a full one does.
func (a *applier) listingCompleted(ctx context.Context) (full bool, _ error) {
	var stored string
	if err := a.tx.queryRow(ctx, `SELECT sweep_plan FROM tasks WHERE id = ?`, a.task.ID).Scan(&stored); err != nil {
		return false, err
	}
	if stored == "" {
		return true, nil
	}
	var p sweep.Plan
	if err := json.Unmarshal([]byte(stored), &p); err != nil {
		return false, err
	}
	asOf := micros(p.AsOf)
	q := `UPDATE integrations SET listed_as_of = ? WHERE id = ? AND (listed_as_of IS NULL OR listed_as_of < ?)`
	if _, err := a.tx.exec(ctx, q, asOf, a.task.IntegrationID, asOf); err != nil {
		return false, err
	}
	if p.Mode != sweep.Full {
		return false, nil
	}
	q = `UPDATE integrations SET last_full_listing_at = ? WHERE id = ? AND (last_full_listing_at IS NULL OR last_full_listing_at < ?)`
	_, err := a.tx.exec(ctx, q, asOf, a.task.IntegrationID, asOf)
	return true, err
}

// Freshness is how recently an integration's data was confirmed.
type Freshness struct {
	Repositories int64
	// OldestConfirmed is the oldest confirmation of a repository's pull
	// requests; zero when one was never confirmed, or there are none.
	OldestConfirmed time.Time
	// Overdue counts repositories whose pull requests were never
	// confirmed, or before the cutoff given.
	Overdue         int64
	ListedAsOf      time.Time
	LastFullListing time.Time
}

// Freshness counts an integration's live repositories and those whose
// pull requests were confirmed before overdueBefore (or never).
func (db *DB) Freshness(ctx context.Context, integrationID string, overdueBefore time.Time) (Freshness, error) {
	var f Freshness
	var oldest, listed, full sql.NullInt64
	var never, overdue sql.NullInt64
	err := db.queryRow(ctx, `SELECT COUNT(*), MIN(c.pr_confirmed_at),
		SUM(CASE WHEN c.pr_confirmed_at IS NULL THEN 1 ELSE 0 END),
		SUM(CASE WHEN c.pr_confirmed_at IS NULL OR c.pr_confirmed_at < ? THEN 1 ELSE 0 END)
		FROM repositories r LEFT JOIN repository_cursors c ON c.integration_id = r.integration_id AND c.repository_uuid = r.uuid
		WHERE r.integration_id = ? AND r.deleted_at IS NULL`, micros(overdueBefore), integrationID).
		Scan(&f.Repositories, &oldest, &never, &overdue)
	if err != nil {
		return f, err
	}
	if never.Int64 == 0 {
		f.OldestConfirmed = fromNullMicros(oldest)
	}
	f.Overdue = overdue.Int64
	err = db.queryRow(ctx, `SELECT listed_as_of, last_full_listing_at FROM integrations WHERE id = ?`, integrationID).Scan(&listed, &full)
	f.ListedAsOf, f.LastFullListing = fromNullMicros(listed), fromNullMicros(full)
	return f, err
}
