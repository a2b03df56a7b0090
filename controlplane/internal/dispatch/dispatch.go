package dispatch

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ingest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// Config holds the timings of the task protocol.
type Config struct {
	// LeaseDuration is how long a lease lasts unless renewed.
	LeaseDuration time.Duration
	// RenewInterval is how often delegates are told to renew.
	RenewInterval time.Duration
	// PollHold is how long AcquireTask waits for work, at most: a delegate
	// behind a proxy that cuts idle connections may ask for less.
	PollHold time.Duration
	// Recheck is how often a waiting AcquireTask looks at the store even
	// without a wake-up, so tasks queued by another replica are found.
	Recheck time.Duration
	// SweepInterval is how often expired leases are looked for.
	SweepInterval time.Duration
	// MaxAttempts is how many leases a task gets before it fails.
	MaxAttempts int
	// Limits are the caps every SYNC task carries.
	Limits tasks.Limits
	// PublicURL is the control plane's address as Bitbucket reaches it
	// (serve --public-url); empty: no workspace webhooks, polling only.
	PublicURL string
}

// DefaultConfig is what production uses.
var DefaultConfig = Config{
	LeaseDuration: 2 * time.Minute,
	RenewInterval: 20 * time.Second,
	PollHold:      50 * time.Second,
	Recheck:       5 * time.Second,
	SweepInterval: 15 * time.Second,
	MaxAttempts:   5,
	Limits:        tasks.DefaultLimits,
}

// Reasons of task protocol failures.
const ReasonDelegateNotRegistered = "DELEGATE_NOT_REGISTERED"

// SyncObserver learns about every sync run that ended (succeeded, partial,
// failed or cancelled), after its final state is stored. Discovery hangs
// off this: it recomputes recommendations and auto-imports from what the
// run ingested. The call is the run's follow-up, recorded with the run's
// end and carried out at least once (see RunFollowUps): an error is
// logged and retried with backoff; the run's outcome stands.
type SyncObserver interface {
	SyncFinished(ctx context.Context, run tasks.SyncRun) error
}

// Service runs the task protocol for all accounts.
type Service struct {
	store    store.Store
	cfg      Config
	clock    clock.Clock
	log      zerolog.Logger
	observer SyncObserver
	meter    Meter
	queued   *broadcast // by account: a task became available
	finished *broadcast // by task id: a task ended
	jitter   *backoff.Source
	stopping chan struct{}
	stopOnce sync.Once

	// BeforeFollowUp, when set, is called after a run's end is stored and
	// before its follow-up runs. Production leaves it nil; crash tests set
	// it to stop the process in that window (see cmd/controlplane).
	BeforeFollowUp func(tasks.SyncRun)
}

// New builds the service; clk is the clock (clock.Real in production).
func New(s store.Store, cfg Config, clk clock.Clock, log zerolog.Logger, observer SyncObserver) *Service {
	return &Service{store: s, cfg: cfg, clock: clk, log: log, observer: observer, meter: noMeter{}, queued: newBroadcast(), finished: newBroadcast(),
		jitter: backoff.New(uint64(clk.Now().UnixNano())), stopping: make(chan struct{})}
}

// Registration is what a delegate says about itself when it registers.
type Registration struct {
	Name        string
	Tags        []string
	Version     string
	Hostname    string
	Concurrency int // 0 or less means 1
}

// Register records a delegate of the account: under a new id, or under
// its id when the account already has a delegate of that name. The
// identity of a delegate is its account (the token it authenticates with)
// and its name: registering again means the process restarted, so the
// tasks still leased to it are reclaimed at once (tasks.Reclaim) and its
// next poll resumes them from their checkpoints under new lease tokens,
// instead of waiting for the leases to expire. Two running processes must
// therefore not share a name: each registration fences off the other's
// work. The sizes of its fields and the shape of its tags are declared
// in the contract (RegisterRequest) and checked before this runs. Errors:
// Invalid naming name when it is only white space.
func (s *Service) Register(ctx context.Context, accountID string, r Registration) (store.Delegate, error) {
	name := strings.TrimSpace(r.Name)
	if name == "" {
		return store.Delegate{}, fault.InvalidField("name", "required: more than white space")
	}
	tags := slices.Clone(r.Tags)
	slices.Sort(tags)
	now := s.clock.Now().UTC()
	d, reclaimed, err := s.store.RegisterDelegate(ctx, store.Delegate{ID: ids.New("dlg"), AccountID: accountID, Name: name,
		Tags: slices.Compact(tags), Version: r.Version, Hostname: r.Hostname, Concurrency: max(r.Concurrency, 1), RegisteredAt: now, LastSeenAt: now},
		s.cfg.MaxAttempts)
	if err != nil {
		return d, err
	}
	s.log.Info().Str("account", accountID).Str("delegate", d.Name).Str("delegate_id", d.ID).Strs("tags", d.Tags).
		Str("version", d.Version).Int("reclaimed", len(reclaimed)).Msg("delegate registered")
	s.ended(ctx, reclaimed, "the delegate registered again: lease reclaimed; task queued for it at once",
		"the delegate registered again: lease reclaimed; task ended")
	return d, nil
}

