// Package hooksvc receives Bitbucket webhook deliveries and applies them.
// Receive verifies a delivery (webhook.Verify) and stores it once per
// X-Request-UUID before it is answered; Run applies what is stored, at
// least once and idempotently: webhook.Decide says what a delivery asks,
// the store writes pull requests and commits through the sync's upserts
// (newer updated_on wins), and whatever the payload does not fully
// describe becomes a targeted refresh (dispatch.QueueRefresh), which
// updates discovery, correlation and linked entities as any sync does.
package hooksvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ingest"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Results of a delivery, as counted by the Meter.
const (
	ResultAccepted     = "accepted"
	ResultDuplicate    = "duplicate"
	ResultUnauthorized = "unauthorized" // unknown integration, no or a wrong signature
	ResultMalformed    = "malformed"    // signed, but headers or body unusable
	ResultTooLarge     = "too_large"
	ResultRateLimited  = "rate_limited"
	ResultApplied      = "applied"
	ResultFailed       = "failed"
)

// Meter counts deliveries per integration; metrics.Metrics implements it.
type Meter interface {
	// Delivery counts one delivery with its result; integration is
	// "unknown" when the delivery named none of ours.
	Delivery(integration, result string)
	// Applied records the time from a delivery's arrival to its effect.
	Applied(integration string, lag time.Duration)
}

type noMeter struct{}

func (noMeter) Delivery(string, string)       {}
func (noMeter) Applied(string, time.Duration) {}

// UnknownIntegration is the integration label of a delivery for none of ours.
const UnknownIntegration = "unknown"

// Service receives and applies deliveries for all accounts.
type Service struct {
	store store.Store
	tasks *dispatch.Service
	clock clock.Clock
	log   zerolog.Logger
	meter Meter
	wake  chan struct{}

	// LeaseFor is how long a replica holds a delivery it applies.
	LeaseFor time.Duration
	// Recheck is how often stored deliveries are looked for without a
	// wake-up (another replica's, or one whose claim ran out).
	Recheck time.Duration
	// MaxTries is how often a delivery is tried before it is given up.
	MaxTries int
	// Workers is how many deliveries are applied at once.
	Workers int
	// Discovery, when set, refreshes recommendations and linked entities
	// after a repository is deleted by a delivery, as after a sync that
	// found it gone (other changes go through targeted refreshes, whose
	// runs it follows anyway).
	Discovery dispatch.SyncObserver
}

// New builds the service.
func New(s store.Store, t *dispatch.Service, clk clock.Clock, log zerolog.Logger) *Service {
	return &Service{store: s, tasks: t, clock: clk, log: log, meter: noMeter{}, wake: make(chan struct{}, 1),
		LeaseFor: time.Minute, Recheck: 5 * time.Second, MaxTries: 5, Workers: 4}
}

// Measure counts deliveries with m.
func (s *Service) Measure(m Meter) { s.meter = m }

// Count records a delivery the transport refused before Receive (too
// large, rate limited).
func (s *Service) Count(integration, result string) { s.meter.Delivery(integration, result) }

// Delivery is a request as it arrived.
type Delivery struct {
	IntegrationID string
	Event         string // X-Event-Key
	RequestUUID   string // X-Request-UUID
	Attempt       int    // X-Attempt-Number
	Signature     string // X-Hub-Signature
	Body          []byte
}

// Errors of Receive; the transport maps them to 401 and 400.
var (
	ErrUnauthorized = errors.New("delivery not signed by a known integration")
	ErrMalformed    = errors.New("malformed delivery")
)

// Receive authenticates a delivery and stores it to be applied. An
// unknown integration and a bad signature are the same ErrUnauthorized,
// and cost the same HMAC, so the answer tells nothing of which
// integrations exist. duplicate is true for a delivery stored before (a
// retry or a replay): nothing changes.
func (s *Service) Receive(ctx context.Context, d Delivery) (duplicate bool, err error) {
	rcv, ok, err := s.store.WebhookReceiverOf(ctx, d.IntegrationID)
	if err != nil {
		return false, err
	}
	label := d.IntegrationID
	if !ok {
		label = UnknownIntegration
	}
	if verr := webhook.Verify(rcv.Secret, d.Body, d.Signature); verr != nil || !ok {
		s.meter.Delivery(label, ResultUnauthorized)
		return false, ErrUnauthorized
	}
	if d.Event == "" || d.RequestUUID == "" || len(d.RequestUUID) > 64 || len(d.Event) > 64 {
		s.meter.Delivery(label, ResultMalformed)
		return false, fmt.Errorf("%w: X-Event-Key and X-Request-UUID (at most 64 characters) are required", ErrMalformed)
	}
	dup, err := s.store.AddDelivery(ctx, store.Delivery{IntegrationID: d.IntegrationID, AccountID: rcv.AccountID, RequestUUID: d.RequestUUID,
		Event: d.Event, Attempt: d.Attempt, Body: d.Body, ReceivedAt: s.clock.Now()})
	if err != nil {
		return false, err
	}
	if dup {
		s.meter.Delivery(label, ResultDuplicate)
		return true, nil
	}
	s.meter.Delivery(label, ResultAccepted)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return false, nil
}

