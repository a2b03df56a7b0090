package rpc

import (
	"context"
	"strings"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/backstage"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalogsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// NewCatalogServer serves CatalogService with the catalog service.
func NewCatalogServer(c *catalogsvc.Service) catalogv1.CatalogServiceServer {
	return &catalogServer{c: c}
}

type catalogServer struct {
	catalogv1.UnimplementedCatalogServiceServer
	c *catalogsvc.Service
}

func (s *catalogServer) CreateEntity(ctx context.Context, req *catalogv1.CreateEntityRequest) (*catalogv1.CreateEntityResponse, error) {
	e, err := s.c.Create(ctx, managementCaller(ctx).AccountID, req.GetYaml())
	if err != nil {
		return nil, err
	}
	out, err := entityToProto(e, true)
	return &catalogv1.CreateEntityResponse{Entity: out}, err
}

func (s *catalogServer) UpdateEntity(ctx context.Context, req *catalogv1.UpdateEntityRequest) (*catalogv1.UpdateEntityResponse, error) {
	e, err := s.c.Update(ctx, managementCaller(ctx).AccountID, req.GetYaml())
	if err != nil {
		return nil, err
	}
	out, err := entityToProto(e, true)
	return &catalogv1.UpdateEntityResponse{Entity: out}, err
}

func (s *catalogServer) GetEntity(ctx context.Context, req *catalogv1.GetEntityRequest) (*catalogv1.GetEntityResponse, error) {
	e, err := s.c.Get(ctx, managementCaller(ctx).AccountID, entityKey(req.GetKey()))
	if err != nil {
		return nil, err
	}
	out, err := entityToProto(e, true)
	return &catalogv1.GetEntityResponse{Entity: out}, err
}

func (s *catalogServer) ListEntities(ctx context.Context, req *catalogv1.ListEntitiesRequest) (*catalogv1.ListEntitiesResponse, error) {
	list, next, total, err := s.c.List(ctx, managementCaller(ctx).AccountID,
		catalogsvc.Filter{Kind: req.GetKind(), Type: req.GetType(), Scope: req.GetScope(), Search: req.GetSearch()},
		page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &catalogv1.ListEntitiesResponse{NextPageToken: next, Total: total}
	for _, e := range list {
		pe, err := entityToProto(e, false)
		if err != nil {
			return nil, err
		}
		out.Entities = append(out.Entities, pe)
	}
	return out, nil
}

func (s *catalogServer) DeleteEntity(ctx context.Context, req *catalogv1.DeleteEntityRequest) (*catalogv1.DeleteEntityResponse, error) {
	if _, err := s.c.Delete(ctx, managementCaller(ctx).AccountID, entityKey(req.GetKey())); err != nil {
		return nil, err
	}
	return &catalogv1.DeleteEntityResponse{}, nil
}

func (s *catalogServer) GetEntityActivity(ctx context.Context, req *catalogv1.GetEntityActivityRequest) (*catalogv1.GetEntityActivityResponse, error) {
	e, a, err := s.c.Activity(ctx, managementCaller(ctx).AccountID, entityKey(req.GetKey()), int(req.GetLimit()))
	if err != nil {
		return nil, err
	}
	pe, err := entityToProto(e, true)
	if err != nil {
		return nil, err
	}
	out := &catalogv1.GetEntityActivityResponse{Entity: pe, OpenPullRequests: a.Open, MergedPullRequests: a.Merged,
		DeclinedPullRequests: a.Declined, Commits: a.Commits}
	for _, p := range a.RecentPullRequests {
		out.RecentPullRequests = append(out.RecentPullRequests, &catalogv1.PullRequestSummary{Repository: p.Repository, Id: p.ID,
			Title: p.Title, State: p.State, Author: p.Author, UpdatedOn: ts(p.UpdatedOn), HtmlUrl: p.HTMLURL})
	}
	for _, c := range a.RecentCommits {
		author := c.AuthorUser
		if author == "" {
			author = c.AuthorRaw
		}
		out.RecentCommits = append(out.RecentCommits, &catalogv1.CommitSummary{Repository: c.Repository, Hash: c.Hash, Date: ts(c.Date),
			Author: author, Summary: firstLine(c.Message), HtmlUrl: c.HTMLURL})
	}
	return out, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(line, "\r")
}

func entityKey(k *catalogv1.EntityKey) catalogsvc.Key {
	return catalogsvc.Key{Entity: k.GetEntity(), Kind: k.GetKind(), Scope: k.GetScope()}
}

// entityToProto renders a stored entity; withYAML adds its document.
func entityToProto(s store.StoredEntity, withYAML bool) (*catalogv1.Entity, error) {
	e := s.Entity
	out := &catalogv1.Entity{Id: s.ID, Kind: e.Kind, Type: e.Type, Identifier: e.Identifier, Name: e.Name, Owner: e.Owner,
		Scope: catalogsvc.ScopeNameOf(e), Lifecycle: e.Lifecycle, Description: e.Description, Tags: e.Tags,
		CreatedAt: ts(e.CreatedAt), UpdatedAt: ts(e.UpdatedAt), LinkedIntegrations: s.LinkedIntegrations, SourceDeleted: s.SourceDeleted}
	if withYAML {
		doc, err := e.YAML()
		if err != nil {
			return nil, err
		}
		out.Yaml = string(doc)
	}
	return out, nil
}

func mappingIssues(issues []backstage.Issue) []*catalogv1.MappingIssue {
	out := make([]*catalogv1.MappingIssue, len(issues))
	for i, is := range issues {
		out[i] = &catalogv1.MappingIssue{Entity: is.Entity, Field: is.Field, Problem: is.Problem, Skipped: is.Skipped}
	}
	return out
}

func (s *catalogServer) ExportEntities(ctx context.Context, req *catalogv1.ExportEntitiesRequest) (*catalogv1.ExportEntitiesResponse, error) {
	out, err := s.c.ExportBackstage(ctx, managementCaller(ctx).AccountID, req.GetKind(), req.GetEntities())
	if err != nil {
		return nil, err
	}
	return &catalogv1.ExportEntitiesResponse{Content: out.Content, Exported: int32(out.Count), Issues: mappingIssues(out.Issues)}, nil
}

func (s *catalogServer) ImportEntities(ctx context.Context, req *catalogv1.ImportEntitiesRequest) (*catalogv1.ImportEntitiesResponse, error) {
	results, issues, err := s.c.ImportBackstage(ctx, managementCaller(ctx).AccountID, req.GetContent(), req.GetDryRun())
	if err != nil {
		return nil, err
	}
	out := &catalogv1.ImportEntitiesResponse{Issues: mappingIssues(issues)}
	for _, r := range results {
		pr := &catalogv1.ImportedEntityResult{Source: r.Source, Ok: r.OK, Reason: r.Reason, Message: r.Message}
		if r.OK {
			if pr.Entity, err = entityToProto(r.Entity, true); err != nil {
				return nil, err
			}
		}
		out.Results = append(out.Results, pr)
	}
	return out, nil
}
