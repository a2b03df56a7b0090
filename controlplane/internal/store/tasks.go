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
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// ReasonLeaseLost is the reason of a call whose lease token is not the
// task's current one.
const ReasonLeaseLost = "LEASE_LOST"

// ErrLeaseLost is the fault of a stale lease token; match with errors.Is.
var ErrLeaseLost = fault.New(fault.FailedPrecondition, ReasonLeaseLost,
	"the lease is not held: it expired and was taken over, the task ended, or the token is wrong; stop work on this task")

const taskColumns = `id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt, lease_token,
	lease_expires_at, delegate_id, checkpoint, last_sequence, cancel_requested, outcome, error, result, created_at, finished_at`

func scanTask(row scanner) (tasks.Task, error) {
	var t tasks.Task
	var typ, sel, state, checkpoint, outcome, result string
	var integ, conn, run, delegate sql.NullString
	var expires, finished sql.NullInt64
	var created int64
	err := row.Scan(&t.ID, &t.AccountID, &typ, &integ, &conn, &run, &sel, &state, &t.Attempt, &t.LeaseToken,
		&expires, &delegate, &checkpoint, &t.LastSequence, &t.CancelRequested, &outcome, &t.Error, &result, &created, &finished)
	if err != nil {
		return t, err
	}
	t.Type, t.State, t.Outcome = tasks.Type(typ), tasks.State(state), tasks.Outcome(outcome)
	t.IntegrationID, t.ConnectorID, t.RunID, t.DelegateID = integ.String, conn.String, run.String, delegate.String
	t.LeaseExpiresAt, t.CreatedAt, t.FinishedAt = fromNullMicros(expires), fromMicros(created), fromNullMicros(finished)
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
		return t, ErrLeaseLost
	}
	return t, err
}

// holds reports whether token is the current lease of a leased task. An
// expired lease nobody has taken over yet is still held: the delegate may
// renew it late.
func holds(t tasks.Task, token string) bool {
	return t.State == tasks.Leased && token != "" && t.LeaseToken == token
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
	t := tasks.Task{ID: auth.NewID("test"), AccountID: c.AccountID, Type: tasks.TestConnection, ConnectorID: c.ID,
		Selectors: c.DelegateSelectors, State: tasks.Queued, CreatedAt: fromMicros(micros(now))}
	_, err := db.exec(ctx, `INSERT INTO tasks (id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt,
		lease_token, checkpoint, last_sequence, cancel_requested, outcome, error, result, available_at, created_at)
		VALUES (?, ?, ?, NULL, ?, NULL, ?, ?, 0, '', '', 0, ?, '', '', '', ?, ?)`,
		t.ID, t.AccountID, string(t.Type), t.ConnectorID, joinList(t.Selectors), string(t.State), false, micros(now), micros(now))
	return t, err
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
	token := auth.NewToken("lt_")
	expires := r.Now.Add(r.LeaseFor)
	if _, err := tx.exec(ctx, `UPDATE tasks SET state = 'LEASED', attempt = attempt + 1, lease_token = ?, lease_expires_at = ?,
		delegate_id = ? WHERE id = ?`, token, micros(expires), r.DelegateID, id); err != nil {
		return tasks.Task{}, err
	}
	t, err := lockTask(ctx, tx, r.AccountID, id)
	if err != nil {
		return t, err
	}
	if t.RunID != "" {
		_, err = tx.exec(ctx, `UPDATE sync_runs SET status = 'RUNNING', started_at = COALESCE(started_at, ?), attempt = ?, delegate = ?
			WHERE id = ?`, micros(r.Now), t.Attempt, r.Delegate, t.RunID)
	}
	return t, err
}

// RenewLease extends a held lease and stores the checkpoint and progress.
// Errors: FailedPrecondition (LEASE_LOST).
func (db *DB) RenewLease(ctx context.Context, r RenewRequest) (RenewResult, error) {
	var res RenewResult
	err := db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, r.AccountID, r.TaskID)
		if err != nil {
			return err
		}
		if !holds(t, r.LeaseToken) {
			return ErrLeaseLost
		}
		res = RenewResult{ExpiresAt: fromMicros(micros(r.Now.Add(r.LeaseFor))), CancelRequested: t.CancelRequested}
		q := `UPDATE tasks SET lease_expires_at = ?`
		args := []any{micros(res.ExpiresAt)}
		if len(r.Checkpoint) > 0 {
			q += `, checkpoint = ?`
			args = append(args, encodeBytes(r.Checkpoint))
		}
		if _, err := tx.exec(ctx, q+` WHERE id = ?`, append(args, t.ID)...); err != nil {
			return err
		}
		return updateRunProgress(ctx, tx, t.RunID, r.Progress)
	})
	return res, err
}

