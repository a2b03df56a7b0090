package agent

import (
	"context"
	"errors"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/rs/zerolog"
)

// runTask runs one task attempt from lease to completion.
func (a *Agent) runTask(t *task.Task) {
	log := a.log.With().Str("task_id", t.ID).Str("task_type", t.Type.String()).Int("attempt", t.Attempt).Logger()
	start := a.cfg.Clock.Now()
	m := a.cfg.Metrics
	m.TasksRunning.Inc()
	defer m.TasksRunning.Dec()

	uopts := a.cfg.Upload
	uopts.Log, uopts.Metrics, uopts.Clock = log, m, a.cfg.Clock
	up := upload.New(a.cp, t.ID, t.LeaseToken, t.NextSequence, uopts)
	defer up.Close()
	work := a.newWork(t, up, log)
	up.ReportProgress(work.Progress)
	log.Info().Int64("next_sequence", t.NextSequence).Bool("resumed", len(t.Checkpoint) > 0).Msg("task started")

	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		a.renew(ctx, t, work, stop)
	}()
	go func() {
		select {
		case <-a.release:
			stop(errShuttingDown)
		case <-ctx.Done():
		}
	}()

	res := work.Run(ctx)
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errLeaseLost):
		stop(nil)
		<-renewed
		log.Warn().Dur("duration", a.cfg.Clock.Now().Sub(start)).Msg("task abandoned: lease lost (it expired or was taken over); another attempt will resume from the last checkpoint")
		m.Tasks.WithLabelValues(t.Type.String(), "lease_lost").Inc()
		return
	case errors.Is(cause, errCancelRequested):
		res = Result{Outcome: task.OutcomeCancelled, Err: errCancelRequested}
	case errors.Is(cause, errShuttingDown):
		res = Result{Outcome: task.OutcomeReleased, Err: errShuttingDown}
	case errors.Is(res.Err, controlplane.ErrLeaseLost):
		stop(nil)
		<-renewed
		log.Warn().Err(res.Err).Msg("task abandoned: lease lost (the control plane refused an upload); another attempt will resume from the last checkpoint")
		m.Tasks.WithLabelValues(t.Type.String(), "lease_lost").Inc()
		return
	}

	done := task.Completion{
		TaskID: t.ID, LeaseToken: t.LeaseToken, Outcome: res.Outcome,
		Progress: work.Progress(), TestConnection: res.TestConnection, Webhook: res.Webhook,
	}
	if res.Err != nil {
		done.Error = a.cfg.Secrets.ScrubString(res.Err.Error())
	}
	if res.Outcome == task.OutcomeReleased {
		done.Checkpoint = work.Checkpoint()
	}
	// Keep renewing while completing: completion may wait out a control
	// plane outage, and the lease must not lapse meanwhile.
	completed := a.complete(done, log)
	stop(nil)
	<-renewed

	p := done.Progress
	ev := log.Info()
	if res.Outcome != task.OutcomeSucceeded {
		ev = log.Warn()
	}
	if res.Err != nil {
		ev = ev.Str("error", res.Err.Error())
	}
	if res.TestConnection != nil {
		ev = ev.Bool("connection_ok", res.TestConnection.OK).Strs("missing_scopes", res.TestConnection.MissingScopes).
			Str("verdict", res.TestConnection.Message)
	}
	ev.Str("outcome", res.Outcome.String()).Bool("reported", completed).
		Int64("repositories", p.Repositories).Int64("pull_requests", p.PullRequests).Int64("commits", p.Commits).
		Int64("requests", p.Requests).Int64("rate_limited", p.RateLimited).
		Dur("duration", a.cfg.Clock.Now().Sub(start)).Msg("task finished")
	m.Tasks.WithLabelValues(t.Type.String(), res.Outcome.String()).Inc()
}

// handBack releases a task received but never started, with the
// checkpoint it came with, so that the next attempt resumes from there.
func (a *Agent) handBack(t *task.Task) {
	log := a.log.With().Str("task_id", t.ID).Str("task_type", t.Type.String()).Int("attempt", t.Attempt).Logger()
	log.Info().Msg("task received as the delegate is shutting down; releasing it unstarted")
	a.complete(task.Completion{TaskID: t.ID, LeaseToken: t.LeaseToken, Outcome: task.OutcomeReleased,
		Error: errShuttingDown.Error(), Checkpoint: t.Checkpoint}, log)
	a.cfg.Metrics.Tasks.WithLabelValues(t.Type.String(), task.OutcomeReleased.String()).Inc()
}

// renew extends the lease until ctx ends, reporting progress and the
// checkpoint. It stops the work (through stop) when the lease is lost or
// cancellation is requested, and treats a lease it could not renew before
// it expired as lost.
func (a *Agent) renew(ctx context.Context, t *task.Task, work Work, stop context.CancelCauseFunc) {
	interval := a.renewInterval()
	expires := t.LeaseExpiresAt
	next := a.jitter.Shorten(interval, 0.2)
	failures := 0
	for {
		if err := a.cfg.Clock.Sleep(ctx, next); err != nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, min(interval, 10*time.Second))
		r, err := a.cp.RenewLease(cctx, t.ID, t.LeaseToken, work.Progress(), work.Checkpoint())
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			failures = 0
			expires = r.LeaseExpiresAt
			next = a.jitter.Shorten(interval, 0.2)
			if r.CancelRequested {
				a.log.Warn().Str("task_id", t.ID).Msg("cancellation requested by the control plane; stopping the task")
				stop(errCancelRequested)
				return
			}
		case errors.Is(err, controlplane.ErrLeaseLost):
			a.log.Warn().Str("task_id", t.ID).Err(err).Msg("lease lost; stopping the task at once")
			stop(errLeaseLost)
			return
		default:
			failures++
			now := a.cfg.Clock.Now()
			if !expires.IsZero() && now.After(expires) {
				a.log.Warn().Str("task_id", t.ID).Err(err).Msg("lease expired before it could be renewed; stopping the task")
				stop(errLeaseLost)
				return
			}
			// Retry sooner than the interval, while the lease lasts.
			next = min(a.backoff(failures-1), interval/2)
			a.log.Warn().Str("task_id", t.ID).Err(err).Dur("retry_in", next).Time("lease_expires", expires).Msg("lease renewal failed; retrying")
		}
	}
}

// complete reports the outcome, retrying transient failures for up to ten
// minutes (or until the shutdown deadline): a lost completion would leave
// the run hanging until its lease expired and then run it again.
func (a *Agent) complete(done task.Completion, log zerolog.Logger) bool {
	limit := 10 * time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	go func() {
		select {
		case <-a.release:
			// Leave a moment for the call in flight, then give up.
			grace, stop := clock.After(a.cfg.Clock, a.cfg.ShutdownGrace/4)
			defer stop()
			select {
			case <-grace:
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
	for attempt := 0; ; attempt++ {
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.cp.CompleteTask(cctx, done)
		ccancel()
		switch {
		case err == nil:
			return true
		case errors.Is(err, controlplane.ErrLeaseLost):
			log.Warn().Err(err).Msg("completion refused: lease lost; another attempt owns the task")
			return false
		case !controlplane.Transient(err) && !errors.Is(err, context.DeadlineExceeded):
			log.Error().Err(err).Msg("completion refused by the control plane")
			return false
		}
		if err := a.pause(ctx, attempt, "CompleteTask", err); err != nil {
			log.Error().Msg("could not report the task's outcome in time; its lease will expire and it will run again")
			return false
		}
	}
}
