package rpc

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

var behaviors = map[integrationv1.Behavior]integration.Behavior{
	integrationv1.Behavior_BEHAVIOR_UNSPECIFIED:        "",
	integrationv1.Behavior_BEHAVIOR_REGISTER_AND_MERGE: integration.RegisterAndMerge,
	integrationv1.Behavior_BEHAVIOR_REGISTER:           integration.Register,
	integrationv1.Behavior_BEHAVIOR_MERGE:              integration.Merge,
}

var operators = map[integrationv1.Operator]integration.Operator{
	integrationv1.Operator_OPERATOR_UNSPECIFIED: "",
	integrationv1.Operator_OPERATOR_EQUALS:      integration.Equals,
	integrationv1.Operator_OPERATOR_CONTAINS:    integration.Contains,
}

var secondaryKinds = map[integrationv1.SecondaryKind]integration.SecondaryKind{
	integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS: integration.PullRequests,
	integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS:       integration.Commits,
}

var frequencies = map[integrationv1.UpdateFrequency]integration.Frequency{
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_UNSPECIFIED: "",
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_30_MINUTES:  integration.Every30Minutes,
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_HOUR:      integration.EveryHour,
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_3_HOURS:     integration.Every3Hours,
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_6_HOURS:     integration.Every6Hours,
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_12_HOURS:    integration.Every12Hours,
	integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_DAY:       integration.EveryDay,
}

var runStatuses = map[tasks.RunStatus]integrationv1.SyncStatus{
	tasks.RunQueued:    integrationv1.SyncStatus_SYNC_STATUS_QUEUED,
	tasks.RunRunning:   integrationv1.SyncStatus_SYNC_STATUS_RUNNING,
	tasks.RunSuccess:   integrationv1.SyncStatus_SYNC_STATUS_SUCCESS,
	tasks.RunPartial:   integrationv1.SyncStatus_SYNC_STATUS_PARTIAL,
	tasks.RunFailed:    integrationv1.SyncStatus_SYNC_STATUS_FAILED,
	tasks.RunCancelled: integrationv1.SyncStatus_SYNC_STATUS_CANCELLED,
}

var triggers = map[tasks.Trigger]integrationv1.SyncTrigger{
	tasks.Scheduled: integrationv1.SyncTrigger_SYNC_TRIGGER_SCHEDULED,
	tasks.Manual:    integrationv1.SyncTrigger_SYNC_TRIGGER_MANUAL,
	tasks.Created:   integrationv1.SyncTrigger_SYNC_TRIGGER_CREATED,
	tasks.Resumed:   integrationv1.SyncTrigger_SYNC_TRIGGER_RESUMED,
	tasks.Webhook:   integrationv1.SyncTrigger_SYNC_TRIGGER_WEBHOOK,
}

var eventTypes = map[store.EventType]integrationv1.EventType{
	store.EventSync:              integrationv1.EventType_EVENT_TYPE_SYNC,
	store.EventConfigChanged:     integrationv1.EventType_EVENT_TYPE_CONFIG_CHANGED,
	store.EventSuspended:         integrationv1.EventType_EVENT_TYPE_SUSPENDED,
	store.EventResumed:           integrationv1.EventType_EVENT_TYPE_RESUMED,
	store.EventImported:          integrationv1.EventType_EVENT_TYPE_IMPORTED,
	store.EventAutoImported:      integrationv1.EventType_EVENT_TYPE_AUTO_IMPORTED,
	store.EventUnlinked:          integrationv1.EventType_EVENT_TYPE_UNLINKED,
	store.EventImportFailed:      integrationv1.EventType_EVENT_TYPE_IMPORT_FAILED,
	store.EventRepositoryDeleted: integrationv1.EventType_EVENT_TYPE_REPOSITORY_DELETED,
	store.EventFollowUpFailed:    integrationv1.EventType_EVENT_TYPE_FOLLOW_UP_FAILED,
	store.EventWebhook:           integrationv1.EventType_EVENT_TYPE_WEBHOOK,
}

// lookup maps a wire enum; a value this build does not know becomes a
// string the domain validation rejects, naming the value.
func lookup[E ~int32, D ~string](m map[E]D, v E) D {
	if d, ok := m[v]; ok {
		return d
	}
	return D(fmt.Sprintf("UNKNOWN(%d)", int32(v)))
}

func reverse[K comparable, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		if _, dup := out[v]; !dup {
			out[v] = k
		}
	}
	return out
}

var (
	behaviorsOut      = reverse(behaviors)
	operatorsOut      = reverse(operators)
	secondaryKindsOut = reverse(secondaryKinds)
	frequenciesOut    = reverse(frequencies)
)

