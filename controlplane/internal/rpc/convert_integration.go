package rpc

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
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
	if s := p.GetSecondaryKinds(); s != nil {
		kinds := make([]integration.SecondaryKind, 0, len(s.GetKinds()))
		for _, k := range s.GetKinds() {
			kinds = append(kinds, lookup(secondaryKinds, k))
		}
		d.SecondaryKinds = &kinds
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

func integrationToProto(in integration.Integration, last *tasks.SyncRun) *integrationv1.Integration {
	out := &integrationv1.Integration{Id: in.ID, Name: in.Name, Connector: in.ConnectorID, Workspace: in.Workspace,
		Behavior: behaviorsOut[in.Behavior], Kind: in.Kind, Type: in.Type, UpdateFrequency: frequenciesOut[in.Frequency],
		StartDate: ts(in.StartDate), AutoImport: in.AutoImport, CreatedAt: ts(in.CreatedAt), UpdatedAt: ts(in.UpdatedAt),
		NextSyncAt: ts(in.NextSyncAt), Correlation: &integrationv1.CorrelationRules{}, FieldMappings: &integrationv1.FieldMappings{},
		SecondaryKinds:                       &integrationv1.SecondaryKinds{},
		PullRequestSweepWindow:               durationpb.New(in.Sweep.Window),
		PullRequestSweepWindowWithoutWebhook: durationpb.New(in.Sweep.WindowWithoutWebhook),
		FullListingInterval:                  durationpb.New(in.Sweep.FullListingInterval),
		WatermarkOverlap:                     durationpb.New(in.Sweep.Overlap)}
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
	return out
}

func runToProto(r tasks.SyncRun) *integrationv1.SyncRun {
	p := r.Progress
	return &integrationv1.SyncRun{Id: r.ID, IntegrationId: r.IntegrationID, Trigger: triggers[r.Trigger], Status: runStatuses[r.Status],
		QueuedAt: ts(r.QueuedAt), StartedAt: ts(r.StartedAt), FinishedAt: ts(r.FinishedAt), Phase: p.Phase,
		Repositories: p.Repositories, PullRequests: p.PullRequests, Commits: p.Commits, Requests: p.Requests,
		RateLimited: p.RateLimited, Error: r.Error, Attempt: int32(r.Attempt), RepositoriesDone: p.RepositoriesDone,
		RepositoriesTotal: p.RepositoriesTotal, Delegate: r.Delegate}
}