// updateRunProgress stores what the delegate reports. Record counts are
// not taken from it: they are counted as batches are applied.
func updateRunProgress(ctx context.Context, tx *txn, runID string, p *tasks.Progress) error {
	if runID == "" || p == nil {
		return nil
	}
	_, err := tx.exec(ctx, `UPDATE sync_runs SET phase = ?, requests = ?, rate_limited = ?, repositories_done = ?, repositories_total = ?
		WHERE id = ?`, p.Phase, p.Requests, p.RateLimited, p.RepositoriesDone, p.RepositoriesTotal, runID)
	return err
}

// ReturnLease undoes a lease whose task never reached its delegate (the
// AcquireTask caller went away before the answer could be sent): the task
// is queued again where it stood, and the attempt does not count, since
// no delegate ever ran it. Errors: FailedPrecondition (LEASE_LOST) when
// the lease is no longer held.
func (db *DB) ReturnLease(ctx context.Context, accountID, taskID, token string) error {
	return db.tx(ctx, func(tx *txn) error {
		t, err := lockTask(ctx, tx, accountID, taskID)
		if fault.CodeOf(err) == fault.NotFound {
			return ErrLeaseLost
		}
		if err != nil {
			return err
		}
		if !holds(t, token) {
			return ErrLeaseLost
		}
		if _, err := tx.exec(ctx, `UPDATE tasks SET state = 'QUEUED', attempt = attempt - 1, lease_token = '', lease_expires_at = NULL,
			delegate_id = NULL WHERE id = ?`, t.ID); err != nil {
			return err
		}
		if t.RunID == "" {
			return nil
		}
		if t.Attempt > 1 {
			_, err = tx.exec(ctx, `UPDATE sync_runs SET status = 'QUEUED', attempt = ? WHERE id = ?`, t.Attempt-1, t.RunID)
			return err
		}
		_, err = tx.exec(ctx, `UPDATE sync_runs SET status = 'QUEUED', attempt = 0, started_at = NULL, delegate = '' WHERE id = ?`, t.RunID)
		return err
	})
}

// CompleteTask records a task's outcome. Completing again with the same
// token changes nothing and succeeds (Repeated). Released hands the task
// back: it is queued again at once with its checkpoint, and the next lease
// is a new attempt; a task whose cancellation was requested ends CANCELLED
// instead. Errors: FailedPrecondition (LEASE_LOST); Invalid for
// an unknown outcome.
func (db *DB) CompleteTask(ctx context.Context, r CompleteRequest) (CompleteResult, error) {
	switch r.Outcome {
	case tasks.Succeeded, tasks.Partial, tasks.Failed, tasks.Cancelled, tasks.Released:
	default:
		return CompleteResult{}, fault.InvalidField("outcome", "required: SUCCEEDED, PARTIAL, FAILED, CANCELLED or RELEASED")
	}
	var res CompleteResult
	err := db.tx(ctx, func(tx *txn) error {
		t, err := lockDelegateTask(ctx, tx, r.AccountID, r.TaskID)
		if err != nil {
			return err
		}
		if !holds(t, r.LeaseToken) {
			// A retry of a completion (or release) that went through.
			if r.LeaseToken != "" && t.LeaseToken == r.LeaseToken && t.State != tasks.Leased {
				res = CompleteResult{Task: t, Repeated: true}
				return nil
			}
			return ErrLeaseLost
		}
		if t.CancelRequested && (r.Outcome == tasks.Released || r.Outcome == tasks.Cancelled) {
			// Queued again, a released task would run although it was asked
			// to stop. Either way the user is told why it stopped, not the
			// delegate's "cancellation requested".
			r.Outcome, r.Error = tasks.Cancelled, cancelledBySuspend
		}
		if r.Outcome == tasks.Released {
			cp := encodeBytes(r.Checkpoint)
			if len(r.Checkpoint) == 0 {
				cp = encodeBytes(t.Checkpoint)
			}
			if _, err := tx.exec(ctx, `UPDATE tasks SET state = 'QUEUED', lease_expires_at = NULL, delegate_id = NULL, checkpoint = ?,
				available_at = ? WHERE id = ?`, cp, micros(r.Now), t.ID); err != nil {
				return err
			}
			if err := updateRunProgress(ctx, tx, t.RunID, r.Progress); err != nil {
				return err
			}
			if t.RunID != "" {
				if _, err := tx.exec(ctx, `UPDATE sync_runs SET status = 'QUEUED' WHERE id = ?`, t.RunID); err != nil {
					return err
				}
			}
			t.State = tasks.Queued
			res.Task = t
			return nil
		}
		run, err := finishTask(ctx, tx, t, r.Outcome, r.Error, r.Progress, r.Result, r.Actor, r.Now)
		if err != nil {
			return err
		}
		t.State, t.Outcome, t.Error, t.Result = tasks.Done, r.Outcome, r.Error, r.Result
		res = CompleteResult{Task: t, Run: run}
		return nil
	})
	return res, err
}

