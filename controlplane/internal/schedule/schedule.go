// Package schedule queues a sync for every enabled integration once per
// update frequency. The schedule lives in the store (integrations.
// next_sync_at), so it survives restarts and is shared by replicas: each
// due integration is claimed with a compare-and-set, and an integration
// that already has an active sync joins it instead of queuing another.
// After downtime an overdue integration syncs once, not once per missed
// period.
package schedule

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Scheduler queues due syncs.
type Scheduler struct {
	store store.Store
	clock clock.Clock
	log   zerolog.Logger
	// queued is told which account got new work (dispatch.Service.Queued).
	queued func(accountID string)
	// Interval is how often Run looks for due integrations.
	Interval time.Duration
}

// New builds a scheduler; clk is the clock.
func New(s store.Store, clk clock.Clock, log zerolog.Logger, queued func(accountID string)) *Scheduler {
	return &Scheduler{store: s, clock: clk, log: log, queued: queued, Interval: 15 * time.Second}
}

// batch is how many due integrations one Tick handles per query.
const batch = 100

// Tick queues a sync for every integration due now and returns how many
// new runs it queued.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	queued := 0
	now := s.clock.Now().UTC()
	for {
		due, err := s.store.DueIntegrations(ctx, now, batch)
		if err != nil {
			return queued, err
		}
		for _, in := range due {
			run, claimed, joined, err := s.store.ScheduleSync(ctx, in, now)
			if err != nil {
				return queued, err
			}
			if !claimed {
				continue // another replica took it
			}
			if !joined {
				queued++
				s.log.Info().Str("account", in.AccountID).Str("integration", in.ID).Str("run", run.ID).Str("task", run.TaskID).
					Msg("task queued: scheduled sync")
				s.queued(in.AccountID)
			} else {
				s.log.Debug().Str("integration", in.ID).Str("run", run.ID).Msg("scheduled sync joined the active run")
			}
		}
		if len(due) < batch {
			return queued, nil
		}
	}
}

// Run ticks every Interval until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	t := s.clock.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("scheduler tick failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