// Stop ends every waiting AcquireTask at once with no task, so a graceful
// server stop is not held up by long polls; delegates poll again, on
// another replica or after the restart.
func (s *Service) Stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

// Config returns the service's timings.
func (s *Service) Config() Config { return s.cfg }

// Queued wakes the delegates of an account waiting in AcquireTask; call it
// after queuing a task.
func (s *Service) Queued(accountID string) { s.queued.notify(accountID) }

// ConnectedWindow is how recently a delegate must have polled or renewed a
// lease to count as connected: a waiting delegate polls again at least
// every PollHold, a busy one renews every RenewInterval; twice the longer
// of the two allows for one call lost or late.
func (c Config) ConnectedWindow() time.Duration { return 2 * max(c.PollHold, c.RenewInterval) }

// Hold is how long a poll asking for requested waits: requested, bounded
// by PollHold; zero (or less) asks for PollHold.
func (c Config) Hold(requested time.Duration) time.Duration {
	if requested <= 0 {
		return c.PollHold
	}
	return min(requested, c.PollHold)
}

// Acquire long-polls for a task the delegate may run: it returns as soon
// as one is leased, or ok = false after the poll hold (Config.Hold of
// hold). Errors: NotFound (DELEGATE_NOT_REGISTERED).
func (s *Service) Acquire(ctx context.Context, accountID, delegateID string, hold time.Duration) (tasks.Assignment, bool, error) {
	d, err := s.store.GetDelegate(ctx, accountID, delegateID)
	if fault.CodeOf(err) == fault.NotFound {
		return tasks.Assignment{}, false, fault.New(fault.NotFound, ReasonDelegateNotRegistered,
			"delegate %q is not registered with account %s; call Register again", delegateID, accountID).With("delegateId", delegateID)
	}
	if err != nil {
		return tasks.Assignment{}, false, err
	}
	if err := s.store.DelegateSeen(ctx, accountID, d.ID, s.clock.Now()); err != nil {
		return tasks.Assignment{}, false, err
	}
	timeout := s.clock.NewTimer(s.cfg.Hold(hold))
	defer timeout.Stop()
	recheck := s.clock.NewTicker(s.cfg.Recheck)
	defer recheck.Stop()
	for {
		wake := s.queued.wait(accountID)
		if err := s.Sweep(ctx); err != nil {
			return tasks.Assignment{}, false, err
		}
		t, ok, err := s.store.AcquireTask(ctx, store.AcquireRequest{AccountID: accountID, DelegateID: d.ID, Delegate: d.Name,
			Tags: d.Tags, Now: s.clock.Now(), LeaseFor: s.cfg.LeaseDuration})
		if err != nil {
			return tasks.Assignment{}, false, err
		}
		if ok {
			a, err := s.assignment(ctx, t)
			if ctx.Err() != nil {
				// The caller is gone (the delegate cancelled the poll or is
				// shutting down): the answer cannot be delivered, so the task
				// must not wait out a lease nobody holds.
				s.returnLease(ctx, t, "the delegate's poll was cancelled")
				return tasks.Assignment{}, false, ctx.Err()
			}
			if err != nil {
				// No delegate got the task, so the attempt must not count
				// and the next poll may take it at once.
				s.returnLease(ctx, t, "its assignment could not be built: "+err.Error())
				return tasks.Assignment{}, false, err
			}
			s.log.Info().Str("account", accountID).Str("task", t.ID).Str("type", string(t.Type)).Str("delegate", d.Name).
				Int("attempt", t.Attempt).Time("lease_expires_at", t.LeaseExpiresAt).Msg("task leased")
			s.meter.Leased(t, s.clock.Now().Sub(t.AvailableAt))
			return a, true, nil
		}
		select {
		case <-wake:
		case <-recheck.C():
		case <-timeout.C():
			return tasks.Assignment{}, false, nil
		case <-s.stopping:
			return tasks.Assignment{}, false, nil
		case <-ctx.Done():
			return tasks.Assignment{}, false, ctx.Err()
		}
	}
}

