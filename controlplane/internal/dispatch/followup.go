package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// Follow-ups: the SyncObserver's work after a run ended, recorded by the
// store in the run's final transaction and carried out at least once:
// right after the run ends by the replica that ended it, and otherwise
// (a crash in between, a failure, another replica's claim running out) by
// RunFollowUps. The observer must therefore bear being called twice for
// one run.
const (
	// followUpClaim is how long a replica holds a follow-up it carries
	// out before another may take it over.
	followUpClaim = 10 * time.Minute
	// followUpRetryBase and followUpRetryMax bound the backoff between
	// attempts of a failed follow-up.
	followUpRetryBase = 5 * time.Second
	followUpRetryMax  = 10 * time.Minute
	// followUpAttempts is how many times a follow-up is tried before it is
	// given up (the next run of the integration does the same work).
	followUpAttempts = 8
)

// followUp carries out the follow-up of runID, unless another caller
// holds it.
func (s *Service) followUp(ctx context.Context, runID string) {
	f, ok, err := s.store.ClaimFollowUp(ctx, runID, s.clock.Now(), followUpClaim)
	if err != nil {
		s.log.Error().Err(err).Str("run", runID).Msg("claiming the follow-up of a sync run failed; it runs later")
		return
	}
	if ok {
		s.carryOut(ctx, f)
	}
}

// RunFollowUps carries out due follow-ups, at start (those a crash left
// behind) and every SweepInterval, until ctx ends.
func (s *Service) RunFollowUps(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			f, ok, err := s.store.ClaimFollowUp(ctx, "", s.clock.Now(), followUpClaim)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error().Err(err).Msg("claiming follow-ups of sync runs failed")
				}
				break
			}
			if !ok {
				break
			}
			s.carryOut(ctx, f)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// carryOut runs a claimed follow-up and deletes it, or schedules its retry
// with backoff, recording the failure as an event.
func (s *Service) carryOut(ctx context.Context, f store.FollowUp) {
	ctx = context.WithoutCancel(ctx)
	log := s.log.With().Str("account", f.AccountID).Str("integration", f.IntegrationID).Str("run", f.RunID).Int("attempt", f.Attempts).Logger()
	err := s.observe(ctx, f)
	if err == nil {
		if err := s.store.FinishFollowUp(ctx, f.ID); err != nil {
			log.Warn().Err(err).Msg("sync run follow-up done but not marked done; it will run again")
		} else if f.Attempts > 1 {
			log.Info().Msg("sync run follow-up done after retrying")
		}
		return
	}
	now := s.clock.Now()
	var retryAt time.Time
	msg := fmt.Sprintf("work after sync run %s (entity refresh, recommendations, auto-import) failed %d times; given up until the next sync", f.RunID, f.Attempts)
	if f.Attempts < followUpAttempts {
		retryAt = now.Add(s.jitter.Delay(followUpRetryBase, followUpRetryMax, f.Attempts-1)).UTC()
		msg = fmt.Sprintf("work after sync run %s (entity refresh, recommendations, auto-import) failed (attempt %d); retrying at %s",
			f.RunID, f.Attempts, retryAt.Format(time.RFC3339))
	}
	log.Error().Err(err).Time("retry_at", retryAt).Msg("sync run follow-up failed")
	if err := s.store.FailFollowUp(ctx, f, retryAt, store.Event{Time: now, Actor: "control plane", Message: msg, Error: err.Error()}); err != nil {
		log.Error().Err(err).Msg("recording a failed sync run follow-up failed; it runs again when its claim runs out")
	}
}

// observe hands the follow-up's run to the observer.
func (s *Service) observe(ctx context.Context, f store.FollowUp) error {
	if s.observer == nil {
		return nil
	}
	run, err := s.store.GetSyncRun(ctx, f.AccountID, f.RunID)
	if fault.CodeOf(err) == fault.NotFound {
		return nil // the integration was deleted with its runs
	}
	if err != nil {
		return err
	}
	return s.observer.SyncFinished(ctx, run)
}
