package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/auth"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// CreateAccount creates an account with the given flags switched on.
// Errors: AlreadyExists when the id is taken.
func (db *DB) CreateAccount(ctx context.Context, a auth.Account, flags []auth.Flag) error {
	return db.tx(ctx, func(tx *txn) error {
		_, err := tx.exec(ctx, `INSERT INTO accounts (id, created_at) VALUES (?, ?)`, a.ID, micros(a.CreatedAt))
		if db.dialect.isUniqueViolation(err) {
			return fault.New(fault.AlreadyExists, "ACCOUNT_EXISTS", "account %q already exists", a.ID).With("account", a.ID)
		}
		if err != nil {
			return err
		}
		for _, f := range flags {
			if err := setFlag(ctx, tx, a.ID, f, true, a.CreatedAt); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetAccount returns an account. Errors: NotFound.
func (db *DB) GetAccount(ctx context.Context, id string) (auth.Account, error) {
	var created int64
	err := db.queryRow(ctx, `SELECT created_at FROM accounts WHERE id = ?`, id).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.Account{}, NotFound("account", id)
	}
	if err != nil {
		return auth.Account{}, err
	}
	return auth.Account{ID: id, CreatedAt: fromMicros(created)}, nil
}

// SetFeatureFlag switches a flag of an account. Errors: NotFound for the account.
func (db *DB) SetFeatureFlag(ctx context.Context, accountID string, f auth.Flag, enabled bool, now time.Time) error {
	if _, err := db.GetAccount(ctx, accountID); err != nil {
		return err
	}
	return db.tx(ctx, func(tx *txn) error { return setFlag(ctx, tx, accountID, f, enabled, now) })
}

func setFlag(ctx context.Context, tx *txn, accountID string, f auth.Flag, enabled bool, now time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO feature_flags (account_id, flag, enabled, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, flag) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`,
		accountID, string(f), enabled, micros(now))
	return err
}

// FeatureFlag reports whether a flag is on; a flag never set is off.
func (db *DB) FeatureFlag(ctx context.Context, accountID string, f auth.Flag) (bool, error) {
	var on bool
	err := db.queryRow(ctx, `SELECT enabled FROM feature_flags WHERE account_id = ? AND flag = ?`, accountID, string(f)).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return on, err
}

// CreateAPIKey stores a key (its hash). Errors: NotFound for the account.
func (db *DB) CreateAPIKey(ctx context.Context, k auth.APIKey) error {
	if _, err := db.GetAccount(ctx, k.AccountID); err != nil {
		return err
	}
	perms := make([]string, len(k.Permissions))
	for i, p := range k.Permissions {
		perms[i] = string(p)
	}
	slices.Sort(perms)
	_, err := db.exec(ctx, `INSERT INTO api_keys (id, account_id, name, hash, permissions, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, k.Hash, joinList(slices.Compact(perms)), micros(k.CreatedAt))
	return err
}

// APIKeyByHash finds a key by the hash of its value. Errors: NotFound.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (auth.APIKey, error) {
	var k auth.APIKey
	var perms string
	var created int64
	err := db.queryRow(ctx, `SELECT id, account_id, name, hash, permissions, created_at FROM api_keys WHERE hash = ?`, hash).
		Scan(&k.ID, &k.AccountID, &k.Name, &k.Hash, &perms, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.APIKey{}, NotFound("api key", "")
	}
	if err != nil {
		return auth.APIKey{}, err
	}
	list, err := splitList(perms)
	if err != nil {
		return auth.APIKey{}, err
	}
	for _, p := range list {
		k.Permissions = append(k.Permissions, auth.Permission(p))
	}
	k.CreatedAt = fromMicros(created)
	return k, nil
}

// CreateDelegateToken stores a delegate token (its hash). Errors: NotFound
// for the account.
func (db *DB) CreateDelegateToken(ctx context.Context, t auth.DelegateToken) error {
	if _, err := db.GetAccount(ctx, t.AccountID); err != nil {
		return err
	}
	_, err := db.exec(ctx, `INSERT INTO delegate_tokens (id, account_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, t.AccountID, t.Name, t.Hash, micros(t.CreatedAt))
	return err
}

// DelegateTokenByHash finds a delegate token by its hash. Errors: NotFound.
func (db *DB) DelegateTokenByHash(ctx context.Context, hash string) (auth.DelegateToken, error) {
	var t auth.DelegateToken
	var created int64
	err := db.queryRow(ctx, `SELECT id, account_id, name, hash, created_at FROM delegate_tokens WHERE hash = ?`, hash).
		Scan(&t.ID, &t.AccountID, &t.Name, &t.Hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return auth.DelegateToken{}, NotFound("delegate token", "")
	}
	t.CreatedAt = fromMicros(created)
	return t, err
}

// RegisterDelegate creates a delegate or, when one of the account already
// has the name, updates it and keeps its id. A delegate is one process
// per account and name: registering again means the process restarted, so
// in the same transaction every task still leased to it is reclaimed
// (tasks.Reclaim, with maxAttempts): queued again at once with its
// checkpoint and without its old lease token, or ended when its attempts
// are spent. Reclaimed lists those tasks as they were before, with the
// runs that ended.
func (db *DB) RegisterDelegate(ctx context.Context, d Delegate, maxAttempts int) (Delegate, []Expiry, error) {
	var reclaimed []Expiry
	err := db.tx(ctx, func(tx *txn) error {
		reclaimed = nil
		_, err := tx.exec(ctx, `INSERT INTO delegates (id, account_id, name, tags, version, hostname, concurrency, registered_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (account_id, name) DO UPDATE SET tags = excluded.tags, version = excluded.version,
				hostname = excluded.hostname, concurrency = excluded.concurrency, last_seen_at = excluded.last_seen_at`,
			d.ID, d.AccountID, d.Name, joinList(d.Tags), d.Version, d.Hostname, d.Concurrency, micros(d.RegisteredAt), micros(d.LastSeenAt))
		if err != nil {
			return err
		}
		var reg int64
		if err := tx.queryRow(ctx, `SELECT id, registered_at FROM delegates WHERE account_id = ? AND name = ?`, d.AccountID, d.Name).Scan(&d.ID, &reg); err != nil {
			return err
		}
		d.RegisteredAt = fromMicros(reg)
		held, err := queryAll(ctx, tx, `SELECT `+taskColumns+` FROM tasks WHERE account_id = ? AND delegate_id = ? AND state = 'LEASED'
			ORDER BY available_at, id`+tx.d.lockRows(false), []any{d.AccountID, d.ID}, scanTask)
		if err != nil {
			return err
		}
		now := d.LastSeenAt
		for _, t := range held {
			tr, err := tasks.Next(t, tasks.Event{Kind: tasks.Reclaim, Now: now, DelegateID: d.ID, MaxAttempts: maxAttempts})
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
			reclaimed = append(reclaimed, Expiry{Task: t, Requeued: tr.Change == tasks.ChangeRequeued, Run: run})
		}
		return nil
	})
	return d, reclaimed, err
}

// GetDelegate returns a delegate of the account. Errors: NotFound.
func (db *DB) GetDelegate(ctx context.Context, accountID, id string) (Delegate, error) {
	var d Delegate
	var tags string
	var reg, seen int64
	err := db.queryRow(ctx, `SELECT id, account_id, name, tags, version, hostname, concurrency, registered_at, last_seen_at
		FROM delegates WHERE account_id = ? AND id = ?`, accountID, id).
		Scan(&d.ID, &d.AccountID, &d.Name, &tags, &d.Version, &d.Hostname, &d.Concurrency, &reg, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return Delegate{}, NotFound("delegate", id)
	}
	if err != nil {
		return Delegate{}, err
	}
	d.RegisteredAt, d.LastSeenAt = fromMicros(reg), fromMicros(seen)
	d.Tags, err = splitList(tags)
	return d, err
}
