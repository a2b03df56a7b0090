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
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// EventWebhook marks what webhook deliveries changed in the log.
const EventWebhook EventType = "WEBHOOK"

// TargetedRequest asks for a targeted refresh of some repositories.
type TargetedRequest struct {
	AccountID     string
	IntegrationID string
	Slugs         []string
	Trigger       tasks.Trigger
	Now           time.Time
}

// QueueRefresh queues a targeted refresh of r.Slugs: a SYNC task limited
// to them, with its run. The slugs join the integration's targeted refresh
// no delegate has taken yet, if there is one (coalesced), so many events
// about one repository cost one task. Errors: NotFound;
// FailedPrecondition (INTEGRATION_SUSPENDED).
func (db *DB) QueueRefresh(ctx context.Context, r TargetedRequest) (run tasks.SyncRun, coalesced bool, err error) {
	err = db.tx(ctx, func(tx *txn) error {
		in, err := lockIntegration(ctx, tx, r.AccountID, r.IntegrationID)
		if err != nil {
			return err
		}
		if in.State != integration.Enabled {
			return fault.New(fault.FailedPrecondition, ReasonIntegrationSuspended,
				"integration %q is suspended; resume it to sync", in.Name).With("integration", in.Name)
		}
		waiting, err := queryAll(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE integration_id = ? AND type = 'SYNC'
			AND state = 'QUEUED' AND attempt = 0 AND payload <> '' ORDER BY created_at`+tx.d.lockRows(false), []any{in.ID}, scanTask)
		if err != nil {
			return err
		}
		for _, t := range waiting {
			merged, ok := tasks.Coalesce(t.Repositories, r.Slugs)
			if !ok {
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE tasks SET payload = ? WHERE id = ?`, toJSON(taskPayload{Repositories: merged}), t.ID); err != nil {
				return err
			}
			if _, err := tx.exec(ctx, `UPDATE sync_runs SET targeted_repositories = ? WHERE id = ?`, joinList(merged), t.RunID); err != nil {
				return err
			}
			run, err = getRunTx(ctx, tx, t.RunID)
			coalesced = true
			return err
		}
		conn, err := getConnectorTx(ctx, tx, in.AccountID, in.ConnectorID)
		if err != nil {
			return err
		}
		slugs, _ := tasks.Coalesce(nil, r.Slugs)
		taskID, runID, now := ids.New("task"), ids.New("run"), micros(r.Now)
		if _, err := tx.exec(ctx, `INSERT INTO tasks (id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt,
			lease_token, checkpoint, last_sequence, cancel_requested, outcome, error, result, available_at, created_at, payload)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', 0, ?, '', '', '', ?, ?, ?)`,
			taskID, in.AccountID, string(tasks.Sync), in.ID, conn.ID, runID, joinList(conn.DelegateSelectors), string(tasks.Queued), false,
			now, now, toJSON(taskPayload{Repositories: slugs})); err != nil {
			return err
		}
		run = tasks.SyncRun{ID: runID, AccountID: in.AccountID, IntegrationID: in.ID, TaskID: taskID, Trigger: r.Trigger,
			Status: tasks.RunQueued, QueuedAt: fromMicros(now), Targeted: slugs}
		if err := insertRun(ctx, tx, run); err != nil {
			return err
		}
		return tx.wake(ctx, Wake{Kind: WakeQueued, Key: in.AccountID})
	})
	return run, coalesced, err
}

// queueHookTask queues a WEBHOOK task that brings the integration's hook
// to active (or deactivates it), within the caller's transaction.
func queueHookTask(ctx context.Context, tx *txn, in integration.Integration, active bool, now time.Time) error {
	conn, err := getConnectorTx(ctx, tx, in.AccountID, in.ConnectorID)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `INSERT INTO tasks (id, account_id, type, integration_id, connector_id, run_id, selectors, state, attempt,
		lease_token, checkpoint, last_sequence, cancel_requested, outcome, error, result, available_at, created_at, payload)
		VALUES (?, ?, ?, ?, ?, NULL, ?, ?, 0, '', '', 0, ?, '', '', '', ?, ?, ?)`,
		ids.New("hook"), in.AccountID, string(tasks.Hook), in.ID, conn.ID, joinList(conn.DelegateSelectors), string(tasks.Queued), false,
		micros(now), micros(now), toJSON(taskPayload{HookActive: active})); err != nil {
		return err
	}
	return tx.wake(ctx, Wake{Kind: WakeQueued, Key: in.AccountID})
}

