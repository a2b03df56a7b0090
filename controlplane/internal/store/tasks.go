package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

const taskColumns = `id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt, lease_token,
	lease_expires_at, delegate_id, checkpoint, last_sequence, cancel_requested, outcome, error, result, created_at, available_at, finished_at,
	payload`

func scanTask(row scanner) (tasks.Task, error) {
	var t tasks.Task
	var typ, sel, state, checkpoint, outcome, result, payload string
	var integ, conn, run, delegate sql.NullString
	var expires, finished sql.NullInt64
	var created, available int64
	err := row.Scan(&t.ID, &t.AccountID, &typ, &integ, &conn, &run, &sel, &state, &t.Attempt, &t.LeaseToken,
		&expires, &delegate, &checkpoint, &t.LastSequence, &t.CancelRequested, &outcome, &t.Error, &result, &created, &available, &finished,
		&payload)
	if err != nil {
		return t, err
	}
	if payload != "" {
		p, err := fromJSON[taskPayload](payload)
		if err != nil {
			return t, err
		}
		t.Repositories, t.HookActive = p.Repositories, p.HookActive
	}
	t.Type, t.State, t.Outcome = tasks.Type(typ), tasks.State(state), tasks.Outcome(outcome)
	t.IntegrationID, t.ConnectorID, t.RunID, t.DelegateID = integ.String, conn.String, run.String, delegate.String
	t.LeaseExpiresAt, t.CreatedAt, t.FinishedAt = fromNullMicros(expires), fromMicros(created), fromNullMicros(finished)
	t.AvailableAt = fromMicros(available)
	if t.Selectors, err = splitList(sel); err != nil {
		return t, err
	}
	if t.Checkpoint, err = decodeBytes(checkpoint); err != nil {
		return t, err
	}
	if result != "" {
		r, err := fromJSON[tasks.TestResult](result)
		if err != nil {
			return t, err
		}
		t.Result = &r
	}
	return t, nil
}

