// Package agent is the delegate's task loop, shaped after Temporal's and
// Buildkite's workers: register; long-poll only while a slot is free; run
// each task under a lease renewed every ~15-30 s with progress and a
// checkpoint; stop work at once when the lease is lost or cancellation is
// requested; complete with the outcome, retrying until the control plane
// has it. On shutdown it stops polling, lets running tasks finish for most
// of the grace period, then hands them back (RELEASED, with checkpoint).
package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/catalog-discovery/bitbucket/delegate/internal/controlplane"
	"github.com/catalog-discovery/bitbucket/delegate/internal/metrics"
	"github.com/catalog-discovery/bitbucket/delegate/internal/proxy"
	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/delegate/internal/upload"
	"github.com/catalog-discovery/bitbucket/shared/backoff"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
	"github.com/rs/zerolog"
)

// ControlPlane is what the loop needs from the control plane;
// *controlplane.Client implements it.
type ControlPlane interface {
	Register(ctx context.Context, r task.Registration) (task.Registered, error)
	AcquireTask(ctx context.Context, delegateID string, hold time.Duration) (*task.Task, error)
	RenewLease(ctx context.Context, taskID, lease string, p task.Progress, checkpoint []byte) (task.Renewal, error)
	CompleteTask(ctx context.Context, c task.Completion) error
	upload.Sender
}

// Work is the body of one task attempt.
type Work interface {
	// Run does the work; it returns when done or when ctx ends.
	Run(ctx context.Context) Result
	// Progress and Checkpoint are read for every lease renewal; the
	// checkpoint covers acknowledged work only.
	Progress() task.Progress
	Checkpoint() []byte
}

// Result is how the work ended by itself.
type Result struct {
	Outcome        task.Outcome
	Err            error
	TestConnection *task.TestConnectionResult
	// Webhook is the report on the workspace webhook, when the task
	// checked one.
	Webhook *task.WebhookResult
}

// NewWork builds the work of a task; up receives its records.
type NewWork func(t *task.Task, up *upload.Batcher, log zerolog.Logger) Work

// Config configures the loop.
type Config struct {
	Registration  task.Registration
	ShutdownGrace time.Duration
	// MaxBackoff caps the pause between control-plane retries. Default 30 s.
	MaxBackoff time.Duration
	// PollHold is the poll hold asked of the control plane, to stay under
	// the idle timeout of a proxy in between; zero takes the control
	// plane's.
	PollHold time.Duration
	// Keepalive is the client's ping interval; registration fails when the
	// control plane permits no pings that often. Zero skips the check.
	Keepalive time.Duration
	Upload    upload.Options
	Clock     clock.Clock
	Seed      uint64
	// Secrets scrubs error messages before they leave for the control
	// plane, as the log writer scrubs log lines.
	Secrets *logging.Secrets
	Log     zerolog.Logger
	Metrics *metrics.Metrics
}

// Agent runs tasks from the control plane.
type Agent struct {
	cp      ControlPlane
	newWork NewWork
	cfg     Config
	log     zerolog.Logger

	jitter *backoff.Source

	reg task.Registered

	// refusalLogged is set once a proxy's refusal of the credentials was
	// logged, and cleared when the control plane answers again.
	refusalLogged atomic.Bool

	// shutdown is closed when the release deadline passes: running work
	// stops and hands its task back.
	release chan struct{}
}

