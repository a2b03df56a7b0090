package store

import (
	"context"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
)

const eventColumns = `id, account_id, integration_id, occurred_at, type, message, actor, run_id, repository, error`

func addEvent(ctx context.Context, tx *txn, e Event) error {
	if e.ID == "" {
		e.ID = auth.NewID("evt") // sorts in insertion order among events of one instant
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
	size := p.size(50)
	q := `SELECT ` + eventColumns + ` FROM events WHERE account_id = ? AND integration_id = ?`
	args := []any{accountID, integrationID}
	if p.Token != "" {
		t, id, err := timeKey(p.Token)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (occurred_at < ? OR (occurred_at = ? AND id < ?))`
		args = append(args, t, t, id)
	}
	rows, err := db.query(ctx, q+` ORDER BY occurred_at DESC, id DESC LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var t int64
		var typ string
		if err := rows.Scan(&e.ID, &e.AccountID, &e.IntegrationID, &t, &typ, &e.Message, &e.Actor, &e.RunID, &e.Repository, &e.Error); err != nil {
			return nil, "", err
		}
		e.Time, e.Type = fromMicros(t), EventType(typ)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		next = timeToken(micros(last.Time), last.ID)
	}
	return out, next, nil
}
