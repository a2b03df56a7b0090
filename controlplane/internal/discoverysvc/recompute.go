package discoverysvc

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/correlate"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// MaxCandidates bounds the candidates stored per repository. A Contains
// rule on a short catalog value can match thousands of entities; the best
// ones are the useful ones, and the user can still merge into any entity.
const MaxCandidates = 50

// RecomputeStats says what a correlation run did.
type RecomputeStats struct {
	Repositories int // repositories not imported, correlated
	Entities     int // catalog entities indexed
	Merge        int // repositories recommended for Merge
	Register     int // repositories recommended for Register
}

// Recompute correlates every repository of the integration that is not
// imported with the catalog and stores the recommendations.
func (s *Service) Recompute(ctx context.Context, accountID, integrationRef string) (RecomputeStats, error) {
	in, err := s.store.GetIntegration(ctx, accountID, integrationRef)
	if err != nil {
		return RecomputeStats{}, err
	}
	unlock := s.lockIntegration(in.ID)
	defer unlock()
	return s.recompute(ctx, in)
}

func (s *Service) recompute(ctx context.Context, in integration.Integration) (RecomputeStats, error) {
	var stats RecomputeStats
	gen, err := s.store.BeginCorrelation(ctx, in.AccountID, in.ID)
	if err != nil {
		return stats, err
	}
	all, err := s.store.UnimportedRepositories(ctx, in.ID)
	if err != nil {
		return stats, err
	}
	// Ignored repositories, and those the filter leaves out, are never
	// recommended: they are not in the Discovered list.
	repos := slices.DeleteFunc(all, func(r store.UnimportedRepository) bool { return r.Ignored || r.ExcludedReason != "" })
	stats.Repositories = len(repos)
	c, err := s.correlator(ctx, in)
	if err != nil {
		return stats, err
	}
	stats.Entities = c.entities
	recs := make([]store.Recommendation, len(repos))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(repos)/256))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(repos); i += workers {
				recs[i] = c.recommend(repos[i])
			}
		})
	}
	wg.Wait()
	for _, r := range recs {
		switch r.Action {
		case catalog.ActionMerge:
			stats.Merge++
		case catalog.ActionRegister:
			stats.Register++
		}
	}
	if err := s.store.SaveRecommendations(ctx, in.AccountID, in.ID, gen, configHash(in), recs, s.clock.Now()); err != nil {
		return stats, err
	}
	s.log.Debug().Str("account", in.AccountID).Str("integration", in.ID).Int("repositories", stats.Repositories).
		Int("entities", stats.Entities).Int("merge", stats.Merge).Int("register", stats.Register).Msg("recommendations computed")
	return stats, nil
}

// correlator holds what recommending under one configuration needs: the
// index of the catalog entities, the entities other integrations feed
// (which a merge cannot take) and the identifiers Register cannot create.
type correlator struct {
	in       integration.Integration
	behavior correlate.Behavior
	ix       *correlate.Index
	feeds    map[string]catalog.Feed
	taken    map[string]bool
	entities int
}

// correlator reads the catalog as in's configuration correlates with it.
func (s *Service) correlator(ctx context.Context, in integration.Integration) (*correlator, error) {
	c := &correlator{in: in, behavior: behaviorOf(in.Behavior)}
	rules := rulesOf(in.Correlation)
	var err error
	if c.taken, err = s.store.EntityIdentifiers(ctx, in.AccountID, canonicalKind(in.Kind), catalog.ScopeKey("", "")); err != nil {
		return nil, err
	}
	if c.behavior == correlate.BehaviorRegister {
		return c, nil
	}
	if c.feeds, err = s.store.EntityFeeds(ctx, in.AccountID, in.ID, in.Kind); err != nil {
		return nil, err
	}
	filter := correlate.NewFilter(c.behavior, in.Kind, in.Type)
	ents, err := s.store.CorrelationEntities(ctx, in.AccountID, in.ID, in.Kind, filter.Type, needsDocuments(rules))
	if err != nil {
		return nil, err
	}
	c.entities = len(ents)
	targets := make([]correlate.Target, len(ents))
	for i, e := range ents {
		targets[i] = correlate.EntityTarget(e.ID, e.Entity)
	}
	if c.ix, err = correlate.NewIndex(rules, filter, targets); err != nil {
		return nil, fmt.Errorf("integration %s: %w", in.ID, err)
	}
	return c, nil
}

// recommend correlates one repository.
func (c *correlator) recommend(r store.UnimportedRepository) store.Recommendation {
	out := store.Recommendation{RepositoryUUID: r.UUID}
	var cands []correlate.Candidate
	if c.ix != nil {
		cands = c.ix.Match(ingested(c.in.Fields, r.Slug, r.Raw))
	}
	registerTaken := ""
	if id := catalog.IdentifierFromSlug(r.Slug); c.taken[id] {
		registerTaken = id
	}
	rec := imports.Recommend(c.behavior, cands, c.feeds, registerTaken)
	out.Action, out.Note = rec.Action, rec.Note
	if rec.Action == catalog.ActionMerge {
		out.SuggestedID = rec.Suggested.TargetID
		for _, c := range cands[:min(len(cands), MaxCandidates)] {
			out.Candidates = append(out.Candidates, store.StoredCandidate{EntityID: c.TargetID, Exact: c.Exact,
				MatchedValue: c.MatchedValue})
		}
	}
	return out
}

// ingested is a repository as correlation sees it.
func ingested(fields []integration.FieldMapping, slug, rawJSON string) correlate.Ingested {
	raw := decodeRaw(rawJSON)
	return correlate.Ingested{Props: Props(fields, raw), Raw: raw, Slug: slug}
}

// columnPaths are the catalog paths the store's entity columns answer
// without parsing documents.
var columnPaths = map[string]bool{
	"apiVersion": true, "kind": true, "type": true, "identifier": true, "name": true, "owner": true,
	"orgIdentifier": true, "projectIdentifier": true, "metadata.description": true, "metadata.tags": true, "spec.lifecycle": true,
}

func needsDocuments(rules []correlate.Rule) bool {
	for _, r := range rules {
		if !columnPaths[r.CatalogPath] {
			return true
		}
	}
	return false
}

// canonicalKind is the kind as entities store it.
func canonicalKind(kind string) string {
	if canon, ok := catalog.CanonicalKind(kind); ok {
		return canon
	}
	return kind
}

func behaviorOf(b integration.Behavior) correlate.Behavior {
	switch b {
	case integration.Register:
		return correlate.BehaviorRegister
	case integration.Merge:
		return correlate.BehaviorMerge
	}
	return correlate.BehaviorRegisterAndMerge
}

func rulesOf(rules []integration.CorrelationRule) []correlate.Rule {
	out := make([]correlate.Rule, len(rules))
	for i, r := range rules {
		op := correlate.Equals
		if r.Operator == integration.Contains {
			op = correlate.Contains
		}
		out[i] = correlate.Rule{IngestedPath: r.IngestedPath, CatalogPath: r.CatalogPath, Op: op}
	}
	return out
}