func lockTask(ctx context.Context, tx *txn, accountID, id string) (tasks.Task, error) {
	t, err := scanTask(tx.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE account_id = ? AND id = ?`+tx.d.lockRows(false), accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, NotFound("task", id)
	}
	return t, err
}

// lockDelegateTask locks a task a delegate names in a lease-fenced call.
// A task the delegate's account does not have is reported as a lost lease,
// the same answer as for a task another delegate took over, so a delegate
// learns nothing about tasks that are not its own.
func lockDelegateTask(ctx context.Context, tx *txn, accountID, id string) (tasks.Task, error) {
	t, err := lockTask(ctx, tx, accountID, id)
	if fault.CodeOf(err) == fault.NotFound {
		return t, tasks.ErrLeaseLost
	}
	return t, err
}

// GetTask returns a task of the account. Errors: NotFound.
func (db *DB) GetTask(ctx context.Context, accountID, id string) (tasks.Task, error) {
	t, err := scanTask(db.queryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE account_id = ? AND id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, NotFound("task", id)
	}
	return t, err
}

// QueueTestConnection queues a TEST_CONNECTION task for a connector.
func (db *DB) QueueTestConnection(ctx context.Context, c integration.Connector, now time.Time) (tasks.Task, error) {
	t := tasks.Task{ID: ids.New("test"), AccountID: c.AccountID, Type: tasks.TestConnection, ConnectorID: c.ID,
		Selectors: c.DelegateSelectors, State: tasks.Queued, CreatedAt: fromMicros(micros(now)), AvailableAt: fromMicros(micros(now))}
	err := db.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `INSERT INTO tasks (id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt,
			lease_token, checkpoint, last_sequence, cancel_requested, outcome, error, result, available_at, created_at)
			VALUES (?, ?, ?, NULL, ?, NULL, ?, ?, 0, '', '', 0, ?, '', '', '', ?, ?)`,
			t.ID, t.AccountID, string(t.Type), t.ConnectorID, joinList(t.Selectors), string(t.State), false, micros(now), micros(now)); err != nil {
			return err
		}
		return tx.wake(ctx, Wake{Kind: WakeQueued, Key: t.AccountID})
	})
	return t, err
}

// taskPayload is what a task holds beyond its type (the payload column).
type taskPayload struct {
	Repositories []string `json:"repositories,omitempty"`
	HookActive   bool     `json:"hook_active,omitempty"`
}

// acquirePage is how many queued tasks one step of AcquireTask examines.
const acquirePage = 100

// AcquireTask leases the oldest queued task of the account whose
// selectors the delegate's tags satisfy. ok is false when there is none.
// Candidates are read without locks; the one picked is then claimed with
// FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas leasing at once pass
// each other and only ever lock the row they take. (SQLite has a single
// writer, so the claim cannot race there.)
func (db *DB) AcquireTask(ctx context.Context, r AcquireRequest) (tasks.Task, bool, error) {
	var leased tasks.Task
	found := false
	err := db.tx(ctx, func(tx *txn) error {
		page := queuePage{afterAt: -1}
		for {
			candidates, err := page.next(ctx, tx, r)
			if err != nil {
				return err
			}
			for _, c := range candidates {
				var id string
				err := tx.queryRow(ctx, `SELECT id FROM tasks WHERE id = ? AND state = 'QUEUED'`+tx.d.lockRows(true), c).Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					continue // taken by a concurrent acquirer
				}
				if err != nil {
					return err
				}
				leased, err = lease(ctx, tx, r, id)
				found = err == nil
				return err
			}
			if page.done {
				return nil
			}
		}
	})
	return leased, found, err
}

// queuePage walks an account's queued tasks oldest first, a page at a time.
type queuePage struct {
	afterAt int64
	afterID string
	done    bool
}

// next returns the ids of the next page's tasks whose selectors the
// delegate satisfies, in queue order.
func (p *queuePage) next(ctx context.Context, tx *txn, r AcquireRequest) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT id, selectors, available_at FROM tasks
		WHERE account_id = ? AND state = 'QUEUED' AND (available_at > ? OR (available_at = ? AND id > ?))
		ORDER BY available_at, id LIMIT ?`, r.AccountID, p.afterAt, p.afterAt, p.afterID, acquirePage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	n := 0
	for rows.Next() {
		var id, sel string
		var at int64
		if err := rows.Scan(&id, &sel, &at); err != nil {
			return nil, err
		}
		n++
		p.afterAt, p.afterID = at, id
		selectors, err := splitList(sel)
		if err != nil {
			return nil, err
		}
		if satisfies(r.Tags, selectors) {
			out = append(out, id)
		}
	}
	p.done = n < acquirePage
	return out, rows.Err()
}

// satisfies reports whether tags include every selector.
func satisfies(tags, selectors []string) bool {
	for _, s := range selectors {
		if !slices.Contains(tags, s) {
			return false
		}
	}
	return true
}

func lease(ctx context.Context, tx *txn, r AcquireRequest, id string) (tasks.Task, error) {
	t, err := lockTask(ctx, tx, r.AccountID, id)
	if err != nil {
		return t, err
	}
	tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Acquire, Now: r.Now, Token: auth.NewToken("lt_"), LeaseFor: r.LeaseFor,
		DelegateID: r.DelegateID})
	if err != nil {
		return t, err
	}
	_, err = saveTransition(ctx, tx, tr, r.Now, taskWrite{Delegate: r.Delegate})
	return tr.Task, err
}

// taskWrite is what a change of a task stores besides the task itself.
type taskWrite struct {
	Progress *tasks.Progress
	Result   *tasks.TestResult
	Actor    string // who ended the task, on the SYNC event
	Delegate string // name of the delegate leasing the task, on the run
}

