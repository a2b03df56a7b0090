package integrationsvc

import (
	"time"

	"context"
	"slices"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// CreateIntegration is "confirm and enable": it validates the draft,
// stores the integration enabled and queues its first sync, atomically.
func (s *Service) CreateIntegration(ctx context.Context, who Caller, d integration.Draft) (integration.Integration, tasks.SyncRun, error) {
	if d.Connector == "" {
		return integration.Integration{}, tasks.SyncRun{}, fault.InvalidField("integration.connector", "required: the id or name of a Bitbucket Cloud connector")
	}
	conn, err := s.store.GetConnector(ctx, who.AccountID, d.Connector)
	if err != nil {
		return integration.Integration{}, tasks.SyncRun{}, err
	}
	now := s.clock.Now().UTC()
	in, err := integration.New(d, conn, now)
	if err != nil {
		return in, tasks.SyncRun{}, err
	}
	in.ID = ids.New("int")
	run, err := s.store.CreateIntegration(ctx, in, store.SyncRequest{AccountID: who.AccountID, Trigger: tasks.Created, Actor: who.Actor, Now: now})
	if err != nil {
		return in, run, err
	}
	s.log.Info().Str("account", who.AccountID).Str("integration", in.ID).Str("workspace", in.Workspace).Str("run", run.ID).
		Str("task", run.TaskID).Msg("integration created; task queued: first sync")
	s.tasks.Queued(who.AccountID)
	return in, run, nil
}

// GetIntegration returns an integration and its last run, if any.
func (s *Service) GetIntegration(ctx context.Context, who Caller, ref string) (integration.Integration, *tasks.SyncRun, error) {
	in, err := s.store.GetIntegration(ctx, who.AccountID, ref)
	if err != nil {
		return in, nil, err
	}
	run, ok, err := s.store.LastSyncRun(ctx, who.AccountID, in.ID)
	if err != nil || !ok {
		return in, nil, err
	}
	return in, &run, nil
}

// Freshness says how recently an integration's data was confirmed: its
// webhook state, the sweep window in force and the store's counts.
type Freshness struct {
	Webhook bool
	Window  time.Duration
	store.Freshness
}

// Freshness reports an integration's freshness now.
func (s *Service) Freshness(ctx context.Context, in integration.Integration) (Freshness, error) {
	webhook := in.Webhook.Working(s.PublicURL())
	cutoff := in.Sweep.OverdueBefore(webhook, in.Frequency.Duration(), s.clock.Now().UTC())
	f, err := s.store.Freshness(ctx, in.ID, cutoff)
	return Freshness{Webhook: webhook, Window: in.Sweep.WindowFor(webhook), Freshness: f}, err
}

// ListIntegrations pages through integrations by name, each with its last
// run, in one query per page.
func (s *Service) ListIntegrations(ctx context.Context, who Caller, p store.Page) ([]store.IntegrationWithRun, string, error) {
	return s.store.ListIntegrations(ctx, who.AccountID, p)
}

// CountIntegrations counts the caller's integrations.
func (s *Service) CountIntegrations(ctx context.Context, who Caller) (int64, error) {
	return s.store.CountIntegrations(ctx, who.AccountID)
}

// CountSyncRuns counts an integration's sync runs.
func (s *Service) CountSyncRuns(ctx context.Context, who Caller, ref string) (int64, error) {
	in, err := s.store.GetIntegration(ctx, who.AccountID, ref)
	if err != nil {
		return 0, err
	}
	return s.store.CountSyncRuns(ctx, who.AccountID, in.ID)
}

// UpdateIntegration applies the masked fields of changes.
func (s *Service) UpdateIntegration(ctx context.Context, who Caller, ref string, ch integration.Changes) (integration.Integration, error) {
	conn, err := s.changedConnector(ctx, who, ch)
	if err != nil {
		return integration.Integration{}, err
	}
	now := s.clock.Now().UTC()
	in, err := s.store.UpdateIntegration(ctx, who.AccountID, ref, store.IntegrationChange{Actor: who.Actor, Now: now,
		Apply: func(in *integration.Integration) ([]string, error) { return integration.Apply(in, ch, conn, now) }})
	if err == nil {
		s.log.Info().Str("account", who.AccountID).Str("integration", in.ID).Strs("fields", ch.Mask).Msg("integration updated")
	}
	return in, err
}

// changedConnector resolves the connector a change names, if it does.
func (s *Service) changedConnector(ctx context.Context, who Caller, ch integration.Changes) (*integration.Connector, error) {
	if !slices.Contains(ch.Mask, integration.FieldConnector) {
		return nil, nil
	}
	if ch.Draft.Connector == "" {
		return nil, fault.InvalidField("integration.connector", "required: the id or name of a Bitbucket Cloud connector")
	}
	c, err := s.store.GetConnector(ctx, who.AccountID, ch.Draft.Connector)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// CheckUpdate checks a change with the rules UpdateIntegration applies,
// without storing anything: it returns the integration as it is, as it
// would be, and the fields that would change.
func (s *Service) CheckUpdate(ctx context.Context, who Caller, ref string, ch integration.Changes) (before, after integration.Integration, changed []string, err error) {
	conn, err := s.changedConnector(ctx, who, ch)
	if err != nil {
		return before, after, nil, err
	}
	if before, err = s.store.GetIntegration(ctx, who.AccountID, ref); err != nil {
		return before, after, nil, err
	}
	after = before
	after.Correlation = slices.Clone(before.Correlation)
	after.Fields = slices.Clone(before.Fields)
	changed, err = integration.Apply(&after, ch, conn, s.clock.Now().UTC())
	return before, after, changed, err
}

// SuspendIntegration stops syncing: a queued sync is cancelled, a running
// one is asked to stop, nothing is scheduled.
func (s *Service) SuspendIntegration(ctx context.Context, who Caller, ref string) (integration.Integration, error) {
	sc, err := s.store.SuspendIntegration(ctx, who.AccountID, ref, who.Actor, s.clock.Now().UTC())
	if err != nil {
		return sc.Integration, err
	}
	if sc.Changed {
		s.log.Info().Str("account", who.AccountID).Str("integration", sc.Integration.ID).Msg("integration suspended")
		s.tasks.Queued(who.AccountID) // the task deactivating its webhook, if it has one
	}
	for _, run := range sc.Ended {
		s.tasks.RunEnded(ctx, run)
	}
	return sc.Integration, nil
}

// ResumeIntegration restarts the schedule and queues a sync at once.
func (s *Service) ResumeIntegration(ctx context.Context, who Caller, ref string) (integration.Integration, error) {
	sc, err := s.store.ResumeIntegration(ctx, who.AccountID, ref, who.Actor, s.clock.Now().UTC())
	if err != nil {
		return sc.Integration, err
	}
	if sc.Queued != nil {
		s.log.Info().Str("account", who.AccountID).Str("integration", sc.Integration.ID).Str("run", sc.Queued.ID).
			Msg("integration resumed; task queued: sync")
		s.tasks.Queued(who.AccountID)
	}
	return sc.Integration, nil
}

// SyncNow queues a sync, or returns the active one (joined). With
// repositories (slugs) it queues a targeted refresh of those only, or
// adds them to the one not yet taken by a delegate (joined).
func (s *Service) SyncNow(ctx context.Context, who Caller, ref string, repositories []string) (tasks.SyncRun, bool, error) {
	now := s.clock.Now().UTC()
	if len(repositories) > 0 {
		in, err := s.store.GetIntegration(ctx, who.AccountID, ref)
		if err != nil {
			return tasks.SyncRun{}, false, err
		}
		return s.tasks.QueueRefresh(ctx, store.TargetedRequest{AccountID: who.AccountID, IntegrationID: in.ID, Slugs: repositories,
			Trigger: tasks.Manual, Now: now})
	}
	run, joined, err := s.store.QueueSync(ctx, store.SyncRequest{AccountID: who.AccountID, IntegrationID: ref, Trigger: tasks.Manual,
		Actor: who.Actor, Now: now})
	if err != nil {
		return run, joined, err
	}
	if !joined {
		s.log.Info().Str("account", who.AccountID).Str("integration", run.IntegrationID).Str("run", run.ID).Msg("task queued: manual sync")
		s.tasks.Queued(who.AccountID)
	}
	return run, joined, nil
}

// PublicURL is the control plane's address as Bitbucket reaches it; ""
// when webhooks are off.
func (s *Service) PublicURL() string { return s.tasks.Config().PublicURL }

// WebhookDeliveries counts the webhook deliveries accepted for an integration.
func (s *Service) WebhookDeliveries(ctx context.Context, who Caller, integrationID string) (store.DeliveryStats, error) {
	all, err := s.store.WebhookDeliveryStats(ctx, who.AccountID)
	return all[integrationID], err
}

// GetSyncRun returns a run.
func (s *Service) GetSyncRun(ctx context.Context, who Caller, id string) (tasks.SyncRun, error) {
	return s.store.GetSyncRun(ctx, who.AccountID, id)
}

// ListSyncRuns pages through an integration's runs, newest first.
func (s *Service) ListSyncRuns(ctx context.Context, who Caller, ref string, p store.Page) ([]tasks.SyncRun, string, error) {
	in, err := s.store.GetIntegration(ctx, who.AccountID, ref)
	if err != nil {
		return nil, "", err
	}
	return s.store.ListSyncRuns(ctx, who.AccountID, in.ID, p)
}

// ListEvents pages through an integration's event log, newest first.
func (s *Service) ListEvents(ctx context.Context, who Caller, ref string, p store.Page) ([]store.Event, string, error) {
	in, err := s.store.GetIntegration(ctx, who.AccountID, ref)
	if err != nil {
		return nil, "", err
	}
	return s.store.ListEvents(ctx, who.AccountID, in.ID, p)
}
