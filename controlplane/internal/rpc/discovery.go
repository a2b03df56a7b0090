package rpc

import (
	"context"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/discoverysvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// NewDiscoveryServer serves DiscoveryService with the discovery service;
// manage supplies the last run shown with an integration.
func NewDiscoveryServer(d *discoverysvc.Service, m *integrationsvc.Service) integrationv1.DiscoveryServiceServer {
	return &discoveryServer{d: d, m: m}
}

type discoveryServer struct {
	integrationv1.UnimplementedDiscoveryServiceServer
	d *discoverysvc.Service
	m *integrationsvc.Service
}

var importActions = map[integrationv1.ImportAction]catalog.Action{
	integrationv1.ImportAction_IMPORT_ACTION_REGISTER: catalog.ActionRegister,
	integrationv1.ImportAction_IMPORT_ACTION_MERGE:    catalog.ActionMerge,
}

var importActionsOut = reverse(importActions)

func (s *discoveryServer) ListDiscovered(ctx context.Context, req *integrationv1.ListDiscoveredRequest) (*integrationv1.ListDiscoveredResponse, error) {
	who := managementCaller(ctx)
	f := store.DiscoveredFilter{Search: req.GetSearch(), Action: importActions[req.GetRecommendedAction()], UnlinkedOnly: req.GetUnlinkedOnly()}
	switch {
	case req.GetIgnored() && req.GetExcluded():
		return nil, fault.InvalidField("excluded", "the Ignored and Excluded views are two lists; ask for one")
	case req.GetIgnored():
		f.View = store.ViewIgnored
	case req.GetExcluded():
		f.View = store.ViewExcluded
	}
	_, rows, next, total, err := s.d.ListDiscovered(ctx, who.AccountID, req.GetIntegration(), f, page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListDiscoveredResponse{NextPageToken: next, Total: total}
	for _, r := range rows {
		d := &integrationv1.DiscoveredRepository{RepositoryUuid: r.UUID, Name: r.Name, Slug: r.Slug, FullName: r.FullName,
			ProjectKey: r.ProjectKey, RecommendedAction: importActionsOut[r.Action], Kind: r.Kind, Type: r.Type,
			DetectedAt: ts(r.FirstSeenAt), Unlinked: r.Unlinked, Deleted: !r.DeletedAt.IsZero(), UpdatedOn: ts(r.UpdatedOn),
			RecommendationNote: r.Note, IgnoredAt: ts(r.IgnoredAt), IgnoredBy: r.IgnoredBy, ExcludedReason: r.ExcludedReason}
		if r.Suggested != nil {
			d.SuggestedEntity = entityRef(*r.Suggested)
		}
		if o := r.Owner; o != nil {
			d.Owner = &integrationv1.OwnerSuggestion{Owner: o.Owner, From: o.From, Path: o.Finding.Path, CodeOwners: o.Finding.Owners,
				Note: o.Note, CheckedAt: ts(o.Finding.CheckedAt)}
		}
		for _, m := range r.Matches {
			d.Candidates = append(d.Candidates, &integrationv1.MatchCandidate{Entity: entityRef(m.Entity), Exact: m.Exact, MatchedValue: m.MatchedValue})
		}
		out.Repositories = append(out.Repositories, d)
	}
	return out, nil
}

func (s *discoveryServer) ImportRepositories(ctx context.Context, req *integrationv1.ImportRepositoriesRequest) (*integrationv1.ImportRepositoriesResponse, error) {
	who := managementCaller(ctx)
	items := make([]discoverysvc.Item, len(req.GetItems()))
	for i, it := range req.GetItems() {
		items[i] = discoverysvc.Item{Repository: it.GetRepository(), Action: importActions[it.GetAction()], Type: it.GetType(), Target: it.GetTargetEntity(),
			SeenAction: importActions[it.GetSeenAction()], SeenTarget: it.GetSeenTargetEntity(), Owner: it.GetOwner()}
	}
	res, err := s.d.Import(ctx, who.AccountID, who.Actor, req.GetIntegration(), items, req.GetAll())
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ImportRepositoriesResponse{}
	for _, r := range res {
		ir := &integrationv1.ImportResult{Repository: r.Repository, Ok: r.OK, Action: importActionsOut[r.Action], Reason: r.Reason, Message: r.Message,
			Notice: r.Notice}
		if r.OK {
			ir.Entity = entityRef(r.Entity)
		}
		out.Results = append(out.Results, ir)
	}
	return out, nil
}

func (s *discoveryServer) SetAutoImport(ctx context.Context, req *integrationv1.SetAutoImportRequest) (*integrationv1.SetAutoImportResponse, error) {
	who := managementCaller(ctx)
	in, err := s.d.SetAutoImport(ctx, who.AccountID, who.Actor, req.GetIntegration(), req.GetEnabled())
	if err != nil {
		return nil, err
	}
	_, run, err := s.m.GetIntegration(ctx, who, in.ID)
	if err != nil {
		return nil, err
	}
	out := integrationToProto(in, run, s.m.PublicURL())
	return &integrationv1.SetAutoImportResponse{Integration: out}, nameConnectors(ctx, s.m, who, out)
}

var importStatuses = map[catalog.Action]integrationv1.ImportStatus{
	catalog.ActionRegister: integrationv1.ImportStatus_IMPORT_STATUS_REGISTERED,
	catalog.ActionMerge:    integrationv1.ImportStatus_IMPORT_STATUS_MERGED,
}

func (s *discoveryServer) ListImported(ctx context.Context, req *integrationv1.ListImportedRequest) (*integrationv1.ListImportedResponse, error) {
	who := managementCaller(ctx)
	_, rows, next, total, err := s.d.ListImported(ctx, who.AccountID, req.GetIntegration(), req.GetSearch(),
		page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListImportedResponse{NextPageToken: next, Total: total}
	for _, r := range rows {
		out.Repositories = append(out.Repositories, &integrationv1.ImportedRepository{RepositoryUuid: r.UUID, Name: r.Name,
			FullName: r.FullName, Status: importStatuses[r.Action], Entity: entityRef(r.Entity), ImportedAt: ts(r.ImportedAt),
			Automatic: r.Automatic, Deleted: !r.DeletedAt.IsZero(), ExcludedReason: r.ExcludedReason})
	}
	return out, nil
}

func (s *discoveryServer) UnlinkRepository(ctx context.Context, req *integrationv1.UnlinkRepositoryRequest) (*integrationv1.UnlinkRepositoryResponse, error) {
	who := managementCaller(ctx)
	if _, err := s.d.Unlink(ctx, who.AccountID, who.Actor, req.GetIntegration(), req.GetRepository()); err != nil {
		return nil, err
	}
	return &integrationv1.UnlinkRepositoryResponse{}, nil
}

func (s *discoveryServer) IgnoreRepositories(ctx context.Context, req *integrationv1.IgnoreRepositoriesRequest) (*integrationv1.IgnoreRepositoriesResponse, error) {
	who := managementCaller(ctx)
	res, err := s.d.Ignore(ctx, who.AccountID, who.Actor, req.GetIntegration(), req.GetRepositories(), req.GetPattern())
	if err != nil {
		return nil, err
	}
	return &integrationv1.IgnoreRepositoriesResponse{Results: ignoreResults(res)}, nil
}

func (s *discoveryServer) UnignoreRepositories(ctx context.Context, req *integrationv1.UnignoreRepositoriesRequest) (*integrationv1.UnignoreRepositoriesResponse, error) {
	who := managementCaller(ctx)
	res, err := s.d.Unignore(ctx, who.AccountID, who.Actor, req.GetIntegration(), req.GetRepositories(), req.GetPattern())
	if err != nil {
		return nil, err
	}
	return &integrationv1.UnignoreRepositoriesResponse{Results: ignoreResults(res)}, nil
}

func ignoreResults(res []discoverysvc.IgnoreResult) []*integrationv1.IgnoreResult {
	out := make([]*integrationv1.IgnoreResult, len(res))
	for i, r := range res {
		out[i] = &integrationv1.IgnoreResult{Repository: r.Repository, Ok: r.OK, Reason: r.Reason, Message: r.Message}
	}
	return out
}

// entityRef names a stored entity on the wire; nil for none.
func entityRef(e store.StoredEntity) *integrationv1.EntityRef {
	if e.Entity == nil {
		return nil
	}
	return &integrationv1.EntityRef{Id: e.ID, Kind: e.Entity.Kind, Type: e.Entity.Type, Identifier: e.Entity.Identifier,
		Name: e.Entity.Name, Scope: catalogsvc.ScopeNameOf(e.Entity)}
}
