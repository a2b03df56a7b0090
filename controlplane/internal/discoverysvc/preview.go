package discoverysvc

import (
	"context"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
)

// MaxPreviewExamples is how many repositories a preview names for each
// kind of change.
const MaxPreviewExamples = 5

// Change is how a configuration change alters one repository's recommendation.
type Change string

// Kinds of change, as a preview counts them.
const (
	Unchanged          Change = ""
	RegisterToMerge    Change = "REGISTER_TO_MERGE"
	MergeToRegister    Change = "MERGE_TO_REGISTER"
	MergeTargetChanged Change = "MERGE_TARGET_CHANGED"
	ToNone             Change = "TO_NONE"
	FromNone           Change = "FROM_NONE"
)

// classify compares a repository's recommendation before and after a change.
func classify(before, after store.Recommendation) Change {
	switch {
	case before.Action == after.Action && (after.Action != catalog.ActionMerge || before.SuggestedID == after.SuggestedID):
		return Unchanged
	case before.Action == "":
		return FromNone
	case after.Action == "":
		return ToNone
	case before.Action == catalog.ActionRegister && after.Action == catalog.ActionMerge:
		return RegisterToMerge
	case before.Action == catalog.ActionMerge && after.Action == catalog.ActionRegister:
		return MergeToRegister
	}
	return MergeTargetChanged
}

// RecommendationChange is one repository of a preview.
type RecommendationChange struct {
	Repository string // full name
	Change     Change
	From, To   catalog.Action
	// FromEntity and ToEntity are the identifiers of the suggested
	// entities, for Merge.
	FromEntity, ToEntity string
}

// Preview is what a configuration change would do to the Discovered list.
type Preview struct {
	// Repositories is how many discovered repositories were compared.
	Repositories int
	// Counts holds how many repositories change, by kind of change.
	Counts map[Change]int
	// Leaving and Entering count the repositories the new filter takes out
	// of, or brings into, the Discovered list; ImportedExcluded the
	// imported ones it leaves out (they stay imported, flagged).
	Leaving, Entering, ImportedExcluded int
	// Examples names up to MaxPreviewExamples repositories of each kind.
	Examples []RecommendationChange
}

// Preview computes, without storing anything, how the Discovered list
// would change if the integration's configuration became after: the
// recommendations both configurations make (with the same rules a sync
// then runs, imports.Recommend) and the repositories the filters keep.
func (s *Service) Preview(ctx context.Context, before, after integration.Integration) (Preview, error) {
	p := Preview{Counts: map[Change]int{}}
	repos, err := s.store.UnimportedRepositories(ctx, before.ID)
	if err != nil {
		return p, err
	}
	cb, err := s.correlator(ctx, before)
	if err != nil {
		return p, err
	}
	ca, err := s.correlator(ctx, after)
	if err != nil {
		return p, err
	}
	var examples []RecommendationChange
	shown := map[Change]int{}
	for _, r := range repos {
		if r.Ignored {
			continue
		}
		facts := unimportedFacts(r)
		inBefore, inAfter := before.Filter.Evaluate(facts).Included, after.Filter.Evaluate(facts).Included
		switch {
		case inBefore && !inAfter:
			p.Leaving++
		case !inBefore && inAfter:
			p.Entering++
		}
		if !inBefore || !inAfter {
			continue
		}
		p.Repositories++
		rb, ra := cb.recommend(r), ca.recommend(r)
		ch := classify(rb, ra)
		if ch == Unchanged {
			continue
		}
		p.Counts[ch]++
		if shown[ch] < MaxPreviewExamples {
			shown[ch]++
			examples = append(examples, RecommendationChange{Repository: r.FullName, Change: ch, From: rb.Action, To: ra.Action,
				FromEntity: rb.SuggestedID, ToEntity: ra.SuggestedID})
		}
	}
	linked, err := s.store.LinkedRepositories(ctx, before.ID)
	if err != nil {
		return p, err
	}
	for _, l := range linked {
		if !after.Filter.Evaluate(l.FilterFacts()).Included {
			p.ImportedExcluded++
		}
	}
	p.Examples, err = s.nameEntities(ctx, before.AccountID, examples)
	return p, err
}

// nameEntities replaces the entity ids of examples with identifiers.
func (s *Service) nameEntities(ctx context.Context, accountID string, examples []RecommendationChange) ([]RecommendationChange, error) {
	var ids []string
	for _, e := range examples {
		for _, id := range []string{e.FromEntity, e.ToEntity} {
			if id != "" {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return examples, nil
	}
	ents, err := s.store.EntitiesByID(ctx, accountID, ids)
	if err != nil {
		return nil, err
	}
	name := func(id string) string {
		if e, ok := ents[id]; ok && e.Entity != nil {
			return e.Entity.Identifier
		}
		return id
	}
	for i := range examples {
		if examples[i].FromEntity != "" {
			examples[i].FromEntity = name(examples[i].FromEntity)
		}
		if examples[i].ToEntity != "" {
			examples[i].ToEntity = name(examples[i].ToEntity)
		}
	}
	return examples, nil
}

// unimportedFacts is what a filter reads of a repository not imported.
func unimportedFacts(r store.UnimportedRepository) repofilter.Repository {
	facts, _ := repofilter.FromJSON([]byte(r.Raw))
	facts.Slug, facts.Name = r.Slug, r.Name
	return facts
}