// returnLease hands back a task leased but never delivered (why says
// why), at once and without counting the attempt. On failure the lease
// simply expires, as it would after a crash.
func (s *Service) returnLease(ctx context.Context, t tasks.Task, why string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.ReturnLease(ctx, t.AccountID, t.ID, t.LeaseToken); err != nil {
		s.log.Warn().Err(err).Str("account", t.AccountID).Str("task", t.ID).Str("why", why).
			Msg("task leased but not delivered could not be handed back; its lease will expire")
		return
	}
	s.Queued(t.AccountID)
	s.log.Info().Str("account", t.AccountID).Str("task", t.ID).Int("attempt", t.Attempt).Str("why", why).
		Msg("task leased but not delivered; handed back without counting the attempt")
}

// assignment builds the payload of a leased task from the current
// configuration and cursors.
func (s *Service) assignment(ctx context.Context, t tasks.Task) (tasks.Assignment, error) {
	a := tasks.Assignment{Task: t}
	switch t.Type {
	case tasks.Sync:
		in, target, err := s.integrationTarget(ctx, t)
		if err != nil {
			return a, err
		}
		cursors, err := s.store.ListCursors(ctx, in.ID, t.Repositories...)
		if err != nil {
			return a, err
		}
		// Owner suggestions: the repositories about to be registered whose
		// CODEOWNERS file was not read since they changed, no more than the
		// cap could serve (each costs at least one request).
		var codeOwners []string
		if len(in.OwnerMapping) > 0 {
			if codeOwners, err = s.store.CodeOwnersToCheck(ctx, in.ID, s.cfg.Limits.MaxCodeOwnersRequestsPerSync); err != nil {
				return a, err
			}
		}
		kinds := make([]string, len(in.SecondaryKinds))
		for i, k := range in.SecondaryKinds {
			kinds[i] = string(k)
		}
		now := s.clock.Now().UTC()
		// A targeted refresh fetches all of its repositories: no plan.
		var plan *sweep.Plan
		if len(t.Repositories) == 0 {
			p, err := s.store.PlanSync(ctx, t.AccountID, t.ID, t.LeaseToken, func(f store.SweepFacts) sweep.Plan {
				return sweep.Decide(in.Sweep, sweepFacts(in, f, now, s.cfg.PublicURL))
			})
			if err != nil {
				return a, err
			}
			plan = &p
		}
		a.Sync = &tasks.SyncPayload{IntegrationID: in.ID, SecondaryKinds: kinds, Limits: s.cfg.Limits, StartDate: in.StartDate,
			Cursors: cursors, CodeOwners: codeOwners, Filter: in.Filter, Target: target,
			Repositories: t.Repositories, Plan: plan}
		if len(t.Repositories) == 0 && s.cfg.PublicURL != "" {
			// Every full sync makes sure of the hook: it costs one request
			// when the hook is as wanted, and heals one deleted by hand.
			spec, err := s.hookSpec(ctx, in, true)
			if err != nil {
				return a, err
			}
			a.Sync.Webhook = &spec
		}
	case tasks.Hook:
		in, target, err := s.integrationTarget(ctx, t)
		if err != nil {
			return a, err
		}
		spec, err := s.hookSpec(ctx, in, t.HookActive)
		if err != nil {
			return a, err
		}
		a.Hook = &tasks.HookPayload{IntegrationID: in.ID, Spec: spec, Target: target}
	case tasks.TestConnection:
		c, err := s.store.GetConnector(ctx, t.AccountID, t.ConnectorID)
		if err != nil {
			return a, err
		}
		a.Test = &tasks.TestPayload{ConnectorID: c.ID, Target: tasks.Target{Workspace: c.Workspace, APIBaseURL: c.APIBaseURL, TokenRefs: c.TokenRefs}}
	}
	return a, nil
}

// integrationTarget is the task's integration and where and as whom its
// delegate calls Bitbucket (the connector's workspace, API and tokens).
func (s *Service) integrationTarget(ctx context.Context, t tasks.Task) (integration.Integration, tasks.Target, error) {
	in, err := s.store.GetIntegration(ctx, t.AccountID, t.IntegrationID)
	if err != nil {
		return in, tasks.Target{}, err
	}
	c, err := s.store.GetConnector(ctx, t.AccountID, in.ConnectorID)
	if err != nil {
		return in, tasks.Target{}, err
	}
	return in, tasks.Target{Workspace: in.Workspace, APIBaseURL: c.APIBaseURL, TokenRefs: c.TokenRefs}, nil
}