// saveTransition writes what tasks.Next decided, within the caller's
// transaction. It returns the task's sync run when the task finished.
func saveTransition(ctx context.Context, tx *txn, tr tasks.Transition, now time.Time, w taskWrite) (*tasks.SyncRun, error) {
	t := tr.Task
	var err error
	switch tr.Change {
	case tasks.ChangeNone, tasks.ChangeRepeated:
		return nil, nil
	case tasks.ChangeLeased:
		if _, err = tx.exec(ctx, `UPDATE tasks SET state = ?, attempt = ?, lease_token = ?, lease_expires_at = ?, delegate_id = ?
			WHERE id = ?`, string(t.State), t.Attempt, t.LeaseToken, micros(t.LeaseExpiresAt), t.DelegateID, t.ID); err == nil && t.RunID != "" {
			// A new attempt reports its Bitbucket requests from 0: those of
			// the attempts before it are kept as the base.
			_, err = tx.exec(ctx, `UPDATE sync_runs SET status = ?, started_at = COALESCE(started_at, ?), attempt = ?, delegate = ?,
				requests_before = requests, rate_limited_before = rate_limited, code_owners_requests_before = code_owners_requests WHERE id = ?`, string(tr.Run), micros(now), t.Attempt, w.Delegate, t.RunID)
		}
	case tasks.ChangeRenewed:
		if _, err = tx.exec(ctx, `UPDATE tasks SET lease_expires_at = ?, checkpoint = ? WHERE id = ?`,
			micros(t.LeaseExpiresAt), encodeBytes(t.Checkpoint), t.ID); err == nil {
			err = updateRunProgress(ctx, tx, t.RunID, w.Progress)
		}
	case tasks.ChangeRequeued:
		if _, err = tx.exec(ctx, `UPDATE tasks SET state = ?, lease_token = ?, lease_expires_at = NULL, delegate_id = NULL, checkpoint = ?,
			available_at = ? WHERE id = ?`, string(t.State), t.LeaseToken, encodeBytes(t.Checkpoint), micros(t.AvailableAt), t.ID); err == nil {
			err = updateRunProgress(ctx, tx, t.RunID, w.Progress)
		}
		if err == nil && t.RunID != "" {
			_, err = tx.exec(ctx, `UPDATE sync_runs SET status = ? WHERE id = ?`, string(tr.Run), t.RunID)
		}
	case tasks.ChangeReturned:
		if _, err = tx.exec(ctx, `UPDATE tasks SET state = ?, attempt = ?, lease_token = '', lease_expires_at = NULL, delegate_id = NULL
			WHERE id = ?`, string(t.State), t.Attempt, t.ID); err != nil || t.RunID == "" {
			break
		}
		if t.Attempt > 0 {
			_, err = tx.exec(ctx, `UPDATE sync_runs SET status = ?, attempt = ? WHERE id = ?`, string(tr.Run), t.Attempt, t.RunID)
		} else {
			_, err = tx.exec(ctx, `UPDATE sync_runs SET status = ?, attempt = 0, started_at = NULL, delegate = '' WHERE id = ?`,
				string(tr.Run), t.RunID)
		}
	case tasks.ChangeCancelRequested:
		_, err = tx.exec(ctx, `UPDATE tasks SET cancel_requested = ? WHERE id = ?`, true, t.ID)
	case tasks.ChangeFinished:
		return finishTask(ctx, tx, tr, w)
	default:
		err = fmt.Errorf("store: unknown task change %d", tr.Change)
	}
	if err == nil && (tr.Change == tasks.ChangeRequeued || tr.Change == tasks.ChangeReturned) {
		err = tx.wake(ctx, Wake{Kind: WakeQueued, Key: t.AccountID})
	}
	return nil, err
}

// RenewLease extends a held lease and stores the checkpoint and progress.
// Errors: FailedPrecondition (LEASE_LOST); Invalid for an oversized
// checkpoint.
func (db *DB) RenewLease(ctx context.Context, r RenewRequest) (RenewResult, error) {
	var res RenewResult
	err := db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, r.AccountID, r.TaskID)
		if err != nil {
			return err
		}
		tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Renew, Now: r.Now, Token: r.LeaseToken, LeaseFor: r.LeaseFor, Checkpoint: r.Checkpoint})
		if err != nil {
			return err
		}
		tr.Task.LeaseExpiresAt = fromMicros(micros(tr.Task.LeaseExpiresAt))
		res = RenewResult{ExpiresAt: tr.Task.LeaseExpiresAt, CancelRequested: t.CancelRequested}
		_, err = saveTransition(ctx, tx, tr, r.Now, taskWrite{Progress: r.Progress})
		return err
	})
	return res, err
}

// updateRunProgress stores what the delegate reports. Record counts are
// not taken from it: they are counted as batches are applied. Requests
// and rate-limited responses are the attempt's, added to those of the
// attempts before it.
func updateRunProgress(ctx context.Context, tx *txn, runID string, p *tasks.Progress) error {
	if runID == "" || p == nil {
		return nil
	}
	_, err := tx.exec(ctx, `UPDATE sync_runs SET phase = ?, requests = requests_before + ?, rate_limited = rate_limited_before + ?,
		repositories_done = ?, repositories_total = ?, code_owners_requests = code_owners_requests_before + ?
		WHERE id = ?`, p.Phase, p.Requests, p.RateLimited, p.RepositoriesDone, p.RepositoriesTotal, p.CodeOwnersRequests, runID)
	if err != nil || len(p.Tokens) == 0 {
		return err // a delegate that reports no tokens leaves the last report
	}
	_, err = tx.exec(ctx, `UPDATE sync_runs SET tokens = ? WHERE id = ?`, toJSON(p.Tokens), runID)
	return err
}

// ReturnLease undoes a lease whose task never reached its delegate (the
// AcquireTask caller went away before the answer could be sent): the task
// is queued again where it stood, and the attempt does not count, since
// no delegate ever ran it. Errors: FailedPrecondition (LEASE_LOST) when
// the lease is no longer held.
func (db *DB) ReturnLease(ctx context.Context, accountID, taskID, token string) error {
	return db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, accountID, taskID)
		if err != nil {
			return err
		}
		tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Return, Token: token})
		if err != nil {
			return err
		}
		_, err = saveTransition(ctx, tx, tr, time.Time{}, taskWrite{})
		return err
	})
}