// Keep is how long applied deliveries are kept: their X-Request-UUIDs
// dedupe retries and replays for that long, and the integration counts them.
const Keep = 7 * 24 * time.Hour

// pruneEvery is how often deliveries older than Keep are deleted.
const pruneEvery = time.Hour

// Run applies stored deliveries, and prunes old ones, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := s.clock.NewTicker(s.Recheck)
	defer t.Stop()
	prune := s.clock.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		for ctx.Err() == nil && s.Drain(ctx) > 0 {
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C():
		case <-prune.C():
			s.Prune(ctx)
		}
	}
}

// Prune deletes deliveries applied more than Keep ago.
func (s *Service) Prune(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := s.store.PruneDeliveries(ctx, s.clock.Now().Add(-Keep), 1000)
		if err != nil {
			s.log.Error().Err(err).Msg("old webhook deliveries could not be deleted; tried again later")
			return
		}
		if n < 1000 {
			return
		}
	}
}

// drainBatch is how many deliveries one claim takes.
const drainBatch = 50

// Drain applies one batch of stored deliveries and returns how many it
// took.
func (s *Service) Drain(ctx context.Context) int {
	claimed, err := s.store.ClaimDeliveries(ctx, s.clock.Now(), s.LeaseFor, drainBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error().Err(err).Msg("webhook deliveries could not be claimed")
		}
		return 0
	}
	// One batch reads each integration once.
	enabled := map[string]bool{}
	for _, d := range claimed {
		if _, seen := enabled[d.IntegrationID]; seen {
			continue
		}
		in, err := s.store.GetIntegration(ctx, d.AccountID, d.IntegrationID)
		if err != nil {
			s.log.Error().Err(err).Str("integration", d.IntegrationID).Msg("webhook deliveries not applied; retried later")
			return len(claimed)
		}
		enabled[d.IntegrationID] = in.State == integration.Enabled
	}
	// Deliveries apply side by side, each in its own transaction, but
	// those about one repository in arrival order on one worker: two
	// versions of a pull request not stored yet must not race to insert.
	workers := max(s.Workers, 1)
	lanes := make([][]store.Delivery, workers)
	for _, d := range claimed {
		h := fnv.New32a()
		h.Write([]byte(d.IntegrationID + " " + repositoryOf(d.Body)))
		i := int(h.Sum32() % uint32(workers))
		lanes[i] = append(lanes[i], d)
	}
	var wg sync.WaitGroup
	for _, lane := range lanes {
		wg.Go(func() {
			for _, d := range lane {
				s.finish(ctx, d, enabled[d.IntegrationID])
			}
		})
	}
	wg.Wait()
	return len(claimed)
}

