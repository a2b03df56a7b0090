package rpc

import (
	"context"
	"slices"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
)

type integrationServer struct {
	integrationv1.UnimplementedIntegrationServiceServer
	s *Server
}

func (i *integrationServer) CreateIntegration(ctx context.Context, req *integrationv1.CreateIntegrationRequest) (*integrationv1.CreateIntegrationResponse, error) {
	in, run, err := i.s.Manage.CreateIntegration(ctx, managementCaller(ctx), draftFromProto(req.GetIntegration()))
	if err != nil {
		return nil, err
	}
	out := integrationToProto(in, &run, i.s.Manage.PublicURL())
	if err := nameConnectors(ctx, i.s.Manage, managementCaller(ctx), out); err != nil {
		return nil, err
	}
	return &integrationv1.CreateIntegrationResponse{Integration: out, FirstRun: out.LastRun}, nil
}

func (i *integrationServer) GetIntegration(ctx context.Context, req *integrationv1.GetIntegrationRequest) (*integrationv1.GetIntegrationResponse, error) {
	in, run, err := i.s.Manage.GetIntegration(ctx, managementCaller(ctx), req.GetIntegration())
	if err != nil {
		return nil, err
	}
	f, err := i.s.Manage.Freshness(ctx, in)
	if err != nil {
		return nil, err
	}
	out := integrationToProto(in, run, i.s.Manage.PublicURL())
	out.Freshness = freshnessToProto(f)
	stats, err := i.s.Manage.WebhookDeliveries(ctx, managementCaller(ctx), in.ID)
	if err != nil {
		return nil, err
	}
	out.Webhook = webhookToProto(in, i.s.Manage.PublicURL(), stats)
	return &integrationv1.GetIntegrationResponse{Integration: out}, nameConnectors(ctx, i.s.Manage, managementCaller(ctx), out)
}