// CompleteTask records a task's outcome as tasks.Next decides it.
// Completing again with the same token changes nothing and succeeds
// (Repeated). Errors: FailedPrecondition (LEASE_LOST); Invalid for an
// unknown outcome or an oversized checkpoint.
func (db *DB) CompleteTask(ctx context.Context, r CompleteRequest) (CompleteResult, error) {
	if err := tasks.ValidOutcome(r.Outcome); err != nil {
		return CompleteResult{}, err
	}
	var res CompleteResult
	err := db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, r.AccountID, r.TaskID)
		if err != nil {
			return err
		}
		tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Complete, Now: r.Now, Token: r.LeaseToken, Outcome: r.Outcome, Error: r.Error,
			Checkpoint: r.Checkpoint})
		if err != nil {
			return err
		}
		if tr.Change == tasks.ChangeFinished {
			tr.Task.Result = r.Result
		}
		run, err := saveTransition(ctx, tx, tr, r.Now, taskWrite{Progress: r.Progress, Result: r.Result, Actor: r.Actor})
		res = CompleteResult{Task: tr.Task, Run: run, Repeated: tr.Change == tasks.ChangeRepeated}
		if err != nil || res.Repeated {
			return err
		}
		return saveHookResult(ctx, tx, t, r.Hook, r.Now)
	})
	return res, err
}

// finishTask ends a task as decided and, for a sync, ends its run, records
// the run's follow-up and logs the SYNC event. It returns the run, or nil
// for other tasks.
func finishTask(ctx context.Context, tx *txn, tr tasks.Transition, w taskWrite) (*tasks.SyncRun, error) {
	t, now := tr.Task, tr.Task.FinishedAt
	res := ""
	if w.Result != nil {
		res = toJSON(w.Result)
	}
	if _, err := tx.exec(ctx, `UPDATE tasks SET state = ?, outcome = ?, error = ?, result = ?, lease_token = ?, lease_expires_at = NULL,
		finished_at = ? WHERE id = ?`, string(t.State), string(t.Outcome), t.Error, res, t.LeaseToken, micros(now), t.ID); err != nil {
		return nil, err
	}
	if err := tx.wake(ctx, Wake{Kind: WakeEnded, Key: t.ID}); err != nil {
		return nil, err
	}
	if t.RunID == "" {
		return nil, nil
	}
	if err := updateRunProgress(ctx, tx, t.RunID, w.Progress); err != nil {
		return nil, err
	}
	if _, err := tx.exec(ctx, `UPDATE sync_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`,
		string(tr.Run), t.Error, micros(now), t.RunID); err != nil {
		return nil, err
	}
	run, err := getRunTx(ctx, tx, t.RunID)
	if err != nil {
		return nil, err
	}
	if err := addFollowUp(ctx, tx, run, now); err != nil {
		return nil, err
	}
	if err := addEvent(ctx, tx, Event{AccountID: t.AccountID, IntegrationID: t.IntegrationID, Time: now, Type: EventSync,
		Actor: w.Actor, RunID: run.ID, Message: syncSummary(run), Error: t.Error}); err != nil {
		return nil, err
	}
	return &run, nil
}

// ExpireLeases applies the Expire event at now to every task it may
// change: leases that ran out before now, and connection tests no delegate
// took within tasks.TestConnectionTTL. At most 500 of each kind are
// handled per call.
func (db *DB) ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) ([]Expiry, error) {
	var out []Expiry
	err := db.tx(ctx, func(tx *txn) error {
		tests, err := queryAll(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE type = 'TEST_CONNECTION' AND state = 'QUEUED'
			AND available_at <= ? LIMIT 500`+tx.d.lockRows(true), []any{micros(now.Add(-tasks.TestConnectionTTL))}, scanTask)
		if err != nil {
			return err
		}
		expired, err := queryAll(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE state = 'LEASED' AND lease_expires_at <= ?
			ORDER BY lease_expires_at LIMIT 500`+tx.d.lockRows(true), []any{micros(now)}, scanTask)
		if err != nil {
			return err
		}
		for _, t := range append(tests, expired...) {
			tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Expire, Now: now, MaxAttempts: maxAttempts})
			if err != nil {
				return err
			}
			if tr.Change == tasks.ChangeNone {
				continue
			}
			run, err := saveTransition(ctx, tx, tr, now, taskWrite{Actor: "control plane"})
			if err != nil {
				return err
			}
			out = append(out, Expiry{Task: t, Requeued: tr.Change == tasks.ChangeRequeued, Run: run})
		}
		return nil
	})
	return out, err
}
