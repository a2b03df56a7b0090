package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// Reasons of integration failures.
const (
	ReasonWorkspaceIntegrated  = "WORKSPACE_ALREADY_INTEGRATED"
	ReasonNameTaken            = "NAME_TAKEN"
	ReasonIntegrationSuspended = "INTEGRATION_SUSPENDED"
)

const integrationColumns = `id, account_id, name, connector_id, workspace, behavior, kind, type, correlation, field_mappings,
	secondary_kinds, frequency, start_date, auto_import, state, next_sync_at, created_at, updated_at, owner_mapping, filter,
	webhook_secret, webhook_state, webhook_message, webhook_checked_at,
	pr_sweep_window, pr_sweep_window_without_webhook, full_listing_interval, watermark_overlap`

func integrationArgs(in integration.Integration) []any {
	return []any{in.ID, in.AccountID, in.Name, in.ConnectorID, in.Workspace, string(in.Behavior), in.Kind, in.Type,
		toJSON(in.Correlation), toJSON(in.Fields), toJSON(in.SecondaryKinds), string(in.Frequency),
		nullMicros(in.StartDate), in.AutoImport, string(in.State), nullMicros(in.NextSyncAt), micros(in.CreatedAt), micros(in.UpdatedAt),
		toJSON(in.OwnerMapping), toJSON(in.Filter),
		in.Webhook.Secret, string(in.Webhook.State), in.Webhook.Message, nullMicros(in.Webhook.CheckedAt),
		seconds(in.Sweep.Window), seconds(in.Sweep.WindowWithoutWebhook), seconds(in.Sweep.FullListingInterval), seconds(in.Sweep.Overlap)}
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func scanIntegration(row scanner) (integration.Integration, error) {
	var in integration.Integration
	var behavior, corr, fields, kinds, freq, state, filter, hookState string
	var start, next, hookChecked sql.NullInt64
	var created, updated int64
	var mapping sql.NullString
	var window, windowAlone, full, overlap int64
	err := row.Scan(&in.ID, &in.AccountID, &in.Name, &in.ConnectorID, &in.Workspace, &behavior, &in.Kind, &in.Type,
		&corr, &fields, &kinds, &freq, &start, &in.AutoImport, &state, &next, &created, &updated, &mapping, &filter,
		&in.Webhook.Secret, &hookState, &in.Webhook.Message, &hookChecked,
		&window, &windowAlone, &full, &overlap)
	if err != nil {
		return in, err
	}
	in.Webhook.State, in.Webhook.CheckedAt = webhook.State(hookState), fromNullMicros(hookChecked)
	in.Sweep.Window, in.Sweep.WindowWithoutWebhook = time.Duration(window)*time.Second, time.Duration(windowAlone)*time.Second
	in.Sweep.FullListingInterval, in.Sweep.Overlap = time.Duration(full)*time.Second, time.Duration(overlap)*time.Second
	in.Behavior, in.Frequency, in.State = integration.Behavior(behavior), integration.Frequency(freq), integration.State(state)
	in.StartDate, in.NextSyncAt = fromNullMicros(start), fromNullMicros(next)
	in.CreatedAt, in.UpdatedAt = fromMicros(created), fromMicros(updated)
	if in.Correlation, err = fromJSON[[]integration.CorrelationRule](corr); err != nil {
		return in, err
	}
	if in.Fields, err = fromJSON[[]integration.FieldMapping](fields); err != nil {
		return in, err
	}
	// Integrations created before owner mappings existed have the defaults.
	in.OwnerMapping = owners.Defaults(in.Workspace)
	if mapping.Valid {
		if in.OwnerMapping, err = fromJSON[[]owners.Rule](mapping.String); err != nil {
			return in, err
		}
	}
	if in.SecondaryKinds, err = fromJSON[[]integration.SecondaryKind](kinds); err != nil {
		return in, err
	}
	in.Filter, err = fromJSON[repofilter.Filter](filter)
	return in, err
}

// CreateIntegration stores a validated integration, records the event and
// queues its first sync, all in one transaction. Errors: AlreadyExists
// (WORKSPACE_ALREADY_INTEGRATED, NAME_TAKEN); NotFound for the connector.
func (db *DB) CreateIntegration(ctx context.Context, in integration.Integration, first SyncRequest) (tasks.SyncRun, error) {
	var run tasks.SyncRun
	err := db.tx(ctx, func(tx *txn) error {
		if err := checkIntegrationUnique(ctx, tx, in, true); err != nil {
			return err
		}
		conn, err := getConnectorTx(ctx, tx, in.AccountID, in.ConnectorID)
		if err != nil {
			return err
		}
		args := integrationArgs(in)
		if _, err := tx.exec(ctx, `INSERT INTO integrations (`+integrationColumns+`) VALUES `+placeholders(len(args)), args...); err != nil {
			if db.dialect.isUniqueViolation(err) {
				return fault.New(fault.AlreadyExists, "", "integration %q conflicts with an existing one", in.Name)
			}
			return err
		}
		if err := addEvent(ctx, tx, Event{AccountID: in.AccountID, IntegrationID: in.ID, Time: first.Now, Type: EventConfigChanged,
			Actor: first.Actor, Message: fmt.Sprintf("integration %q created for workspace %s with connector %q", in.Name, in.Workspace, conn.Name)}); err != nil {
			return err
		}
		first.IntegrationID = in.ID
		run, _, err = queueSync(ctx, tx, first, in, conn)
		return err
	})
	return run, err
}

// checkIntegrationUnique gives the precise reason for a clash before the
// unique indexes would reject the row.
func checkIntegrationUnique(ctx context.Context, tx *txn, in integration.Integration, checkWorkspace bool) error {
	var other string
	err := tx.queryRow(ctx, `SELECT name FROM integrations WHERE account_id = ? AND workspace = ? AND id <> ?`, in.AccountID, in.Workspace, in.ID).Scan(&other)
	if checkWorkspace && err == nil {
		return fault.New(fault.AlreadyExists, ReasonWorkspaceIntegrated,
			"workspace %s already has an integration (%q); each workspace has one integration per account", in.Workspace, other).
			With("workspace", in.Workspace).With("integration", other)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var n int
	if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM integrations WHERE account_id = ? AND name = ? AND id <> ?`, in.AccountID, in.Name, in.ID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fault.New(fault.AlreadyExists, ReasonNameTaken, "an integration named %q already exists", in.Name).With("name", in.Name)
	}
	return nil
}

// GetIntegration returns an integration by id or name. Errors: NotFound.
func (db *DB) GetIntegration(ctx context.Context, accountID, ref string) (integration.Integration, error) {
	in, err := scanIntegration(db.queryRow(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE account_id = ? AND (id = ? OR name = ?) ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`, accountID, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return in, NotFound("integration", ref)
	}
	return in, err
}

// lockIntegration reads an integration for update inside a transaction.
func lockIntegration(ctx context.Context, tx *txn, accountID, ref string) (integration.Integration, error) {
	in, err := scanIntegration(tx.queryRow(ctx, `SELECT `+integrationColumns+` FROM integrations
		WHERE account_id = ? AND (id = ? OR name = ?) ORDER BY CASE WHEN id = ? THEN 0 ELSE 1 END LIMIT 1`+tx.d.lockRows(false),
		accountID, ref, ref, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return in, NotFound("integration", ref)
	}
	return in, err
}

// IntegrationWithRun is an integration and its last sync run, if any.
type IntegrationWithRun struct {
	integration.Integration
	LastRun *tasks.SyncRun
}

// integrationColumnsOfI are integrationColumns of the integration joined as i.
var integrationColumnsOfI = "i." + strings.ReplaceAll(strings.Join(strings.Fields(integrationColumns), " "), ", ", ", i.")

// lastRunColumns are runColumns of the last run joined as r, which the
// LEFT JOIN leaves NULL for an integration that never ran.
const lastRunColumns = `r.id, COALESCE(r.account_id, ''), COALESCE(r.integration_id, ''), COALESCE(r.task_id, ''),
	COALESCE(r.triggered_by, ''), COALESCE(r.status, ''), COALESCE(r.queued_at, 0), r.started_at, r.finished_at, COALESCE(r.attempt, 0),
	COALESCE(r.delegate, ''), COALESCE(r.error, ''), COALESCE(r.phase, ''), COALESCE(r.repositories, 0), COALESCE(r.pull_requests, 0),
	COALESCE(r.commits, 0), COALESCE(r.requests, 0), COALESCE(r.rate_limited, 0), COALESCE(r.repositories_done, 0),
	COALESCE(r.repositories_total, 0), COALESCE(r.code_owners_requests, 0), COALESCE(r.tokens, '[]'),
	COALESCE(r.targeted, FALSE), COALESCE(r.targeted_repositories, '')`

// ListIntegrations returns a page of integrations by name, each with its
// last sync run, in one query.
func (db *DB) ListIntegrations(ctx context.Context, accountID string, p Page) ([]IntegrationWithRun, string, error) {
	after, err := afterKey(p)
	if err != nil {
		return nil, "", err
	}
	return listPage(ctx, db, `SELECT `+integrationColumnsOfI+`, `+lastRunColumns+` FROM integrations i
		LEFT JOIN sync_runs r ON r.id = (SELECT id FROM sync_runs WHERE account_id = i.account_id AND integration_id = i.id
			ORDER BY queued_at DESC, id DESC LIMIT 1)
		WHERE i.account_id = ? AND i.name > ? ORDER BY i.name LIMIT ?`,
		[]any{accountID, after}, p.size(50), scanIntegrationWithRun, func(in IntegrationWithRun) string { return encodeToken(in.Name) })
}

func scanIntegrationWithRun(row scanner) (IntegrationWithRun, error) {
	var out IntegrationWithRun
	var run tasks.SyncRun
	var runID sql.NullString
	dest, finish := runFields(&run)
	dest[0] = &runID
	in, err := scanIntegration(scanAppend{row, dest})
	if err != nil {
		return out, err
	}
	out.Integration = in
	if runID.Valid {
		finish()
		run.ID = runID.String
		out.LastRun = &run
	}
	return out, nil
}

// UpdateIntegration applies a change atomically and records a
// CONFIG_CHANGED event naming the changed fields.
func (db *DB) UpdateIntegration(ctx context.Context, accountID, ref string, ch IntegrationChange) (integration.Integration, error) {
	var out integration.Integration
	err := db.tx(ctx, func(tx *txn) error {
		in, err := lockIntegration(ctx, tx, accountID, ref)
		if err != nil {
			return err
		}
		startBefore := in.StartDate
		changed, err := ch.Apply(&in)
		if err != nil {
			return err
		}
		out = in
		if len(changed) == 0 {
			return nil
		}
		message := "configuration changed: " + strings.Join(changed, ", ")
		if integration.StartDateMovedBack(startBefore, in.StartDate) {
			if _, err := tx.exec(ctx, `UPDATE repository_cursors SET commits_backfilled = ?, pull_requests_backfilled = ? WHERE integration_id = ?`,
				false, false, in.ID); err != nil {
				return err
			}
			message += "; the next syncs fetch the older history"
		}
		if err := checkIntegrationUnique(ctx, tx, in, false); err != nil {
			return err
		}
		if _, err := getConnectorTx(ctx, tx, accountID, in.ConnectorID); err != nil {
			return err
		}
		args := integrationArgs(in)
		_, err = tx.exec(ctx, `UPDATE integrations SET name = ?, connector_id = ?, behavior = ?, kind = ?, type = ?, correlation = ?,
			field_mappings = ?, frequency = ?, start_date = ?, auto_import = ?, next_sync_at = ?, updated_at = ?, owner_mapping = ?, filter = ?,
			pr_sweep_window = ?, pr_sweep_window_without_webhook = ?, full_listing_interval = ?, watermark_overlap = ? WHERE id = ?`,
			args[2], args[3], args[5], args[6], args[7], args[8], args[9], args[11], args[12], args[13], args[15], args[17], args[18], args[19],
			args[24], args[25], args[26], args[27], in.ID)
		if err != nil {
			return err
		}
		if slices.Contains(changed, integration.FieldFilter) {
			if err := applyFilter(ctx, tx, in.ID, in.Filter); err != nil {
				return err
			}
		}
		return addEvent(ctx, tx, Event{AccountID: accountID, IntegrationID: in.ID, Time: ch.Now, Type: EventConfigChanged,
			Actor: ch.Actor, Message: message})
	})
	return out, err
}

// SuspendIntegration stops an integration: nothing is scheduled, a queued
// sync is cancelled at once and a running one is asked to stop (the
// delegate sees cancel_requested on its next renewal).
func (db *DB) SuspendIntegration(ctx context.Context, accountID, ref, actor string, now time.Time) (StateChange, error) {
	var sc StateChange
	err := db.tx(ctx, func(tx *txn) error {
		in, err := lockIntegration(ctx, tx, accountID, ref)
		if err != nil {
			return err
		}
		sc.Integration = in
		if in.State == integration.Suspended {
			return nil
		}
		in.State, in.NextSyncAt, in.UpdatedAt = integration.Suspended, time.Time{}, now
		if _, err := tx.exec(ctx, `UPDATE integrations SET state = ?, next_sync_at = NULL, updated_at = ? WHERE id = ?`,
			string(in.State), micros(now), in.ID); err != nil {
			return err
		}
		sc.Integration, sc.Changed = in, true
		if err := addEvent(ctx, tx, Event{AccountID: accountID, IntegrationID: in.ID, Time: now, Type: EventSuspended,
			Actor: actor, Message: "integration suspended: no discovery or sync until resumed"}); err != nil {
			return err
		}
		// The hook's token is the delegate's: a task deactivates it.
		if in.Webhook.State == webhook.Active {
			if err := queueHookTask(ctx, tx, in, false, now); err != nil {
				return err
			}
		}
		// The full sync and every targeted refresh stop.
		runs, err := queryAll(ctx, tx, `SELECT `+runColumns+` FROM sync_runs WHERE integration_id = ? AND status IN ('QUEUED', 'RUNNING')
			ORDER BY queued_at, id`, []any{in.ID}, scanRun)
		if err != nil {
			return err
		}
		for _, run := range runs {
			t, err := lockTask(ctx, tx, accountID, run.TaskID)
			if err != nil {
				return err
			}
			tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Suspend, Now: now})
			if err != nil {
				return err
			}
			ended, err := saveTransition(ctx, tx, tr, now, taskWrite{Actor: actor})
			if err != nil {
				return err
			}
			if ended != nil {
				sc.Ended = append(sc.Ended, *ended)
			}
		}
		return nil
	})
	return sc, err
}

