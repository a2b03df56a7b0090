package store

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// WakeKind says what a wake-up is about.
type WakeKind string

// Wake-up kinds.
const (
	// WakeQueued: a task of the account (Wake.Key) became available to
	// delegates: queued, requeued after a release or an expired lease, or
	// handed back.
	WakeQueued WakeKind = "queued"
	// WakeEnded: the task (Wake.Key) ended.
	WakeEnded WakeKind = "ended"
)

// Wake tells the waiting pollers of every replica that something they
// wait for was committed.
type Wake struct {
	Kind WakeKind
	Key  string
}

func (w Wake) payload() string { return string(w.Kind) + ":" + w.Key }

func parseWake(payload string) (Wake, bool) {
	kind, key, ok := strings.Cut(payload, ":")
	if !ok || key == "" || (WakeKind(kind) != WakeQueued && WakeKind(kind) != WakeEnded) {
		return Wake{}, false
	}
	return Wake{Kind: WakeKind(kind), Key: key}, true
}

// wake sends w to the listeners of the other replicas, on PostgreSQL, as
// part of the transaction: it is delivered when (and only if) the change
// it announces commits. SQLite serves one process, which wakes its own
// waiters.
func (t *txn) wake(ctx context.Context, w Wake) error {
	if t.channel == "" {
		return nil
	}
	_, err := t.exec(ctx, `SELECT pg_notify(?, ?)`, t.channel, w.payload())
	return err
}

// wakeChannel is the LISTEN/NOTIFY channel of the schema the store uses:
// installations sharing a database in different schemas do not wake each
// other. Channel names are identifiers, 63 bytes at most.
func wakeChannel(schema string) string {
	c := "idp_wake." + schema
	if len(c) > 63 {
		c = strings.ToValidUTF8(c[:63], "")
	}
	return c
}

// ListenState is a change in the listener's connection.
type ListenState int

// Listener states.
const (
	// ListenConnected: listening, for the first time.
	ListenConnected ListenState = iota + 1
	// ListenLost: the listening connection broke, or the first one could
	// not be made (with the error); wake-ups from other replicas wait for
	// the re-check until it is back.
	ListenLost
	// ListenRetryFailed: a reconnection attempt failed (with its error).
	ListenRetryFailed
	// ListenReconnected: listening again. Wake-ups sent while away are
	// lost, so whoever waits should look again.
	ListenReconnected
)

// Listener delivers wake-ups of other processes serving the same database.
type Listener struct {
	// Clock times the waits between reconnection attempts.
	Clock clock.Clock
	// Backoff spaces reconnection attempts.
	Backoff *backoff.Source
	// Wake receives every wake-up.
	Wake func(Wake)
	// State receives every change of the connection.
	State func(ListenState, error)
}

// Reconnection delays: the first within a second, then doubling, 30 s at most.
const (
	listenRetryBase  = time.Second
	listenRetryLimit = 30 * time.Second
)

// Listen delivers the wake-ups committed by any replica until ctx ends,
// on a connection of its own, reconnecting after a failure. On SQLite,
// where one process serves the database, it returns nil at once.
func (db *DB) Listen(ctx context.Context, l Listener) error {
	if db.channel == "" {
		return nil
	}
	cfg, err := pgx.ParseConfig(db.dsn)
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	// A silently dropped connection (a firewall, a failover) would leave
	// the listener waiting forever: TCP keepalives find it within a minute.
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 6}}
	cfg.DialFunc = d.DialContext
	connected := false
	for attempt := 0; ; {
		err := db.listenOnce(ctx, cfg, l, func() {
			attempt = 0
			if connected {
				l.State(ListenReconnected, nil)
				return
			}
			connected = true
			l.State(ListenConnected, nil)
		})
		if ctx.Err() != nil {
			return nil
		}
		if attempt == 0 {
			l.State(ListenLost, err)
		} else {
			l.State(ListenRetryFailed, err)
		}
		t := l.Clock.NewTimer(l.Backoff.Delay(listenRetryBase, listenRetryLimit, attempt))
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		attempt++
	}
}

// listenOnce connects, listens (calling up once listening) and delivers
// wake-ups until the connection fails or ctx ends.
func (db *DB) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, l Listener, up func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{db.channel}.Sanitize()); err != nil {
		return err
	}
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if w, ok := parseWake(n.Payload); ok {
			l.Wake(w)
		}
	}
}