// EnsureWebhookSecret returns the integration's webhook secret, storing
// fresh (the caller's newly generated one) if it has none yet.
func (db *DB) EnsureWebhookSecret(ctx context.Context, integrationID, fresh string) (string, error) {
	var secret string
	err := db.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `UPDATE integrations SET webhook_secret = ? WHERE id = ? AND webhook_secret = ''`, fresh, integrationID); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT webhook_secret FROM integrations WHERE id = ?`, integrationID).Scan(&secret)
	})
	return secret, err
}

// saveHookResult stores a delegate's report on the integration's hook,
// within the caller's transaction, and logs a change of state.
func saveHookResult(ctx context.Context, tx *txn, t tasks.Task, res *tasks.HookResult, now time.Time) error {
	if res == nil || t.IntegrationID == "" {
		return nil
	}
	var before string
	if err := tx.queryRow(ctx, `SELECT webhook_state FROM integrations WHERE id = ?`, t.IntegrationID).Scan(&before); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `UPDATE integrations SET webhook_state = ?, webhook_message = ?, webhook_checked_at = ? WHERE id = ?`,
		res.State, res.Message, micros(now), t.IntegrationID); err != nil {
		return err
	}
	if before == res.State {
		return nil
	}
	msg := "workspace webhook " + res.State
	if res.Message != "" {
		msg += ": " + res.Message
	}
	if hint := webhook.Hint(webhook.State(res.State)); hint != "" {
		msg += " (" + hint + ")"
	}
	return addEvent(ctx, tx, Event{AccountID: t.AccountID, IntegrationID: t.IntegrationID, Time: now, Type: EventWebhook,
		Actor: "delegate", RunID: t.RunID, Message: msg})
}

// WebhookReceiver is what the receiver needs to know of an integration.
type WebhookReceiver struct {
	AccountID string
	Secret    string
	Enabled   bool
}

// WebhookReceiverOf returns the receiving side of an integration by id;
// ok is false when there is none.
func (db *DB) WebhookReceiverOf(ctx context.Context, integrationID string) (WebhookReceiver, bool, error) {
	var r WebhookReceiver
	var state string
	err := db.queryRow(ctx, `SELECT account_id, webhook_secret, state FROM integrations WHERE id = ?`, integrationID).Scan(&r.AccountID, &r.Secret, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	r.Enabled = state == string(integration.Enabled)
	return r, err == nil, err
}

// Delivery is one stored webhook delivery.
type Delivery struct {
	IntegrationID string
	AccountID     string
	RequestUUID   string
	Event         string
	Attempt       int
	Body          []byte
	ReceivedAt    time.Time
	Tries         int // how often applying it was tried
}

// Delivery states.
const (
	deliveryQueued = "QUEUED"
	deliveryDone   = "DONE"
	deliveryFailed = "FAILED"
)

// AddDelivery stores a verified delivery to be applied. duplicate is true
// when one with its X-Request-UUID is stored already (a retry or a
// replay): nothing is stored then.
func (db *DB) AddDelivery(ctx context.Context, d Delivery) (duplicate bool, err error) {
	_, err = db.exec(ctx, `INSERT INTO webhook_deliveries (integration_id, request_uuid, account_id, event, attempt, body, received_at,
		state, claimed_until, tries, applied_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, NULL, '')`,
		d.IntegrationID, d.RequestUUID, d.AccountID, d.Event, d.Attempt, string(d.Body), micros(d.ReceivedAt), deliveryQueued)
	if err != nil && db.dialect.isUniqueViolation(err) {
		return true, nil
	}
	return false, err
}

// ClaimDeliveries takes up to limit queued deliveries, oldest first, for
// leaseFor: another replica (or this one after a crash) takes them again
// only once the claim has run out.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, leaseFor time.Duration, limit int) ([]Delivery, error) {
	var out []Delivery
	err := db.tx(ctx, func(tx *txn) error {
		var err error
		out, err = queryAll(ctx, tx, `SELECT integration_id, request_uuid, account_id, event, attempt, body, received_at, tries
			FROM webhook_deliveries WHERE state = 'QUEUED' AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY received_at LIMIT ?`+tx.d.lockRows(true), []any{micros(now), limit}, func(row scanner) (Delivery, error) {
			var d Delivery
			var body string
			var received int64
			err := row.Scan(&d.IntegrationID, &d.RequestUUID, &d.AccountID, &d.Event, &d.Attempt, &body, &received, &d.Tries)
			d.Body, d.ReceivedAt = []byte(body), fromMicros(received)
			return d, err
		})
		if err != nil {
			return err
		}
		for _, d := range out {
			if _, err := tx.exec(ctx, `UPDATE webhook_deliveries SET claimed_until = ?, tries = tries + 1 WHERE integration_id = ? AND request_uuid = ?`,
				micros(now.Add(leaseFor)), d.IntegrationID, d.RequestUUID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// FinishDelivery records what applying a delivery did; failed marks it
// given up.
func (db *DB) FinishDelivery(ctx context.Context, d Delivery, outcome string, failed bool, now time.Time) error {
	state := deliveryDone
	if failed {
		state = deliveryFailed
	}
	_, err := db.exec(ctx, `UPDATE webhook_deliveries SET state = ?, outcome = ?, applied_at = ?, claimed_until = NULL
		WHERE integration_id = ? AND request_uuid = ?`, state, outcome, micros(now), d.IntegrationID, d.RequestUUID)
	return err
}

// DeliveryStats counts an integration's accepted deliveries.
type DeliveryStats struct {
	Count int64
	Last  time.Time
}

// WebhookDeliveryStats counts the deliveries accepted per integration of
// the account.
func (db *DB) WebhookDeliveryStats(ctx context.Context, accountID string) (map[string]DeliveryStats, error) {
	out := map[string]DeliveryStats{}
	rows, err := db.query(ctx, `SELECT integration_id, COUNT(*), MAX(received_at) FROM webhook_deliveries WHERE account_id = ?
		GROUP BY integration_id`, accountID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n, last int64
		if err := rows.Scan(&id, &n, &last); err != nil {
			return nil, err
		}
		out[id] = DeliveryStats{Count: n, Last: fromMicros(last)}
	}
	return out, rows.Err()
}

// HookApply is what one delivery changes, decided by webhook.Decide.
type HookApply struct {
	AccountID     string
	IntegrationID string
	RequestUUID   string
	PullRequest   *record.PullRequest
	Commits       []record.Commit
	Now           time.Time
}

// HookApplied says what ApplyHook changed.
type HookApplied struct {
	// Unknown is true when the repository is not stored (or deleted):
	// nothing was written, and a targeted refresh is due.
	Unknown bool
	// Stale is true when the stored pull request is as new or newer.
	Stale        bool
	PullRequests int64
	Commits      int64
}

// ApplyHook writes a delivery's pull request and commits through the
// same upserts as a sync batch. A pull request replaces the stored one
// only if webhook.Supersedes says so, decided under the row's lock;
// commits are keyed by hash, so applying again changes nothing.
func (db *DB) ApplyHook(ctx context.Context, h HookApply) (HookApplied, error) {
	var res HookApplied
	repo := ""
	if h.PullRequest != nil {
		repo = h.PullRequest.RepositoryUUID
	} else if len(h.Commits) > 0 {
		repo = h.Commits[0].RepositoryUUID
	}
	if repo == "" {
		return res, nil
	}
	err := db.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM repositories WHERE integration_id = ? AND uuid = ? AND deleted_at IS NULL`,
			h.IntegrationID, repo).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			res.Unknown = true
			return nil
		}
		// The delivery stands in for a task: rows it writes carry no task.
		a := applier{tx: tx, d: db.dialect, task: tasks.Task{AccountID: h.AccountID, IntegrationID: h.IntegrationID, ID: "hook:" + h.RequestUUID},
			now: micros(h.Now), known: map[string]bool{repo: true}}
		if p := h.PullRequest; p != nil {
			kept, err := a.supersedingPullRequests(ctx, []*record.PullRequest{p}, false)
			if err != nil {
				return err
			}
			res.Stale = len(kept) == 0
			if !res.Stale {
				if err := a.writePullRequests(ctx, kept); err != nil {
					return err
				}
			}
		}
		commits := make([]*record.Commit, len(h.Commits))
		for i := range h.Commits {
			commits[i] = &h.Commits[i]
		}
		if err := a.upsertCommits(ctx, commits); err != nil {
			return err
		}
		res.PullRequests, res.Commits = a.prs, a.commits
		return nil
	})
	if code, ok := db.dialect.dataException(err); ok {
		return res, fault.New(fault.Invalid, "", "the %s database refused a value of the delivery (%v)", db.dialect.name(), err).With("sqlState", code)
	}
	return res, err
}