// hookSpec is the integration's workspace webhook as wanted, with its
// secret (generated on first use). Without a public address the url is
// empty: a deactivation then finds no hook by url and changes nothing.
func (s *Service) hookSpec(ctx context.Context, in integration.Integration, active bool) (tasks.HookSpec, error) {
	secret, err := s.store.EnsureWebhookSecret(ctx, in.ID, webhook.NewSecret())
	if err != nil {
		return tasks.HookSpec{}, err
	}
	return tasks.HookSpec{URL: webhook.URL(s.cfg.PublicURL, in.ID), Secret: secret, Events: webhook.Events, Active: active,
		Description: webhook.Description}, nil
}

// QueueRefresh queues a targeted refresh of some repositories of an
// integration (or joins the one no delegate has taken yet) and wakes the
// account's delegates. Webhook deliveries, users and sweeps call it.
// Errors: those of store.QueueRefresh.
func (s *Service) QueueRefresh(ctx context.Context, r store.TargetedRequest) (tasks.SyncRun, bool, error) {
	if r.Now.IsZero() {
		r.Now = s.clock.Now()
	}
	run, coalesced, err := s.store.QueueRefresh(ctx, r)
	if err != nil {
		return run, coalesced, err
	}
	if !coalesced {
		s.Queued(r.AccountID)
	}
	s.log.Info().Str("account", r.AccountID).Str("integration", r.IntegrationID).Str("run", run.ID).Strs("repositories", r.Slugs).
		Bool("coalesced", coalesced).Str("trigger", string(r.Trigger)).Msg("targeted refresh queued")
	return run, coalesced, nil
}

// sweepFacts puts together what a sync's plan is decided from: a run
// that is not scheduled (the first sync, a catch-up after a suspension, a
// user's sync now) lists and confirms everything.
func sweepFacts(in integration.Integration, f store.SweepFacts, now time.Time, publicURL string) sweep.Facts {
	return sweep.Facts{Now: now, Interval: in.Frequency.Duration(), Webhook: in.Webhook.Working(publicURL),
		Everything: slices.Contains([]tasks.Trigger{tasks.Created, tasks.Manual, tasks.Resumed}, f.Trigger), PullRequests: slices.Contains(in.SecondaryKinds, integration.PullRequests),
		LastFullListing: f.LastFullListing, ListedAsOf: f.ListedAsOf, Repositories: f.Repositories}
}

// Renew extends a lease and stores progress and checkpoint. Errors:
// FailedPrecondition (LEASE_LOST); Invalid for an oversized checkpoint.
func (s *Service) Renew(ctx context.Context, accountID, taskID, token string, checkpoint []byte, p *tasks.Progress) (store.RenewResult, error) {
	res, err := s.store.RenewLease(ctx, store.RenewRequest{AccountID: accountID, TaskID: taskID, LeaseToken: token,
		Now: s.clock.Now(), LeaseFor: s.cfg.LeaseDuration, Checkpoint: checkpoint, Progress: p})
	if errors.Is(err, tasks.ErrLeaseLost) {
		s.log.Info().Str("account", accountID).Str("task", taskID).Msg("renewal refused: lease lost")
	}
	if err == nil {
		// A delegate busy with tasks does not poll: its renewals show it is there.
		if err := s.store.TaskDelegateSeen(ctx, accountID, taskID, s.clock.Now()); err != nil {
			s.log.Warn().Err(err).Str("account", accountID).Str("task", taskID).Msg("could not record when the delegate was last seen")
		}
	}
	return res, err
}

// Upload checks one record batch (its sequence, then ingest.Normalize and
// ingest.Validate) and applies it, with the sync's progress when the
// delegate sent it (nil: none). Errors: Invalid naming the sequence or
// the record (INVALID_RECORD), and those of store.ApplyBatch.
func (s *Service) Upload(ctx context.Context, accountID, taskID, token string, seq int64, records []record.Record, p *tasks.Progress) (store.BatchResult, error) {
	res, err := s.upload(ctx, accountID, taskID, token, seq, records, p)
	if err != nil {
		s.meter.BatchRejected()
		return res, err
	}
	s.meter.BatchApplied(records, res.Duplicate)
	ev := s.log.Debug()
	if len(res.Deleted) > 0 {
		ev = s.log.Info().Strs("deleted", res.Deleted)
	}
	ev.Str("account", accountID).Str("task", taskID).Int64("sequence", seq).Int("records", len(records)).
		Bool("duplicate", res.Duplicate).Msg("record batch acknowledged")
	return res, nil
}