// ResumeIntegration re-enables an integration, restarts its schedule and
// queues a sync at once, or lets a sync still running since the suspend
// continue.
func (db *DB) ResumeIntegration(ctx context.Context, accountID, ref, actor string, now time.Time) (StateChange, error) {
	var sc StateChange
	err := db.tx(ctx, func(tx *txn) error {
		in, err := lockIntegration(ctx, tx, accountID, ref)
		if err != nil {
			return err
		}
		sc.Integration = in
		if in.State == integration.Enabled {
			return nil
		}
		in.State, in.NextSyncAt, in.UpdatedAt = integration.Enabled, now.Add(in.Frequency.Duration()), now
		if _, err := tx.exec(ctx, `UPDATE integrations SET state = ?, next_sync_at = ?, updated_at = ? WHERE id = ?`,
			string(in.State), micros(in.NextSyncAt), micros(now), in.ID); err != nil {
			return err
		}
		sc.Integration, sc.Changed = in, true
		if err := addEvent(ctx, tx, Event{AccountID: accountID, IntegrationID: in.ID, Time: now, Type: EventResumed,
			Actor: actor, Message: "integration resumed: schedule restarted and a sync queued"}); err != nil {
			return err
		}
		conn, err := getConnectorTx(ctx, tx, accountID, in.ConnectorID)
		if err != nil {
			return err
		}
		// A sync the suspend asked to stop may still hold its lease. The
		// resume withdraws the request, so the run continues; joining it
		// while the request stood would end it CANCELLED with nothing
		// queued until the next scheduled sync.
		if active, ok, err := activeRun(ctx, tx, in.ID); err != nil {
			return err
		} else if ok {
			if _, err := tx.exec(ctx, `UPDATE tasks SET cancel_requested = ? WHERE id = ? AND state = ?`,
				false, active.TaskID, string(tasks.Leased)); err != nil {
				return err
			}
		}
		run, _, err := queueSync(ctx, tx, SyncRequest{AccountID: accountID, IntegrationID: in.ID, Trigger: tasks.Resumed, Actor: actor, Now: now}, in, conn)
		sc.Queued = &run
		return err
	})
	return sc, err
}
