package discoverysvc

import (
	"context"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// Discovered is a row of the Discovered list, with its candidates resolved
// to entities.
type Discovered struct {
	store.Discovered
	// Suggested is the best candidate of a Merge recommendation.
	Suggested *store.StoredEntity
	// Matches are the candidates, best first; entities deleted since the
	// correlation run are left out.
	Matches []Match
	// Kind and Type are what a Register import would create (Type is empty
	// under Merge).
	Kind, Type string
	// Owner is the owner proposed for Register from its CODEOWNERS file;
	// nil until the file was read.
	Owner *OwnerSuggestion
}

// Match is a candidate entity of a repository.
type Match struct {
	Entity       store.StoredEntity
	Exact        bool
	MatchedValue string
}

// ListDiscovered returns a page of the repositories of an integration that
// are not imported, by name, with their recommendations, recomputed first
// if stale; and how many match across all pages.
func (s *Service) ListDiscovered(ctx context.Context, accountID, integrationRef string, f store.DiscoveredFilter, p store.Page) (integration.Integration, []Discovered, string, int64, error) {
	in, err := s.store.GetIntegration(ctx, accountID, integrationRef)
	if err != nil {
		return in, nil, "", 0, err
	}
	if _, err := s.ensureFresh(ctx, in); err != nil {
		return in, nil, "", 0, err
	}
	rows, next, total, err := s.store.ListDiscovered(ctx, in.ID, f, p)
	if err != nil {
		return in, nil, "", 0, err
	}
	var ids []string
	for _, r := range rows {
		for _, c := range r.Candidates {
			ids = append(ids, c.EntityID)
		}
	}
	ents, err := s.store.EntitiesByID(ctx, accountID, ids)
	if err != nil {
		return in, nil, "", 0, err
	}
	out := make([]Discovered, len(rows))
	for i, r := range rows {
		d := Discovered{Discovered: r, Kind: in.Kind, Type: in.Type, Owner: suggestOwner(in, r.CodeOwners)}
		for _, c := range r.Candidates {
			e, ok := ents[c.EntityID]
			if !ok {
				continue
			}
			d.Matches = append(d.Matches, Match{Entity: e, Exact: c.Exact, MatchedValue: c.MatchedValue})
			if c.EntityID == r.SuggestedID {
				d.Suggested = &e
			}
		}
		out[i] = d
	}
	return in, out, next, total, nil
}

// ListImported returns a page of the repositories linked to catalog
// entities, by name, and how many match across all pages.
func (s *Service) ListImported(ctx context.Context, accountID, integrationRef, search string, p store.Page) (integration.Integration, []store.Imported, string, int64, error) {
	in, err := s.store.GetIntegration(ctx, accountID, integrationRef)
	if err != nil {
		return in, nil, "", 0, err
	}
	rows, next, total, err := s.store.ListImported(ctx, in.AccountID, in.ID, search, p)
	return in, rows, next, total, err
}