func (s *Service) upload(ctx context.Context, accountID, taskID, token string, seq int64, records []record.Record, p *tasks.Progress) (store.BatchResult, error) {
	if err := tasks.ValidSequence(seq); err != nil {
		return store.BatchResult{}, err
	}
	ingest.Normalize(records)
	if err := ingest.Validate(records); err != nil {
		return store.BatchResult{}, err
	}
	return s.store.ApplyBatch(ctx, store.BatchRequest{AccountID: accountID, TaskID: taskID, LeaseToken: token,
		Sequence: seq, Records: records, Progress: p, Now: s.clock.Now()})
}

// Complete ends or releases a task.
func (s *Service) Complete(ctx context.Context, r store.CompleteRequest) (store.CompleteResult, error) {
	r.Now = s.clock.Now()
	res, err := s.store.CompleteTask(ctx, r)
	if err != nil || res.Repeated {
		return res, err
	}
	if res.Task.State != tasks.Done {
		s.log.Info().Str("account", r.AccountID).Str("task", r.TaskID).Msg("task released; queued again")
		s.Queued(r.AccountID)
		return res, nil
	}
	// A release of a task asked to stop ends it: log what was stored.
	s.log.Info().Str("account", r.AccountID).Str("task", r.TaskID).Str("outcome", string(res.Task.Outcome)).
		Str("error", res.Task.Error).Msg("task completed")
	s.finished.notify(r.TaskID)
	if res.Run != nil {
		s.RunEnded(ctx, *res.Run)
	}
	return res, nil
}

// RunEnded reports a finished run and carries out its follow-up (the
// observer's work), unless another caller holds it.
func (s *Service) RunEnded(ctx context.Context, run tasks.SyncRun) {
	s.log.Info().Str("account", run.AccountID).Str("integration", run.IntegrationID).Str("run", run.ID).
		Str("status", string(run.Status)).Int64("repositories", run.Progress.Repositories).
		Int64("pull_requests", run.Progress.PullRequests).Int64("commits", run.Progress.Commits).Msg("sync run finished")
	s.finished.notify(run.TaskID)
	s.meter.RunEnded(run)
	if s.BeforeFollowUp != nil {
		s.BeforeFollowUp(run)
	}
	s.followUp(ctx, run.ID)
}

// Sweep handles expired leases now: requeues their tasks (waking the
// account's delegates) or ends them.
func (s *Service) Sweep(ctx context.Context) error {
	expired, err := s.store.ExpireLeases(ctx, s.clock.Now(), s.cfg.MaxAttempts)
	if err != nil {
		return err
	}
	s.ended(ctx, expired, "lease expired; task queued for another delegate", "lease expired; task ended")
	return nil
}

// ended reports leases that expired or were reclaimed: a requeued task
// wakes the account's delegates (requeued is the log message), an ended
// one finishes its run (done).
func (s *Service) ended(ctx context.Context, expired []store.Expiry, requeued, done string) {
	for _, e := range expired {
		if e.Task.State != tasks.Queued { // a queued one is a connection test nobody took
			s.meter.LeaseExpired(e.Task, e.Requeued)
		}
		log := s.log.Info().Str("account", e.Task.AccountID).Str("task", e.Task.ID).Int("attempt", e.Task.Attempt).Str("delegate_id", e.Task.DelegateID)
		if e.Requeued {
			log.Msg(requeued)
			s.Queued(e.Task.AccountID)
			continue
		}
		if e.Task.State == tasks.Queued {
			log.Msg("connection test not taken by any delegate in time; failed")
		} else {
			log.Msg(done)
		}
		s.finished.notify(e.Task.ID)
		if e.Run != nil {
			s.RunEnded(ctx, *e.Run)
		}
	}
}

// RunSweeper sweeps expired leases every SweepInterval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context) {
	t := s.clock.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Error().Err(err).Msg("lease sweep failed")
			}
		}
	}
}

// WaitTask waits until a task is done or ctx ends, and returns it as it
// stands then.
func (s *Service) WaitTask(ctx context.Context, accountID, taskID string) (tasks.Task, error) {
	recheck := s.clock.NewTicker(s.cfg.Recheck)
	defer recheck.Stop()
	for {
		done := s.finished.wait(taskID)
		t, err := s.store.GetTask(ctx, accountID, taskID)
		if err != nil || t.State == tasks.Done {
			return t, err
		}
		select {
		case <-done:
		case <-recheck.C():
		case <-ctx.Done():
			return t, nil
		}
	}
}
