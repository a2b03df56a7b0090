package discoverysvc

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/clock"
)

// Store is what discovery needs of the store.
type Store interface {
	GetIntegration(ctx context.Context, accountID, idOrName string) (integration.Integration, error)
	UpdateIntegration(ctx context.Context, accountID, idOrName string, change store.IntegrationChange) (integration.Integration, error)
	AddEvent(ctx context.Context, e store.Event) error

	GetDiscoveryState(ctx context.Context, integrationID string) (store.DiscoveryState, error)
	DiscoveryStates(ctx context.Context) ([]store.DiscoveryState, error)
	BeginCorrelation(ctx context.Context, accountID, integrationID string) (int64, error)
	UnimportedRepositories(ctx context.Context, integrationID string) ([]store.UnimportedRepository, error)
	CorrelationEntities(ctx context.Context, accountID, integrationID, kind, typ string, whole bool) ([]store.CorrelationEntity, error)
	SaveRecommendations(ctx context.Context, accountID, integrationID string, gen int64, hash string, recs []store.Recommendation, now time.Time) error
	AdvanceAutoImportMark(ctx context.Context, accountID, integrationID string, mark time.Time) error
	AutoImportRetries(ctx context.Context, integrationID string) (map[string]int, error)
	SetAutoImportRetry(ctx context.Context, integrationID, uuid string, attempts int, now time.Time) error
	ListDiscovered(ctx context.Context, integrationID string, f store.DiscoveredFilter, p store.Page) ([]store.Discovered, string, int64, error)
	EntitiesByID(ctx context.Context, accountID string, ids []string) (map[string]store.StoredEntity, error)
	FindRepository(ctx context.Context, integrationID, ref string) (store.Repository, error)
	GetEntity(ctx context.Context, accountID string, key store.EntityKey) (store.StoredEntity, error)
	GetRecommendation(ctx context.Context, integrationID, uuid string) (store.Recommendation, bool, error)
	GetCodeOwners(ctx context.Context, integrationID, uuid string) (*owners.Finding, error)
	EntityFeeds(ctx context.Context, accountID, integrationID, kind string) (map[string]catalog.Feed, error)
	EntityIdentifiers(ctx context.Context, accountID, kind, scope string) (map[string]bool, error)
	GetRepositoryState(ctx context.Context, integrationID, uuid string) (store.RepositoryState, error)
	IgnoreRepository(ctx context.Context, r store.IgnoreRequest) error
	UnignoreRepository(ctx context.Context, r store.IgnoreRequest) (bool, error)
	IgnoreCandidates(ctx context.Context, integrationID string, ignored bool) ([]store.PatternCandidate, error)

	ImportRepository(ctx context.Context, r store.ImportRequest) (store.ImportOutcome, error)
	UnlinkRepository(ctx context.Context, r store.UnlinkRequest) (store.StoredEntity, error)
	ListImported(ctx context.Context, accountID, integrationID, search string, p store.Page) ([]store.Imported, string, int64, error)
	LinkedRepositories(ctx context.Context, integrationID string) ([]store.LinkedRepository, error)
	RefreshLinkedEntity(ctx context.Context, r store.RefreshRequest) (bool, error)
}

var _ Store = (*store.DB)(nil)

// Service carries out discovery for all accounts. It is safe for
// concurrent use.
type Service struct {
	store Store
	clock clock.Clock
	log   zerolog.Logger

	// running serialises correlation runs of one integration within this
	// process, so concurrent readers of stale recommendations wait for one
	// run instead of starting their own.
	mu      sync.Mutex
	running map[string]*sync.Mutex

	wake chan struct{}
}

// New builds the service; clk is the clock (clock.Real in production).
func New(s Store, clk clock.Clock, log zerolog.Logger) *Service {
	return &Service{store: s, clock: clk, log: log, running: map[string]*sync.Mutex{}, wake: make(chan struct{}, 1)}
}

// Actors named in the event log for work nobody asked for by hand.
const (
	ActorAutoImport = "auto-import"
	ActorSync       = "sync"
)

// slot is the link slot a repository of the integration occupies in its
// entity. Integrations live in the account, so their links are keyed by
// the account scope.
func slot(in integration.Integration) catalog.LinkKey {
	return catalog.RepositoryLink(catalog.ScopeAccount, in.ID)
}

func (s *Service) lockIntegration(id string) func() {
	s.mu.Lock()
	m, ok := s.running[id]
	if !ok {
		m = &sync.Mutex{}
		s.running[id] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Notify asks Run to look for stale recommendations now, e.g. after a
// catalog change; it never blocks.
func (s *Service) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run recomputes stale recommendations in the background, when notified
// and every interval, until ctx ends, so that readers rarely wait.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := s.clock.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-s.wake:
		}
		if err := s.RefreshStale(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("recomputing stale recommendations failed")
		}
	}
}

// RefreshStale recomputes the recommendations of every integration whose
// stored ones are stale.
func (s *Service) RefreshStale(ctx context.Context) error {
	states, err := s.store.DiscoveryStates(ctx)
	if err != nil {
		return err
	}
	for _, st := range states {
		in, err := s.store.GetIntegration(ctx, st.AccountID, st.IntegrationID)
		if fault.CodeOf(err) == fault.NotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if _, err := s.ensureFresh(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// ensureFresh recomputes the integration's recommendations unless they are
// fresh, and reports whether it did.
func (s *Service) ensureFresh(ctx context.Context, in integration.Integration) (bool, error) {
	hash := configHash(in)
	st, err := s.store.GetDiscoveryState(ctx, in.ID)
	if err != nil || st.Fresh(hash) {
		return false, err
	}
	unlock := s.lockIntegration(in.ID)
	defer unlock()
	if st, err = s.store.GetDiscoveryState(ctx, in.ID); err != nil || st.Fresh(hash) {
		return false, err
	}
	_, err = s.recompute(ctx, in)
	return err == nil, err
}