// New returns an agent.
func New(cp ControlPlane, newWork NewWork, cfg Config) *Agent {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 30 * time.Second
	}
	if cfg.Secrets == nil {
		cfg.Secrets = &logging.Secrets{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return &Agent{
		cp: cp, newWork: newWork, cfg: cfg, log: cfg.Log,
		jitter:  backoff.New(cfg.Seed),
		release: make(chan struct{}),
	}
}

var (
	errLeaseLost       = errors.New("lease lost")
	errCancelRequested = errors.New("cancellation requested")
	errShuttingDown    = errors.New("delegate shutting down")
)

// Run registers and runs tasks until ctx ends (SIGTERM), then shuts down
// gracefully within ShutdownGrace. It returns an error only when the
// control plane rejects the delegate for good.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.register(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	slots := make(chan struct{}, a.cfg.Registration.Concurrency)
	var running sync.WaitGroup
	err := a.poll(ctx, slots, &running)

	// Shutdown: polling has stopped. Running tasks get two thirds of the
	// grace period to finish, then are told to hand their tasks back with
	// the rest.
	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	n := len(slots)
	if n > 0 {
		a.log.Info().Int("running", n).Dur("grace", a.cfg.ShutdownGrace).Msg("shutting down: polling stopped, waiting for running tasks")
	}
	finish, stopFinish := clock.After(a.cfg.Clock, a.cfg.ShutdownGrace*2/3)
	defer stopFinish()
	select {
	case <-done:
	case <-finish:
		a.log.Warn().Msg("shutting down: grace period nearly over, releasing running tasks")
		close(a.release)
		hard, stopHard := clock.After(a.cfg.Clock, a.cfg.ShutdownGrace/3)
		defer stopHard()
		select {
		case <-done:
		case <-hard:
			a.log.Error().Msg("shutting down: tasks did not release in time; their leases will expire and they will run again elsewhere")
		}
	}
	a.log.Info().Msg("delegate stopped")
	return err
}

// register retries until the control plane answers; a rejection is final.
func (a *Agent) register(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		reg, err := a.cp.Register(cctx, a.cfg.Registration)
		cancel()
		if err == nil {
			a.answered()
			if ka, least := a.cfg.Keepalive, reg.KeepaliveMinTime; ka > 0 && ka < least {
				return fmt.Errorf("--keepalive %s is shorter than the control plane permits (%s): it would close the connection for pinging too often (GOAWAY too_many_pings); raise --keepalive or lower the control plane's --keepalive-min-time", ka, least)
			}
			a.reg = reg
			a.log.Info().Str("delegate_id", reg.DelegateID).Str("account", reg.AccountID).
				Str("name", a.cfg.Registration.Name).Strs("tags", a.cfg.Registration.Tags).
				Dur("renew_interval", a.renewInterval()).Dur("poll_hold", a.pollHold()).
				Dur("poll_hold_control_plane", reg.PollHold).Dur("keepalive", a.cfg.Keepalive).
				Dur("keepalive_min_control_plane", reg.KeepaliveMinTime).Msg("registered with the control plane")
			return nil
		}
		if errors.Is(err, controlplane.ErrRejected) {
			return fmt.Errorf("registering: %w (check --token and --account)", err)
		}
		if err := a.pause(ctx, attempt, "register", err); err != nil {
			return err
		}
	}
}

// pause logs a control-plane failure and waits a jittered, capped backoff.
// A proxy refusing the credentials is logged once, at error: the dialer
// does not ask that proxy again for a while (proxy.AuthRetryAfter), so the
// retries in between fail at once without reaching it.
func (a *Agent) pause(ctx context.Context, attempt int, what string, err error) error {
	wait := a.backoff(attempt)
	var refused *proxy.AuthError
	switch {
	case errors.As(err, &refused) && !a.refusalLogged.Swap(true):
		a.log.Error().Str("error", refused.Error()).Str("call", what).
			Msg("the proxy refused the delegate's credentials; the control plane cannot be reached until it accepts them")
	case errors.As(err, &refused):
		a.log.Debug().Str("error", refused.Error()).Str("call", what).Dur("retry_in", wait).Msg("the proxy still refuses the delegate's credentials")
	default:
		ev := a.log.Warn()
		if attempt >= 3 {
			ev = a.log.Error()
		}
		ev.Err(err).Str("call", what).Int("attempt", attempt+1).Dur("retry_in", wait).Msg("control plane unreachable or failing; retrying")
	}
	return a.cfg.Clock.Sleep(ctx, wait)
}

// answered notes that the control plane answered a call.
func (a *Agent) answered() {
	if a.refusalLogged.Swap(false) {
		a.log.Info().Msg("the control plane is reachable again")
	}
}