func (i *integrationServer) ListIntegrations(ctx context.Context, req *integrationv1.ListIntegrationsRequest) (*integrationv1.ListIntegrationsResponse, error) {
	who := managementCaller(ctx)
	list, next, err := i.s.Manage.ListIntegrations(ctx, who, page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListIntegrationsResponse{NextPageToken: next}
	for _, in := range list {
		out.Integrations = append(out.Integrations, integrationToProto(in.Integration, in.LastRun, i.s.Manage.PublicURL()))
	}
	if out.Total, err = i.s.Manage.CountIntegrations(ctx, who); err != nil {
		return nil, err
	}
	return out, nameConnectors(ctx, i.s.Manage, who, out.Integrations...)
}

func (i *integrationServer) UpdateIntegration(ctx context.Context, req *integrationv1.UpdateIntegrationRequest) (*integrationv1.UpdateIntegrationResponse, error) {
	changes := req.GetChanges()
	if changes == nil {
		changes = &integrationv1.Integration{}
	}
	ch := integration.Changes{Mask: req.GetUpdateMask().GetPaths(), Draft: draftFromProto(changes)}
	who := managementCaller(ctx)
	if req.GetValidateOnly() {
		return i.previewUpdate(ctx, who, req.GetIntegration(), ch)
	}
	in, err := i.s.Manage.UpdateIntegration(ctx, who, req.GetIntegration(), ch)
	if err != nil {
		return nil, err
	}
	_, run, err := i.s.Manage.GetIntegration(ctx, who, in.ID)
	if err != nil {
		return nil, err
	}
	out := integrationToProto(in, run, i.s.Manage.PublicURL())
	return &integrationv1.UpdateIntegrationResponse{Integration: out}, nameConnectors(ctx, i.s.Manage, who, out)
}

// previewUpdate answers an update with validate_only: the integration as
// it would be and, when the change can alter the Discovered list, how.
func (i *integrationServer) previewUpdate(ctx context.Context, who integrationsvc.Caller, ref string, ch integration.Changes) (*integrationv1.UpdateIntegrationResponse, error) {
	before, after, changed, err := i.s.Manage.CheckUpdate(ctx, who, ref, ch)
	if err != nil {
		return nil, err
	}
	out, err := i.withRun(ctx, who, after)
	if err != nil {
		return nil, err
	}
	resp := &integrationv1.UpdateIntegrationResponse{Integration: out}
	if integration.ChangesDiscovered(changed) && i.s.Previewer != nil {
		p, err := i.s.Previewer.Preview(ctx, before, after)
		if err != nil {
			return nil, err
		}
		resp.Preview = previewToProto(p)
	}
	return resp, nil
}

func previewToProto(p discoverysvc.Preview) *integrationv1.DiscoveredPreview {
	out := &integrationv1.DiscoveredPreview{Repositories: int64(p.Repositories),
		RegisterToMerge: int64(p.Counts[discoverysvc.RegisterToMerge]), MergeToRegister: int64(p.Counts[discoverysvc.MergeToRegister]),
		MergeTargetChanged: int64(p.Counts[discoverysvc.MergeTargetChanged]), ToNone: int64(p.Counts[discoverysvc.ToNone]),
		FromNone: int64(p.Counts[discoverysvc.FromNone]), Leaving: int64(p.Leaving), Entering: int64(p.Entering),
		ImportedExcluded: int64(p.ImportedExcluded)}
	for _, e := range p.Examples {
		out.Examples = append(out.Examples, &integrationv1.RecommendationChange{Repository: e.Repository,
			FromAction: string(e.From), FromEntity: e.FromEntity, ToAction: string(e.To), ToEntity: e.ToEntity})
	}
	return out
}

func (i *integrationServer) withRun(ctx context.Context, who integrationsvc.Caller, in integration.Integration) (*integrationv1.Integration, error) {
	_, run, err := i.s.Manage.GetIntegration(ctx, who, in.ID)
	if err != nil {
		return nil, err
	}
	out := integrationToProto(in, run, i.s.Manage.PublicURL())
	return out, nameConnectors(ctx, i.s.Manage, who, out)
}

// nameConnectors fills connector_name, which users read where connector
// holds only an id: one statement for a page of any size.
func nameConnectors(ctx context.Context, m *integrationsvc.Service, who integrationsvc.Caller, ins ...*integrationv1.Integration) error {
	var ids []string
	for _, in := range ins {
		if !slices.Contains(ids, in.GetConnector()) {
			ids = append(ids, in.GetConnector())
		}
	}
	names, err := m.ConnectorNames(ctx, who, ids)
	for _, in := range ins {
		in.ConnectorName = names[in.GetConnector()]
	}
	return err
}

func (i *integrationServer) SuspendIntegration(ctx context.Context, req *integrationv1.SuspendIntegrationRequest) (*integrationv1.SuspendIntegrationResponse, error) {
	who := managementCaller(ctx)
	in, err := i.s.Manage.SuspendIntegration(ctx, who, req.GetIntegration())
	if err != nil {
		return nil, err
	}
	out, err := i.withRun(ctx, who, in)
	return &integrationv1.SuspendIntegrationResponse{Integration: out}, err
}

func (i *integrationServer) ResumeIntegration(ctx context.Context, req *integrationv1.ResumeIntegrationRequest) (*integrationv1.ResumeIntegrationResponse, error) {
	who := managementCaller(ctx)
	in, err := i.s.Manage.ResumeIntegration(ctx, who, req.GetIntegration())
	if err != nil {
		return nil, err
	}
	out, err := i.withRun(ctx, who, in)
	return &integrationv1.ResumeIntegrationResponse{Integration: out}, err
}

func (i *integrationServer) SyncIntegration(ctx context.Context, req *integrationv1.SyncIntegrationRequest) (*integrationv1.SyncIntegrationResponse, error) {
	run, joined, err := i.s.Manage.SyncNow(ctx, managementCaller(ctx), req.GetIntegration(), req.GetRepositories())
	if err != nil {
		return nil, err
	}
	return &integrationv1.SyncIntegrationResponse{Run: runToProto(run), Joined: joined}, nil
}

func (i *integrationServer) GetSyncRun(ctx context.Context, req *integrationv1.GetSyncRunRequest) (*integrationv1.GetSyncRunResponse, error) {
	run, err := i.s.Manage.GetSyncRun(ctx, managementCaller(ctx), req.GetId())
	if err != nil {
		return nil, err
	}
	return &integrationv1.GetSyncRunResponse{Run: runToProto(run)}, nil
}

func (i *integrationServer) ListSyncRuns(ctx context.Context, req *integrationv1.ListSyncRunsRequest) (*integrationv1.ListSyncRunsResponse, error) {
	runs, next, err := i.s.Manage.ListSyncRuns(ctx, managementCaller(ctx), req.GetIntegration(),
		page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListSyncRunsResponse{NextPageToken: next}
	for _, r := range runs {
		out.Runs = append(out.Runs, runToProto(r))
	}
	out.Total, err = i.s.Manage.CountSyncRuns(ctx, managementCaller(ctx), req.GetIntegration())
	return out, err
}

func (i *integrationServer) ListEvents(ctx context.Context, req *integrationv1.ListEventsRequest) (*integrationv1.ListEventsResponse, error) {
	events, next, err := i.s.Manage.ListEvents(ctx, managementCaller(ctx), req.GetIntegration(),
		page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListEventsResponse{NextPageToken: next}
	for _, e := range events {
		out.Events = append(out.Events, &integrationv1.Event{Id: e.ID, Time: ts(e.Time), Type: eventTypes[e.Type], Message: e.Message,
			Actor: e.Actor, RunId: e.RunID, Repository: e.Repository, Error: e.Error})
	}
	return out, nil
}
