package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

const runColumns = `id, account_id, integration_id, task_id, triggered_by, status, queued_at, started_at, finished_at, attempt,
	delegate, error, phase, repositories, pull_requests, commits, requests, rate_limited, repositories_done, repositories_total, code_owners_requests, tokens,
	targeted, targeted_repositories`

func scanRun(row scanner) (tasks.SyncRun, error) {
	var r tasks.SyncRun
	dest, finish := runFields(&r)
	err := row.Scan(dest...)
	finish()
	return r, err
}

// runFields returns the scan destinations of runColumns for r, and what
// fills r from them once scanned.
func runFields(r *tasks.SyncRun) ([]any, func()) {
	var trigger, status, targeted string
	var queued int64
	var started, finished sql.NullInt64
	var tokens string
	var isTargeted bool
	p := &r.Progress
	return []any{&r.ID, &r.AccountID, &r.IntegrationID, &r.TaskID, &trigger, &status, &queued, &started, &finished, &r.Attempt,
			&r.Delegate, &r.Error, &p.Phase, &p.Repositories, &p.PullRequests, &p.Commits, &p.Requests, &p.RateLimited,
			&p.RepositoriesDone, &p.RepositoriesTotal, &p.CodeOwnersRequests, &tokens, &isTargeted, &targeted}, func() {
			// Written by this package from a checked list; unreadable only
			// if edited by hand, and then shown as no tokens.
			if ts, _ := fromJSON[[]tasks.TokenUsage](tokens); len(ts) > 0 {
				p.Tokens = ts
			}
			r.Trigger, r.Status = tasks.Trigger(trigger), tasks.RunStatus(status)
			r.QueuedAt, r.StartedAt, r.FinishedAt = fromMicros(queued), fromNullMicros(started), fromNullMicros(finished)
			r.Targeted, _ = splitList(targeted)
		}
}