// cancelledBySuspend ends a task whose cancellation the suspend requested.
const cancelledBySuspend = "cancelled: the integration was suspended"

// finishTask ends a task with an outcome and, for a sync, ends its run
// and logs the SYNC event. It returns the run, or nil for other tasks.
func finishTask(ctx context.Context, tx *txn, t tasks.Task, o tasks.Outcome, msg string, p *tasks.Progress,
	result *tasks.TestResult, actor string, now time.Time) (*tasks.SyncRun, error) {
	res := ""
	if result != nil {
		res = toJSON(result)
	}
	if _, err := tx.exec(ctx, `UPDATE tasks SET state = 'DONE', outcome = ?, error = ?, result = ?, lease_expires_at = NULL,
		finished_at = ? WHERE id = ?`, string(o), msg, res, micros(now), t.ID); err != nil {
		return nil, err
	}
	if t.RunID == "" {
		return nil, nil
	}
	if err := updateRunProgress(ctx, tx, t.RunID, p); err != nil {
		return nil, err
	}
	status := tasks.RunStatusOf(o)
	if _, err := tx.exec(ctx, `UPDATE sync_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?`,
		string(status), msg, micros(now), t.RunID); err != nil {
		return nil, err
	}
	run, err := getRunTx(ctx, tx, t.RunID)
	if err != nil {
		return nil, err
	}
	if err := addEvent(ctx, tx, Event{AccountID: t.AccountID, IntegrationID: t.IntegrationID, Time: now, Type: EventSync,
		Actor: actor, RunID: run.ID, Message: syncSummary(run), Error: msg}); err != nil {
		return nil, err
	}
	return &run, nil
}

// TestConnectionTTL is how long a connection test waits for a delegate.
// A user waits for its verdict, so an old test is failed rather than run
// by a delegate that appears much later.
const TestConnectionTTL = 10 * time.Minute

// ExpireLeases handles leases that ran out before now: the task is queued
// again (its checkpoint and sequence kept; the next lease is the next
// attempt), or ended when it has had maxAttempts leases or its
// cancellation was requested. Connection tests no delegate took within
// TestConnectionTTL fail.
func (db *DB) ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) ([]Expiry, error) {
	var out []Expiry
	err := db.tx(ctx, func(tx *txn) error {
		tests, err := queryAll(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE type = 'TEST_CONNECTION' AND state = 'QUEUED'
			AND available_at <= ? LIMIT 500`+tx.d.lockRows(true), []any{micros(now.Add(-TestConnectionTTL))}, scanTask)
		if err != nil {
			return err
		}
		for _, t := range tests {
			msg := fmt.Sprintf("no delegate took the test within %v: check that a delegate of the account is running and has the connector's selectors", TestConnectionTTL)
			if _, err := finishTask(ctx, tx, t, tasks.Failed, msg, nil, nil, "control plane", now); err != nil {
				return err
			}
			out = append(out, Expiry{Task: t})
		}

		expired, err := queryAll(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE state = 'LEASED' AND lease_expires_at <= ?
			ORDER BY lease_expires_at LIMIT 500`+tx.d.lockRows(true), []any{micros(now)}, scanTask)
		if err != nil {
			return err
		}
		for _, t := range expired {
			e := Expiry{Task: t}
			switch {
			case t.CancelRequested:
				e.Run, err = finishTask(ctx, tx, t, tasks.Cancelled, cancelledBySuspend, nil, nil, "control plane", now)
			case t.Attempt >= maxAttempts:
				msg := fmt.Sprintf("the delegate stopped renewing the lease %d times; giving up", t.Attempt)
				e.Run, err = finishTask(ctx, tx, t, tasks.Failed, msg, nil, nil, "control plane", now)
			default:
				e.Requeued = true
				if _, err = tx.exec(ctx, `UPDATE tasks SET state = 'QUEUED', lease_token = '', lease_expires_at = NULL, delegate_id = NULL,
					available_at = ? WHERE id = ?`, micros(now), t.ID); err == nil && t.RunID != "" {
					_, err = tx.exec(ctx, `UPDATE sync_runs SET status = 'QUEUED' WHERE id = ?`, t.RunID)
				}
			}
			if err == nil && !e.Requeued {
				// The lost delegate's token must not pass as a repeated completion.
				_, err = tx.exec(ctx, `UPDATE tasks SET lease_token = '' WHERE id = ?`, t.ID)
			}
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