// backoff is exponential from 1 s, capped, with jitter so that many
// delegates recovering from one outage do not return in lockstep.
func (a *Agent) backoff(attempt int) time.Duration {
	return a.jitter.Delay(time.Second, a.cfg.MaxBackoff, attempt)
}

func (a *Agent) renewInterval() time.Duration {
	d := a.reg.RenewInterval
	if d <= 0 {
		d = 20 * time.Second
	}
	return d
}

// pollHold is how long a poll is held: what the delegate asks for, within
// what the control plane allows.
func (a *Agent) pollHold() time.Duration {
	hold := a.reg.PollHold
	if hold <= 0 {
		hold = defaultPollHold // a control plane that does not say
	}
	if a.cfg.PollHold > 0 {
		hold = min(hold, a.cfg.PollHold)
	}
	return hold
}

const (
	defaultPollHold = 50 * time.Second
	// pollGrace is how much longer than the hold a poll may take before the
	// delegate gives up on the answer.
	pollGrace = 20 * time.Second
	// cutAfter is how long a poll must have been open for its failure to
	// count as a cut connection rather than a failing control plane:
	// proxies and load balancers close idle connections after 15 s or more,
	// while a control plane that is down refuses at once.
	cutAfter = 5 * time.Second
	// cutsBeforeHint is how many polls in a row must be cut before the
	// delegate suggests a shorter poll hold.
	cutsBeforeHint = 3
)

// cut reports whether a poll that failed with err after being open for
// open was cut by something in between rather than refused: routine behind
// a proxy that closes idle connections, so it is retried at once.
func (a *Agent) cut(err error, open time.Duration) bool {
	var refused *proxy.AuthError
	if errors.As(err, &refused) || !controlplane.Transient(err) && !errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return open >= min(cutAfter, a.pollHold()/2)
}

// poll long-polls while a slot is free, until ctx ends. A poll cut after
// being open a while is polled again at once; only failures that come
// back fast count toward warnings and backoff.
func (a *Agent) poll(ctx context.Context, slots chan struct{}, running *sync.WaitGroup) error {
	failures, cuts, hinted := 0, 0, false
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		hold := a.pollHold()
		pctx, cancel := context.WithTimeout(ctx, hold+pollGrace)
		start := a.cfg.Clock.Now()
		t, err := a.cp.AcquireTask(pctx, a.reg.DelegateID, a.cfg.PollHold)
		open := a.cfg.Clock.Now().Sub(start)
		cancel()
		if err != nil || t == nil {
			<-slots
		}
		switch {
		case t != nil && ctx.Err() != nil:
			// Shutdown began as the task arrived. It is leased to us, so
			// hand it back now rather than leave it until the lease expires.
			running.Go(func() {
				defer func() { <-slots }()
				a.handBack(t)
			})
			return nil
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, controlplane.ErrNotRegistered):
			a.log.Warn().Msg("the control plane no longer knows this delegate; registering again")
			if err := a.register(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		case errors.Is(err, controlplane.ErrRejected):
			return fmt.Errorf("polling: %w", err)
		case err != nil && a.cut(err, open):
			failures = 0
			cuts++
			a.log.Debug().Err(err).Dur("open", open).Dur("poll_hold", hold).
				Msg("long poll cut before the hold ended (a proxy or load balancer closing an idle connection); polling again at once")
			if cuts == cutsBeforeHint && !hinted {
				hinted = true
				a.log.Info().Err(err).Dur("open", open).Dur("poll_hold", hold).
					Msgf("%d long polls in a row were cut after about %s; if a proxy closes idle connections, set --poll-hold below its idle timeout to save the reconnects", cuts, open.Round(time.Second))
			}
		case err != nil:
			cuts = 0
			if err := a.pause(ctx, failures, "AcquireTask", err); err != nil {
				return nil
			}
			failures++
		case t == nil:
			failures, cuts = 0, 0
			a.answered()
		default:
			failures, cuts = 0, 0
			a.answered()
			running.Go(func() {
				defer func() { <-slots }()
				a.runTask(t)
			})
		}
	}
}