// MarkRepositoryDeleted marks a repository of the integration deleted, as
// a complete listing without it would, and logs it. deleted is false when
// it was unknown or deleted already.
func (db *DB) MarkRepositoryDeleted(ctx context.Context, accountID, integrationID, uuid string, now time.Time) (deleted bool, err error) {
	err = db.tx(ctx, func(tx *txn) error {
		var name string
		err := tx.queryRow(ctx, `SELECT full_name FROM repositories WHERE integration_id = ? AND uuid = ? AND deleted_at IS NULL`+tx.d.lockRows(false),
			integrationID, uuid).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `UPDATE repositories SET deleted_at = ? WHERE integration_id = ? AND uuid = ?`, micros(now), integrationID, uuid); err != nil {
			return err
		}
		deleted = true
		return addEvent(ctx, tx, Event{AccountID: accountID, IntegrationID: integrationID, Time: now, Type: EventRepositoryDeleted,
			Actor: "webhook", Repository: name, Message: fmt.Sprintf("repository %s was deleted in Bitbucket (repo:deleted); marked deleted", name)})
	})
	return deleted, err
}

// PruneDeliveries deletes deliveries applied or given up before before,
// at most limit of them, and returns how many it deleted. Their
// X-Request-UUIDs are then forgotten: a replay older than that is applied
// again, to no effect (newer-wins, commits by hash, refreshes coalesce).
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM webhook_deliveries WHERE (integration_id, request_uuid) IN (
		SELECT integration_id, request_uuid FROM webhook_deliveries WHERE state <> 'QUEUED' AND applied_at < ? LIMIT ?)`,
		micros(before), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
