package discoverysvc

import (
	"context"
	"errors"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/tasks"
)

// SyncFinished is the dispatch service's SyncObserver: after every run of an
// enabled integration it refreshes the linked entities, recomputes the
// recommendations and auto-imports what the run discovered. A suspended
// integration changes nothing: suspend means no sync updates reach the
// catalog. The work outlives the call that ended the run, so a delegate
// that hangs up does not cut it short.
func (s *Service) SyncFinished(ctx context.Context, run tasks.SyncRun) error {
	ctx = context.WithoutCancel(ctx)
	in, err := s.store.GetIntegration(ctx, run.AccountID, run.IntegrationID)
	if err != nil {
		return err
	}
	if in.State != integration.Enabled {
		return nil
	}
	unlock := s.lockIntegration(in.ID)
	refreshErr := s.refreshLinked(ctx, in)
	_, recomputeErr := s.recompute(ctx, in)
	unlock()
	if recomputeErr != nil {
		return errors.Join(refreshErr, recomputeErr)
	}
	return errors.Join(refreshErr, s.autoImport(ctx, in))
}

// RefreshStats says what a refresh of linked entities did.
type RefreshStats struct {
	Linked  int // linked repositories
	Updated int // entities whose ingested properties changed
}

// refreshLinked rewrites the ingested properties of the entities whose
// repository changed since they were last written: a rename, a new
// description, default branch or visibility, a field mapping changed, or
// the repository deleted (flagged with deleted: true; the entity stays).
func (s *Service) refreshLinked(ctx context.Context, in integration.Integration) error {
	linked, err := s.store.LinkedRepositories(ctx, in.ID)
	if err != nil {
		return err
	}
	var stats RefreshStats
	stats.Linked = len(linked)
	for _, lr := range linked {
		props := Props(in.Fields, decodeRaw(string(lr.Raw)))
		if !lr.DeletedAt.IsZero() {
			props[propDeleted] = true
		}
		hash := propsHash(props)
		if hash == lr.PropsHash {
			continue
		}
		done, err := s.store.RefreshLinkedEntity(ctx, store.RefreshRequest{AccountID: in.AccountID, IntegrationID: in.ID,
			RepositoryUUID: lr.UUID, EntityID: lr.EntityID, PropsHash: hash, Now: s.clock.Now().UTC(),
			Apply: func(e *catalog.Entity) error { return e.SetIngested(Source, props) }})
		if err != nil {
			return err
		}
		if done {
			stats.Updated++
		}
	}
	if stats.Updated > 0 {
		s.log.Info().Str("account", in.AccountID).Str("integration", in.ID).Int("linked", stats.Linked).
			Int("updated", stats.Updated).Msg("linked entities refreshed")
	}
	return nil
}

// autoImportAttempts is how many times a repository's automatic import
// may fail for a transient reason before auto-import gives up on it.
const autoImportAttempts = 5

