package store

import (
	"context"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
)

const eventColumns = `id, account_id, integration_id, occurred_at, type, message, actor, run_id, repository, error`

func addEvent(ctx context.Context, tx *txn, e Event) error {
	if e.ID == "" {
		e.ID = ids.New("evt") // sorts in insertion order among events of one instant
	}
	_, err := tx.exec(ctx, `INSERT INTO events (`+eventColumns+`) VALUES `+placeholders(10),
		e.ID, e.AccountID, e.IntegrationID, micros(e.Time), string(e.Type), e.Message, e.Actor, e.RunID, e.Repository, e.Error)
	return err
}

// AddEvent appends an event to an integration's log.
func (db *DB) AddEvent(ctx context.Context, e Event) error {
	return db.tx(ctx, func(tx *txn) error { return addEvent(ctx, tx, e) })
}

// ListEvents returns an integration's events, newest first.
func (db *DB) ListEvents(ctx context.Context, accountID, integrationID string, p Page) ([]Event, string, error) {
	cond, after, err := olderThan(p, "occurred_at")
	if err != nil {
		return nil, "", err
	}
	return listPage(ctx, db, `SELECT `+eventColumns+` FROM events WHERE account_id = ? AND integration_id = ?`+cond+
		` ORDER BY occurred_at DESC, id DESC LIMIT ?`, append([]any{accountID, integrationID}, after...), p.size(50), scanEvent,
		func(e Event) string { return timeToken(micros(e.Time), e.ID) })
}

func scanEvent(row scanner) (Event, error) {
	var e Event
	var t int64
	var typ string
	err := row.Scan(&e.ID, &e.AccountID, &e.IntegrationID, &t, &typ, &e.Message, &e.Actor, &e.RunID, &e.Repository, &e.Error)
	e.Time, e.Type = fromMicros(t), EventType(typ)
	return e, err
}