// draftFromProto reads the user-settable fields of an integration.
func draftFromProto(p *integrationv1.Integration) integration.Draft {
	d := integration.Draft{Name: p.GetName(), Connector: p.GetConnector(), Workspace: p.GetWorkspace(),
		Behavior: lookup(behaviors, p.GetBehavior()), Kind: p.GetKind(), Type: p.GetType(),
		Frequency: lookup(frequencies, p.GetUpdateFrequency()), StartDate: fromTS(p.GetStartDate()), AutoImport: p.GetAutoImport()}
	if c := p.GetCorrelation(); c != nil {
		rules := make([]integration.CorrelationRule, 0, len(c.GetRules()))
		for _, r := range c.GetRules() {
			rules = append(rules, integration.CorrelationRule{IngestedPath: r.GetIngestedPath(), CatalogPath: r.GetCatalogPath(),
				Operator: lookup(operators, r.GetOperator())})
		}
		d.Correlation = &rules
	}
	if f := p.GetFieldMappings(); f != nil {
		fields := make([]integration.FieldMapping, 0, len(f.GetMappings()))
		for _, m := range f.GetMappings() {
			fields = append(fields, integration.FieldMapping{Name: m.GetName(), Path: m.GetPath()})
		}
		d.Fields = &fields
	}
	if m := p.GetOwnerMapping(); m != nil {
		rules := make([]owners.Rule, 0, len(m.GetRules()))
		for _, r := range m.GetRules() {
			rules = append(rules, owners.Rule{From: r.GetFrom(), To: r.GetTo()})
		}
		d.OwnerMapping = &rules
	}
	if s := p.GetSecondaryKinds(); s != nil {
		kinds := make([]integration.SecondaryKind, 0, len(s.GetKinds()))
		for _, k := range s.GetKinds() {
			kinds = append(kinds, lookup(secondaryKinds, k))
		}
		d.SecondaryKinds = &kinds
	}
	if f := p.GetFilter(); f != nil {
		d.Filter = repofilter.Filter{IncludeProjects: f.GetIncludeProjects(), ExcludeProjects: f.GetExcludeProjects(),
			IncludeNames: f.GetIncludeNames(), ExcludeNames: f.GetExcludeNames(), Visibility: lookup(visibilities, f.GetVisibility()),
			Forks: lookup(forkPolicies, f.GetForks()), UpdatedSince: fromTS(f.GetUpdatedSince())}
	}
	d.Sweep = integration.SweepDraft{Window: fromDuration(p.GetPullRequestSweepWindow()),
		WindowWithoutWebhook: fromDuration(p.GetPullRequestSweepWindowWithoutWebhook()),
		FullListingInterval:  fromDuration(p.GetFullListingInterval()), Overlap: fromDuration(p.GetWatermarkOverlap())}
	return d
}

func freshnessToProto(f integrationsvc.Freshness) *integrationv1.Freshness {
	return &integrationv1.Freshness{Webhook: f.Webhook, PullRequestWindow: durationpb.New(f.Window), Repositories: f.Repositories,
		PullRequestsOldestConfirmedAt: ts(f.OldestConfirmed), PullRequestsOverdue: f.Overdue,
		LastFullListingAt: ts(f.LastFullListing), ListedAsOf: ts(f.ListedAsOf)}
}

// fromDuration reads an optional duration: nil when not given.
func fromDuration(d *durationpb.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.AsDuration()
	return &v
}

var (
	visibilities = map[integrationv1.RepositoryVisibility]repofilter.Visibility{
		integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_UNSPECIFIED: repofilter.AnyVisibility,
		integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_PRIVATE:     repofilter.PrivateOnly,
		integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_PUBLIC:      repofilter.PublicOnly,
	}
	visibilitiesOut = reverse(visibilities)
	forkPolicies    = map[integrationv1.ForkPolicy]repofilter.Forks{
		integrationv1.ForkPolicy_FORK_POLICY_UNSPECIFIED: repofilter.IncludeForks,
		integrationv1.ForkPolicy_FORK_POLICY_INCLUDE:     repofilter.IncludeForks,
		integrationv1.ForkPolicy_FORK_POLICY_EXCLUDE:     repofilter.ExcludeForks,
		integrationv1.ForkPolicy_FORK_POLICY_ONLY:        repofilter.OnlyForks,
	}
	// The default is sent as unspecified, as the other enums' are.
	forkPoliciesOut = map[repofilter.Forks]integrationv1.ForkPolicy{
		repofilter.ExcludeForks: integrationv1.ForkPolicy_FORK_POLICY_EXCLUDE,
		repofilter.OnlyForks:    integrationv1.ForkPolicy_FORK_POLICY_ONLY,
	}
)

// filterToProto is the filter on the wire; nil keeps every repository.
func filterToProto(f repofilter.Filter) *integrationv1.RepositoryFilter {
	if f.IsZero() {
		return nil
	}
	return &integrationv1.RepositoryFilter{IncludeProjects: f.IncludeProjects, ExcludeProjects: f.ExcludeProjects,
		IncludeNames: f.IncludeNames, ExcludeNames: f.ExcludeNames, Visibility: visibilitiesOut[f.Visibility],
		Forks: forkPoliciesOut[f.Forks], UpdatedSince: ts(f.UpdatedSince)}
}