// autoImport imports, when auto-import is on, the repositories first seen
// after the integration's watermark that were never unlinked, with their
// recommended action; the watermark then moves past every repository seen,
// whether auto-import is on or not. A repository whose import failed for a
// transient reason (Result.Transient) is kept for retry and tried again
// after the next syncs, up to autoImportAttempts times; one that failed
// for good (IDENTIFIER_TAKEN, NO_MATCH, ...) is not. Each failure is
// logged as IMPORT_FAILED once, when it is final.
func (s *Service) autoImport(ctx context.Context, in integration.Integration) error {
	st, err := s.store.GetDiscoveryState(ctx, in.ID)
	if err != nil {
		return err
	}
	repos, err := s.store.UnimportedRepositories(ctx, in.ID)
	if err != nil {
		return err
	}
	retries, err := s.store.AutoImportRetries(ctx, in.ID)
	if err != nil {
		return err
	}
	var mark time.Time
	imported, failed, retry := 0, 0, 0
	for _, r := range repos {
		if r.FirstSeenAt.After(mark) {
			mark = r.FirstSeenAt
		}
		attempts, retrying := retries[r.UUID]
		if !retrying && !r.FirstSeenAt.After(st.AutoImportMark) {
			continue
		}
		attempts++
		res, tried, err := s.autoImportOne(ctx, in, r)
		if err != nil {
			return err
		}
		switch {
		case tried && res.OK:
			imported++
		case tried && res.Transient() && attempts < autoImportAttempts:
			retry++
			if err := s.store.SetAutoImportRetry(ctx, in.ID, r.UUID, attempts, s.clock.Now().UTC()); err != nil {
				return err
			}
			continue
		case tried:
			failed++
			s.recordFailure(ctx, in, ActorAutoImport, res, true)
		}
		if retrying {
			if err := s.store.SetAutoImportRetry(ctx, in.ID, r.UUID, 0, s.clock.Now().UTC()); err != nil {
				return err
			}
		}
	}
	if imported+failed+retry > 0 {
		s.log.Info().Str("account", in.AccountID).Str("integration", in.ID).Int("imported", imported).Int("failed", failed).
			Int("retry", retry).Msg("auto-import done")
	}
	if mark.IsZero() {
		return nil
	}
	return s.store.AdvanceAutoImportMark(ctx, in.AccountID, in.ID, mark)
}

// autoImportOne imports one candidate of autoImport, unless it is not to be
// imported automatically (tried is false then).
func (s *Service) autoImportOne(ctx context.Context, in integration.Integration, r store.UnimportedRepository) (Result, bool, error) {
	if !in.AutoImport || r.Unlinked || !r.DeletedAt.IsZero() || r.Ignored || r.ExcludedReason != "" {
		return Result{}, false, nil
	}
	rec, _, err := s.store.GetRecommendation(ctx, in.ID, r.UUID)
	if err != nil || rec.Action == "" {
		return Result{}, false, err // under Merge with no match: a person picks the entity
	}
	return s.importOne(ctx, in, ActorAutoImport, Item{Repository: r.UUID}, true), true, nil
}

// SetAutoImport turns auto-import on or off; the change is recorded as a
// configuration change.
func (s *Service) SetAutoImport(ctx context.Context, accountID, actor, integrationRef string, enabled bool) (integration.Integration, error) {
	return s.store.UpdateIntegration(ctx, accountID, integrationRef, store.IntegrationChange{Actor: actor, Now: s.clock.Now().UTC(),
		Apply: func(in *integration.Integration) ([]string, error) {
			if in.AutoImport == enabled {
				return nil, nil
			}
			in.AutoImport = enabled
			in.UpdatedAt = s.clock.Now().UTC()
			return []string{integration.FieldAutoImport}, nil
		}})
}

// Unlink stops syncing a repository into its entity. The entity and its
// data stay; the repository returns to the Discovered list, marked
// unlinked, and is never imported automatically again. Errors: NotFound;
// FailedPrecondition (NOT_IMPORTED).
func (s *Service) Unlink(ctx context.Context, accountID, actor, integrationRef, repository string) (store.StoredEntity, error) {
	in, err := s.store.GetIntegration(ctx, accountID, integrationRef)
	if err != nil {
		return store.StoredEntity{}, err
	}
	repo, err := s.store.FindRepository(ctx, in.ID, repository)
	if err != nil {
		return store.StoredEntity{}, err
	}
	e, err := s.store.UnlinkRepository(ctx, store.UnlinkRequest{AccountID: accountID, IntegrationID: in.ID, RepositoryUUID: repo.UUID,
		Slot: slot(in), Actor: actor, Now: s.clock.Now().UTC()})
	if err == nil {
		s.log.Info().Str("account", accountID).Str("integration", in.ID).Str("repository", repo.FullName).Str("entity", e.ID).Msg("repository unlinked")
	}
	return e, err
}
