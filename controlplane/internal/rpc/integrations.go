package rpc

import (
	"context"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

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
	out := integrationToProto(in, &run)
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
	out := integrationToProto(in, run)
	out.Freshness = freshnessToProto(f)
	return &integrationv1.GetIntegrationResponse{Integration: out}, nil
}

func (i *integrationServer) ListIntegrations(ctx context.Context, req *integrationv1.ListIntegrationsRequest) (*integrationv1.ListIntegrationsResponse, error) {
	who := managementCaller(ctx)
	list, next, err := i.s.Manage.ListIntegrations(ctx, who, page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListIntegrationsResponse{NextPageToken: next}
	for _, in := range list {
		out.Integrations = append(out.Integrations, integrationToProto(in.Integration, in.LastRun))
	}
	return out, nil
}

func (i *integrationServer) UpdateIntegration(ctx context.Context, req *integrationv1.UpdateIntegrationRequest) (*integrationv1.UpdateIntegrationResponse, error) {
	changes := req.GetChanges()
	if changes == nil {
		changes = &integrationv1.Integration{}
	}
	ch := integration.Changes{Mask: req.GetUpdateMask().GetPaths(), Draft: draftFromProto(changes)}
	who := managementCaller(ctx)
	in, err := i.s.Manage.UpdateIntegration(ctx, who, req.GetIntegration(), ch)
	if err != nil {
		return nil, err
	}
	_, run, err := i.s.Manage.GetIntegration(ctx, who, in.ID)
	if err != nil {
		return nil, err
	}
	return &integrationv1.UpdateIntegrationResponse{Integration: integrationToProto(in, run)}, nil
}

func (i *integrationServer) withRun(ctx context.Context, who integrationsvc.Caller, in integration.Integration) (*integrationv1.Integration, error) {
	_, run, err := i.s.Manage.GetIntegration(ctx, who, in.ID)
	if err != nil {
		return nil, err
	}
	return integrationToProto(in, run), nil
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
	run, joined, err := i.s.Manage.SyncNow(ctx, managementCaller(ctx), req.GetIntegration())
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
	return out, nil
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