// webhookStatesOut maps webhook states to the wire.
var webhookStatesOut = map[webhook.State]integrationv1.IntegrationWebhookState{
	webhook.NotConfigured: integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_NOT_CONFIGURED,
	webhook.Pending:       integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_PENDING,
	webhook.Active:        integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_ACTIVE,
	webhook.Inactive:      integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_INACTIVE,
	webhook.MissingScope:  integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_MISSING_SCOPE,
	webhook.NotOwner:      integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_NOT_OWNER,
	webhook.Failed:        integrationv1.IntegrationWebhookState_INTEGRATION_WEBHOOK_STATE_FAILED,
}

// webhookToProto shows an integration's hook under the control plane's
// public address publicURL.
func webhookToProto(in integration.Integration, publicURL string, stats store.DeliveryStats) *integrationv1.IntegrationWebhook {
	state := in.Webhook.Effective(publicURL)
	return &integrationv1.IntegrationWebhook{Url: webhook.URL(publicURL, in.ID), State: webhookStatesOut[state],
		Message: in.Webhook.Message, Hint: webhook.Hint(state), CheckedAt: ts(in.Webhook.CheckedAt),
		Deliveries: stats.Count, LastDeliveryAt: ts(stats.Last)}
}

func integrationToProto(in integration.Integration, last *tasks.SyncRun, publicURL string) *integrationv1.Integration {
	out := &integrationv1.Integration{Id: in.ID, Name: in.Name, Connector: in.ConnectorID, Workspace: in.Workspace,
		Behavior: behaviorsOut[in.Behavior], Kind: in.Kind, Type: in.Type, UpdateFrequency: frequenciesOut[in.Frequency],
		StartDate: ts(in.StartDate), AutoImport: in.AutoImport, CreatedAt: ts(in.CreatedAt), UpdatedAt: ts(in.UpdatedAt),
		NextSyncAt: ts(in.NextSyncAt), Correlation: &integrationv1.CorrelationRules{}, FieldMappings: &integrationv1.FieldMappings{},
		SecondaryKinds: &integrationv1.SecondaryKinds{}, OwnerMapping: &integrationv1.OwnerMapping{}, Filter: filterToProto(in.Filter),
		PullRequestSweepWindow:               durationpb.New(in.Sweep.Window),
		PullRequestSweepWindowWithoutWebhook: durationpb.New(in.Sweep.WindowWithoutWebhook),
		FullListingInterval:                  durationpb.New(in.Sweep.FullListingInterval),
		WatermarkOverlap:                     durationpb.New(in.Sweep.Overlap)}
	for _, r := range in.OwnerMapping {
		out.OwnerMapping.Rules = append(out.OwnerMapping.Rules, &integrationv1.OwnerMappingRule{From: r.From, To: r.To})
	}
	out.State = integrationv1.IntegrationState_INTEGRATION_STATE_ENABLED
	if in.State == integration.Suspended {
		out.State = integrationv1.IntegrationState_INTEGRATION_STATE_SUSPENDED
	}
	for _, r := range in.Correlation {
		out.Correlation.Rules = append(out.Correlation.Rules, &integrationv1.CorrelationRule{IngestedPath: r.IngestedPath,
			CatalogPath: r.CatalogPath, Operator: operatorsOut[r.Operator]})
	}
	for _, f := range in.Fields {
		out.FieldMappings.Mappings = append(out.FieldMappings.Mappings, &integrationv1.FieldMapping{Name: f.Name, Path: f.Path})
	}
	for _, k := range in.SecondaryKinds {
		out.SecondaryKinds.Kinds = append(out.SecondaryKinds.Kinds, secondaryKindsOut[k])
	}
	if last != nil {
		out.LastRun = runToProto(*last)
	}
	out.Webhook = webhookToProto(in, publicURL, store.DeliveryStats{})
	return out
}

func runToProto(r tasks.SyncRun) *integrationv1.SyncRun {
	p := r.Progress
	return &integrationv1.SyncRun{Id: r.ID, IntegrationId: r.IntegrationID, Trigger: triggers[r.Trigger], Status: runStatuses[r.Status],
		QueuedAt: ts(r.QueuedAt), StartedAt: ts(r.StartedAt), FinishedAt: ts(r.FinishedAt), Phase: p.Phase,
		Repositories: p.Repositories, PullRequests: p.PullRequests, Commits: p.Commits, Requests: p.Requests,
		RateLimited: p.RateLimited, Error: r.Error, Attempt: int32(r.Attempt), RepositoriesDone: p.RepositoriesDone,
		RepositoriesTotal: p.RepositoriesTotal, Delegate: r.Delegate, CodeOwnersRequests: p.CodeOwnersRequests,
		TargetedRepositories: r.Targeted, Tokens: runTokensToProto(p.Tokens)}
}

func runTokensToProto(in []tasks.TokenUsage) []*integrationv1.SyncRunToken {
	var out []*integrationv1.SyncRunToken
	for _, u := range in {
		out = append(out, &integrationv1.SyncRunToken{TokenRef: u.Ref, Rejected: u.Rejected, Message: u.Message,
			LimitPerHour: u.LimitPerHour, Requests: u.Requests, RateLimited: u.RateLimited})
	}
	return out
}