func getRunTx(ctx context.Context, tx *txn, id string) (tasks.SyncRun, error) {
	return scanRun(tx.queryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE id = ?`, id))
}

// activeRun returns the integration's queued or running full sync, if any.
func activeRun(ctx context.Context, tx *txn, integrationID string) (tasks.SyncRun, bool, error) {
	r, err := scanRun(tx.queryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE integration_id = ? AND status IN ('QUEUED', 'RUNNING')
		AND NOT targeted`, integrationID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// queueSync queues a SYNC task and its run, or returns the active run when
// there is one (joined): an integration never has two active syncs.
func queueSync(ctx context.Context, tx *txn, r SyncRequest, in integration.Integration, conn integration.Connector) (tasks.SyncRun, bool, error) {
	if run, ok, err := activeRun(ctx, tx, in.ID); err != nil || ok {
		return run, ok, err
	}
	taskID, runID := ids.New("task"), ids.New("run")
	now := micros(r.Now)
	if _, err := tx.exec(ctx, `INSERT INTO tasks (id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt,
		lease_token, checkpoint, last_sequence, cancel_requested, outcome, error, result, available_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', 0, ?, '', '', '', ?, ?)`,
		taskID, in.AccountID, string(tasks.Sync), in.ID, conn.ID, runID, joinList(conn.DelegateSelectors), string(tasks.Queued), false, now, now); err != nil {
		return tasks.SyncRun{}, false, err
	}
	run := tasks.SyncRun{ID: runID, AccountID: in.AccountID, IntegrationID: in.ID, TaskID: taskID, Trigger: r.Trigger,
		Status: tasks.RunQueued, QueuedAt: fromMicros(now)}
	if err := insertRun(ctx, tx, run); err != nil {
		return tasks.SyncRun{}, false, err
	}
	return run, false, tx.wake(ctx, Wake{Kind: WakeQueued, Key: in.AccountID})
}

// insertRun stores a queued run: no progress yet; targeted when run names
// the repositories of a targeted refresh.
func insertRun(ctx context.Context, tx *txn, run tasks.SyncRun) error {
	_, err := tx.exec(ctx, `INSERT INTO sync_runs (id, account_id, integration_id, task_id, triggered_by, status, queued_at,
		attempt, delegate, error, phase, repositories, pull_requests, commits, requests, rate_limited, repositories_done,
		repositories_total, targeted, targeted_repositories) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '', '', '', 0, 0, 0, 0, 0, 0, 0, ?, ?)`,
		run.ID, run.AccountID, run.IntegrationID, run.TaskID, string(run.Trigger), string(run.Status), micros(run.QueuedAt),
		len(run.Targeted) > 0, joinList(run.Targeted))
	return err
}

// QueueSync queues a sync now, or joins the active one. Errors: NotFound;
// FailedPrecondition (INTEGRATION_SUSPENDED).
func (db *DB) QueueSync(ctx context.Context, r SyncRequest) (tasks.SyncRun, bool, error) {
	var run tasks.SyncRun
	var joined bool
	err := db.tx(ctx, func(tx *txn) error {
		in, err := lockIntegration(ctx, tx, r.AccountID, r.IntegrationID)
		if err != nil {
			return err
		}
		if in.State != integration.Enabled {
			return fault.New(fault.FailedPrecondition, ReasonIntegrationSuspended,
				"integration %q is suspended; resume it to sync", in.Name).With("integration", in.Name)
		}
		conn, err := getConnectorTx(ctx, tx, r.AccountID, in.ConnectorID)
		if err != nil {
			return err
		}
		r.IntegrationID = in.ID
		run, joined, err = queueSync(ctx, tx, r, in, conn)
		return err
	})
	return run, joined, err
}

// DueIntegrations returns enabled integrations whose next sync is due, oldest due first.
func (db *DB) DueIntegrations(ctx context.Context, now time.Time, limit int) ([]integration.Integration, error) {
	return queryAll(ctx, db, `SELECT `+integrationColumns+` FROM integrations
		WHERE state = 'ENABLED' AND next_sync_at <= ? ORDER BY next_sync_at LIMIT ?`, []any{micros(now), limit}, scanIntegration)
}

// ScheduleSync moves a due integration's next sync one period past now and
// queues a scheduled sync (or joins the active one). The move is a
// compare-and-set on next_sync_at, so when several replicas see the same
// due integration only one claims it; the others get claimed = false.
// joined is true when the integration's active run was returned instead
// of a new one.
func (db *DB) ScheduleSync(ctx context.Context, due integration.Integration, now time.Time) (run tasks.SyncRun, claimed, joined bool, err error) {
	err = db.tx(ctx, func(tx *txn) error {
		next := now.Add(due.Frequency.Duration())
		res, err := tx.exec(ctx, `UPDATE integrations SET next_sync_at = ? WHERE id = ? AND state = 'ENABLED' AND next_sync_at = ?`,
			micros(next), due.ID, micros(due.NextSyncAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		in, err := lockIntegration(ctx, tx, due.AccountID, due.ID)
		if err != nil {
			return err
		}
		conn, err := getConnectorTx(ctx, tx, in.AccountID, in.ConnectorID)
		if err != nil {
			return err
		}
		run, joined, err = queueSync(ctx, tx, SyncRequest{AccountID: in.AccountID, IntegrationID: in.ID, Trigger: tasks.Scheduled, Actor: "scheduler", Now: now}, in, conn)
		claimed = err == nil
		return err
	})
	return run, claimed, joined, err
}

// GetSyncRun returns a run of the account. Errors: NotFound.
func (db *DB) GetSyncRun(ctx context.Context, accountID, id string) (tasks.SyncRun, error) {
	r, err := scanRun(db.queryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE account_id = ? AND id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, NotFound("sync run", id)
	}
	return r, err
}

// LastSyncRun returns the integration's most recent run.
func (db *DB) LastSyncRun(ctx context.Context, accountID, integrationID string) (tasks.SyncRun, bool, error) {
	r, err := scanRun(db.queryRow(ctx, `SELECT `+runColumns+` FROM sync_runs WHERE account_id = ? AND integration_id = ?
		ORDER BY queued_at DESC, id DESC LIMIT 1`, accountID, integrationID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// ListSyncRuns returns an integration's runs, newest first.
func (db *DB) ListSyncRuns(ctx context.Context, accountID, integrationID string, p Page) ([]tasks.SyncRun, string, error) {
	cond, after, err := olderThan(p, "queued_at")
	if err != nil {
		return nil, "", err
	}
	return listPage(ctx, db, `SELECT `+runColumns+` FROM sync_runs WHERE account_id = ? AND integration_id = ?`+cond+
		` ORDER BY queued_at DESC, id DESC LIMIT ?`, append([]any{accountID, integrationID}, after...), p.size(20), scanRun,
		func(r tasks.SyncRun) string { return timeToken(micros(r.QueuedAt), r.ID) })
}

// syncSummary is the one-line message of a finished run's event.
func syncSummary(r tasks.SyncRun) string {
	p := r.Progress
	return fmt.Sprintf("sync %s (%s, attempt %d): %d repositories, %d pull requests, %d commits, %d Bitbucket requests, %d rate-limited",
		r.Status, r.Trigger, r.Attempt, p.Repositories, p.PullRequests, p.Commits, p.Requests, p.RateLimited)
}
