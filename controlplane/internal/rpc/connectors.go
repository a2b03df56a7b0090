package rpc

import (
	"context"
	"time"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integrationsvc"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

type connectorServer struct {
	integrationv1.UnimplementedConnectorServiceServer
	s *Server
}

func managementCaller(ctx context.Context) integrationsvc.Caller {
	c, _ := CallerFrom(ctx)
	return integrationsvc.Caller{AccountID: c.AccountID, Actor: c.Actor}
}

func connectorToProto(c integration.Connector) *integrationv1.Connector {
	return &integrationv1.Connector{Id: c.ID, Name: c.Name, Url: c.URL, Username: c.Username, TokenRef: c.TokenRef,
		ApiBaseUrl: c.APIBaseURL, DelegateSelectors: c.DelegateSelectors, Workspace: c.Workspace, CreatedAt: ts(c.CreatedAt),
		TokenRefs: c.TokenRefs}
}

func (c *connectorServer) CreateConnector(ctx context.Context, req *integrationv1.CreateConnectorRequest) (*integrationv1.CreateConnectorResponse, error) {
	in := req.GetConnector()
	out, err := c.s.Manage.CreateConnector(ctx, managementCaller(ctx), integration.Connector{Name: in.GetName(), URL: in.GetUrl(),
		Username: in.GetUsername(), TokenRef: in.GetTokenRef(), TokenRefs: in.GetTokenRefs(), APIBaseURL: in.GetApiBaseUrl(),
		DelegateSelectors: in.GetDelegateSelectors()})
	if err != nil {
		return nil, err
	}
	return &integrationv1.CreateConnectorResponse{Connector: connectorToProto(out)}, nil
}

func (c *connectorServer) GetConnector(ctx context.Context, req *integrationv1.GetConnectorRequest) (*integrationv1.GetConnectorResponse, error) {
	out, err := c.s.Manage.GetConnector(ctx, managementCaller(ctx), req.GetConnector())
	if err != nil {
		return nil, err
	}
	return &integrationv1.GetConnectorResponse{Connector: connectorToProto(out)}, nil
}

func (c *connectorServer) ListConnectors(ctx context.Context, req *integrationv1.ListConnectorsRequest) (*integrationv1.ListConnectorsResponse, error) {
	list, next, err := c.s.Manage.ListConnectors(ctx, managementCaller(ctx), page(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, err
	}
	out := &integrationv1.ListConnectorsResponse{NextPageToken: next}
	for _, x := range list {
		out.Connectors = append(out.Connectors, connectorToProto(x))
	}
	out.Total, err = c.s.Manage.CountConnectors(ctx, managementCaller(ctx))
	return out, err
}

func (c *connectorServer) UpdateConnector(ctx context.Context, req *integrationv1.UpdateConnectorRequest) (*integrationv1.UpdateConnectorResponse, error) {
	in := req.GetChanges()
	draft := integration.Connector{Name: in.GetName(), URL: in.GetUrl(), Username: in.GetUsername(), TokenRef: in.GetTokenRef(),
		TokenRefs: in.GetTokenRefs(), APIBaseURL: in.GetApiBaseUrl(), DelegateSelectors: in.GetDelegateSelectors()}
	out, err := c.s.Manage.UpdateConnector(ctx, managementCaller(ctx), req.GetConnector(), draft, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &integrationv1.UpdateConnectorResponse{Connector: connectorToProto(out)}, nil
}

func (c *connectorServer) DeleteConnector(ctx context.Context, req *integrationv1.DeleteConnectorRequest) (*integrationv1.DeleteConnectorResponse, error) {
	if err := c.s.Manage.DeleteConnector(ctx, managementCaller(ctx), req.GetConnector()); err != nil {
		return nil, err
	}
	return &integrationv1.DeleteConnectorResponse{}, nil
}

// waitMargin is kept from the caller's deadline when waiting for a
// verdict, so the pending test is returned before the call times out.
const waitMargin = 500 * time.Millisecond

func (c *connectorServer) TestConnector(ctx context.Context, req *integrationv1.TestConnectorRequest) (*integrationv1.TestConnectorResponse, error) {
	waitCtx := ctx
	if dl, ok := ctx.Deadline(); ok && req.GetWait() {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, dl.Add(-waitMargin))
		defer cancel()
	}
	t, err := c.s.Manage.TestConnector(waitCtx, managementCaller(ctx), req.GetConnector(), req.GetWait())
	if err != nil {
		return nil, err
	}
	return &integrationv1.TestConnectorResponse{Test: connectorTestToProto(t)}, nil
}

func (c *connectorServer) GetConnectorTest(ctx context.Context, req *integrationv1.GetConnectorTestRequest) (*integrationv1.GetConnectorTestResponse, error) {
	t, err := c.s.Manage.GetConnectorTest(ctx, managementCaller(ctx), req.GetId())
	if err != nil {
		return nil, err
	}
	return &integrationv1.GetConnectorTestResponse{Test: connectorTestToProto(t)}, nil
}

func connectorTestToProto(t tasks.Task) *integrationv1.ConnectorTest {
	out := &integrationv1.ConnectorTest{Id: t.ID, ConnectorId: t.ConnectorID, CreatedAt: ts(t.CreatedAt), FinishedAt: ts(t.FinishedAt)}
	switch {
	case t.State == tasks.Queued:
		out.Status = integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_PENDING
	case t.State == tasks.Leased:
		out.Status = integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_RUNNING
	case t.Result != nil && t.Result.OK && t.Outcome == tasks.Succeeded:
		out.Status = integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_SUCCEEDED
	default:
		out.Status = integrationv1.ConnectorTestStatus_CONNECTOR_TEST_STATUS_FAILED
	}
	if r := t.Result; r != nil {
		out.TokenValid, out.WorkspaceReachable, out.MissingScopes, out.Message = r.TokenValid, r.WorkspaceReachable, r.MissingScopes, r.Message
		for _, c := range r.Tokens {
			out.Tokens = append(out.Tokens, &integrationv1.ConnectorTokenCheck{TokenRef: c.Ref, Valid: c.Valid,
				MissingScopes: c.MissingScopes, Scopes: c.Scopes, LimitPerHour: c.LimitPerHour, Message: c.Message})
		}
	}
	if out.Message == "" && t.Error != "" {
		out.Message = t.Error
	}
	return out
}