// repositoryOf is the repository uuid a payload is about, "" when it has
// none (the delivery then fails in apply, whichever lane it takes).
func repositoryOf(body []byte) string {
	var p struct {
		Repository struct {
			UUID string `json:"uuid"`
		} `json:"repository"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Repository.UUID
}

// finish applies one claimed delivery (unless its integration is
// suspended) and records the outcome; a failure worth retrying leaves it
// queued until its claim runs out.
func (s *Service) finish(ctx context.Context, d store.Delivery, enabled bool) {
	outcome, err := "ignored: the integration is suspended", error(nil)
	if enabled {
		outcome, err = s.apply(ctx, d)
	}
	failed := err != nil
	if failed {
		if ctx.Err() != nil {
			return
		}
		outcome = err.Error()
		if d.Tries < s.MaxTries && fault.CodeOf(err) != fault.Invalid {
			s.log.Warn().Err(err).Str("integration", d.IntegrationID).Str("request", d.RequestUUID).Int("tries", d.Tries).
				Msg("webhook delivery not applied; retried later")
			return
		}
	}
	if err := s.store.FinishDelivery(ctx, d, outcome, failed, s.clock.Now()); err != nil {
		s.log.Error().Err(err).Str("request", d.RequestUUID).Msg("webhook delivery applied but not marked done; applied again later, to no effect")
		return
	}
	result := ResultApplied
	if failed {
		result = ResultFailed
	} else {
		s.meter.Applied(d.IntegrationID, s.clock.Now().Sub(d.ReceivedAt))
	}
	s.meter.Delivery(d.IntegrationID, result)
	s.log.Debug().Str("integration", d.IntegrationID).Str("event", d.Event).Str("request", d.RequestUUID).Str("outcome", outcome).
		Msg("webhook delivery " + result)
}

// apply carries out one delivery and says what it did.
func (s *Service) apply(ctx context.Context, d store.Delivery) (string, error) {
	a, err := webhook.Decide(d.Event, d.Body)
	if err != nil {
		return "", fault.New(fault.Invalid, "", "%v", err)
	}
	switch a.Kind {
	case webhook.Ignore:
		return "ignored: " + a.Reason, nil
	case webhook.Delete:
		deleted, err := s.store.MarkRepositoryDeleted(ctx, d.AccountID, d.IntegrationID, a.Repository.UUID, s.clock.Now())
		if err != nil || !deleted && d.Tries <= 1 {
			return "repository " + a.Repository.FullName + " not known; nothing to delete", err
		}
		// Discovery and linked entities follow as after a sync's deletions;
		// an error leaves the delivery to be applied again.
		done := "repository " + a.Repository.FullName + " marked deleted"
		if s.Discovery == nil {
			return done, nil
		}
		return done, s.Discovery.SyncFinished(ctx, tasks.SyncRun{AccountID: d.AccountID, IntegrationID: d.IntegrationID,
			Trigger: tasks.Webhook, Status: tasks.RunSuccess})
	case webhook.Refresh:
		return "targeted refresh of " + a.Repository.FullName, s.refresh(ctx, d, a.Repository.Slug)
	case webhook.ApplyPullRequest:
		pr := a.PullRequest
		if err := s.checked(record.Record{PullRequest: &pr}); err != nil {
			return "", err
		}
		res, err := s.store.ApplyHook(ctx, store.HookApply{AccountID: d.AccountID, IntegrationID: d.IntegrationID, RequestUUID: d.RequestUUID,
			PullRequest: &pr, Now: s.clock.Now()})
		switch {
		case err != nil:
			return "", err
		case res.Unknown:
			return "repository " + a.Repository.FullName + " not known yet: targeted refresh", s.refresh(ctx, d, a.Repository.Slug)
		case res.Stale:
			return fmt.Sprintf("pull request %d unchanged: the stored one is as new", pr.ID), nil
		}
		return fmt.Sprintf("pull request %d %s", pr.ID, pr.State), nil
	case webhook.ApplyPush:
		repo, err := s.store.GetRepository(ctx, d.IntegrationID, a.Repository.UUID)
		if fault.CodeOf(err) == fault.NotFound || err == nil && !repo.DeletedAt.IsZero() {
			return "repository " + a.Repository.FullName + " not known yet: targeted refresh", s.refresh(ctx, d, a.Repository.Slug)
		}
		if err != nil {
			return "", err
		}
		commits := a.MainCommits(repo.MainBranch)
		recs := make([]record.Record, len(commits))
		for i := range commits {
			recs[i] = record.Record{Commit: &commits[i]}
		}
		if err := s.checked(recs...); err != nil {
			return "", err
		}
		res, err := s.store.ApplyHook(ctx, store.HookApply{AccountID: d.AccountID, IntegrationID: d.IntegrationID, RequestUUID: d.RequestUUID,
			Commits: commits, Now: s.clock.Now()})
		if err != nil {
			return "", err
		}
		outcome := fmt.Sprintf("%d commits added", res.Commits)
		if a.RefreshNeeded(repo.MainBranch) {
			return outcome + "; the push is not fully described: targeted refresh", s.refresh(ctx, d, a.Repository.Slug)
		}
		return outcome, nil
	}
	return "", fmt.Errorf("unknown action %v", a.Kind)
}

// checked cleans and checks records from a payload as a delegate's batch
// is cleaned and checked: one set of rules for what is stored.
func (s *Service) checked(recs ...record.Record) error {
	ingest.Normalize(recs)
	return ingest.Validate(recs)
}

func (s *Service) refresh(ctx context.Context, d store.Delivery, slug string) error {
	_, _, err := s.tasks.QueueRefresh(ctx, store.TargetedRequest{AccountID: d.AccountID, IntegrationID: d.IntegrationID,
		Slugs: []string{slug}, Trigger: tasks.Webhook, Now: s.clock.Now()})
	if fault.CodeOf(err) == fault.FailedPrecondition {
		return nil // suspended meanwhile: the resume's sync catches up
	}
	return err
}
