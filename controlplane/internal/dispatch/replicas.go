package dispatch

import (
	"context"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
)

// Wakes brings the wake-ups that other replicas commit: store.DB, with
// LISTEN/NOTIFY on PostgreSQL. (On SQLite one process serves the database
// and Queued wakes its waiters; Listen returns at once.)
type Wakes interface {
	Listen(ctx context.Context, l store.Listener) error
}

// Listen wakes this replica's waiting polls (AcquireTask) and waits
// (WaitTask) as soon as another replica queues a task or ends one, until
// ctx ends; jitter spaces its reconnections. While the listener is down
// the Recheck finds such work, as it always does. Each change of the
// listener's connection is logged once.
func (s *Service) Listen(ctx context.Context, w Wakes, jitter *backoff.Source) error {
	return w.Listen(ctx, store.Listener{Clock: s.clock, Backoff: jitter,
		Wake: func(w store.Wake) {
			switch w.Kind {
			case store.WakeQueued:
				s.queued.notify(w.Key)
			case store.WakeEnded:
				s.finished.notify(w.Key)
			}
		},
		State: func(st store.ListenState, err error) {
			switch st {
			case store.ListenConnected:
				s.log.Info().Msg("listening for the other replicas' queued and ended tasks")
			case store.ListenLost:
				s.log.Warn().Err(err).Stringer("recheck", s.cfg.Recheck).
					Msg("not listening for the other replicas' tasks; polls find them at the re-check until the listener reconnects")
			case store.ListenRetryFailed:
				s.log.Debug().Err(err).Msg("replica listener: reconnection failed; retrying")
			case store.ListenReconnected:
				s.log.Info().Msg("listening for the other replicas' tasks again")
				// What other replicas sent meanwhile is lost: look again.
				s.queued.notifyAll()
				s.finished.notifyAll()
			}
		}})
}
