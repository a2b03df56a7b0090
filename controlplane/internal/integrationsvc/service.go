// Package integrationsvc carries out the integration API: connectors,
// integrations and their runs and events. It validates with the integration
// package, persists with the store (one transaction per change) and wakes
// delegates through the dispatch service when it queues work. Authentication and
// authorization happen before a call gets here (see the rpc package).
package integrationsvc

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/dispatch"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/ids"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Service is the management API's behaviour.
type Service struct {
	store store.Store
	tasks *dispatch.Service
	clock clock.Clock
	log   zerolog.Logger
}

// New builds the service.
func New(s store.Store, t *dispatch.Service, clk clock.Clock, log zerolog.Logger) *Service {
	return &Service{store: s, tasks: t, clock: clk, log: log}
}

// Caller is who makes a management call: their account and, for the
// event log, a name.
type Caller struct {
	AccountID string
	Actor     string // e.g. "key:admin"
}

// CreateConnector validates and stores a connector.
func (s *Service) CreateConnector(ctx context.Context, who Caller, c integration.Connector) (integration.Connector, error) {
	if err := integration.NormalizeConnector(&c); err != nil {
		return c, err
	}
	c.ID, c.AccountID, c.CreatedAt = ids.New("con"), who.AccountID, s.clock.Now().UTC()
	if err := s.store.CreateConnector(ctx, c); err != nil {
		return c, err
	}
	s.log.Info().Str("account", who.AccountID).Str("connector", c.ID).Str("workspace", c.Workspace).Msg("connector created")
	return c, nil
}

// UpdateConnector changes the fields of a connector named in mask; the
// next tasks of its integrations use the new values.
func (s *Service) UpdateConnector(ctx context.Context, who Caller, ref string, draft integration.Connector, mask []string) (integration.Connector, error) {
	c, err := s.store.UpdateConnector(ctx, who.AccountID, ref, func(c *integration.Connector) error {
		return integration.ApplyConnectorChanges(c, draft, mask)
	})
	if err == nil {
		s.log.Info().Str("account", who.AccountID).Str("connector", c.ID).Strs("fields", mask).Int("tokens", len(c.TokenRefs)).Msg("connector updated")
	}
	return c, err
}

// GetConnector returns a connector by id or name.
func (s *Service) GetConnector(ctx context.Context, who Caller, ref string) (integration.Connector, error) {
	return s.store.GetConnector(ctx, who.AccountID, ref)
}

// ListConnectors pages through connectors by name.
func (s *Service) ListConnectors(ctx context.Context, who Caller, p store.Page) ([]integration.Connector, string, error) {
	return s.store.ListConnectors(ctx, who.AccountID, p)
}

// ConnectorNames maps connector ids of the caller's account to their names.
func (s *Service) ConnectorNames(ctx context.Context, who Caller, ids []string) (map[string]string, error) {
	return s.store.ConnectorNames(ctx, who.AccountID, ids)
}

// CountConnectors counts the caller's connectors.
func (s *Service) CountConnectors(ctx context.Context, who Caller) (int64, error) {
	return s.store.CountConnectors(ctx, who.AccountID)
}

// DeleteConnector removes a connector no integration uses.
func (s *Service) DeleteConnector(ctx context.Context, who Caller, ref string) error {
	return s.store.DeleteConnector(ctx, who.AccountID, ref)
}

// TestConnector queues a connection test; with wait, it returns when a
// delegate has answered or ctx ends, whichever is first.
func (s *Service) TestConnector(ctx context.Context, who Caller, ref string, wait bool) (tasks.Task, error) {
	c, err := s.store.GetConnector(ctx, who.AccountID, ref)
	if err != nil {
		return tasks.Task{}, err
	}
	t, err := s.store.QueueTestConnection(ctx, c, s.clock.Now())
	if err != nil {
		return t, err
	}
	s.log.Info().Str("account", who.AccountID).Str("connector", c.ID).Str("task", t.ID).Msg("task queued: connection test")
	s.tasks.Queued(who.AccountID)
	if !wait {
		return t, nil
	}
	return s.tasks.WaitTask(ctx, who.AccountID, t.ID)
}

// GetConnectorTest returns a connection test (its task).
func (s *Service) GetConnectorTest(ctx context.Context, who Caller, id string) (tasks.Task, error) {
	t, err := s.store.GetTask(ctx, who.AccountID, id)
	if err == nil && t.Type != tasks.TestConnection {
		return tasks.Task{}, store.NotFound("connector test", id)
	}
	return t, err
}
