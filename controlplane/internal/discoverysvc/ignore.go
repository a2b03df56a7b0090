package discoverysvc

import (
	"context"
	"path"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// IgnoreResult is the outcome of ignoring or un-ignoring one repository.
type IgnoreResult struct {
	Repository string // as given, or the full name for a pattern
	OK         bool
	Reason     string // UPPER_SNAKE, when not OK
	Message    string
}

// Ignore takes repositories out of the Discovered list for good: named
// ones, or with pattern every discovered repository whose slug or name
// matches it. Each repository succeeds or fails on its own. Errors (whole
// call): NotFound for the integration; Invalid when neither or both are
// given, or for a bad pattern.
func (s *Service) Ignore(ctx context.Context, accountID, actor, integrationRef string, repositories []string, pattern string) ([]IgnoreResult, error) {
	return s.mark(ctx, accountID, actor, integrationRef, repositories, pattern, false)
}

// Unignore returns ignored repositories to the Discovered list: named
// ones, or with pattern every ignored one whose slug or name matches it.
func (s *Service) Unignore(ctx context.Context, accountID, actor, integrationRef string, repositories []string, pattern string) ([]IgnoreResult, error) {
	return s.mark(ctx, accountID, actor, integrationRef, repositories, pattern, true)
}

func (s *Service) mark(ctx context.Context, accountID, actor, integrationRef string, repositories []string, pattern string, undo bool) ([]IgnoreResult, error) {
	pattern = strings.TrimSpace(pattern)
	if (pattern == "") == (len(repositories) == 0) {
		return nil, fault.InvalidField("repositories", "give the repositories, or a pattern, not both")
	}
	if _, err := path.Match(pattern, ""); err != nil || strings.Contains(pattern, "/") {
		return nil, fault.InvalidField("pattern", "%q is not a name pattern: use *, ? and [a-z] over a slug or name, no /", pattern)
	}
	in, err := s.store.GetIntegration(ctx, accountID, integrationRef)
	if err != nil {
		return nil, err
	}
	type target struct{ ref, uuid, fullName string }
	var targets []target
	if pattern != "" {
		cands, err := s.store.IgnoreCandidates(ctx, in.ID, undo)
		if err != nil {
			return nil, err
		}
		p := strings.ToLower(pattern)
		for _, c := range cands {
			slug, _ := path.Match(p, strings.ToLower(c.Slug))
			name, _ := path.Match(p, strings.ToLower(c.Name))
			if slug || name {
				targets = append(targets, target{ref: c.FullName, uuid: c.UUID, fullName: c.FullName})
			}
		}
	}
	out := make([]IgnoreResult, 0, max(len(repositories), len(targets)))
	for _, ref := range repositories {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		repo, err := s.store.FindRepository(ctx, in.ID, ref)
		if err != nil {
			out = append(out, s.failed(in, ref, err))
			continue
		}
		out = append(out, s.markOne(ctx, in, actor, ref, repo.UUID, repo.FullName, undo))
	}
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, s.markOne(ctx, in, actor, t.ref, t.uuid, t.fullName, undo))
	}
	return out, nil
}

func (s *Service) markOne(ctx context.Context, in integration.Integration, actor, ref, uuid, fullName string, undo bool) IgnoreResult {
	req := store.IgnoreRequest{AccountID: in.AccountID, IntegrationID: in.ID, RepositoryUUID: uuid, Actor: actor, Now: s.clock.Now().UTC(),
		Check: func(linked bool) error { return imports.CheckIgnore(fullName, linked) }}
	verb := "ignored"
	var err error
	if undo {
		verb = "un-ignored"
		_, err = s.store.UnignoreRepository(ctx, req)
	} else {
		err = s.store.IgnoreRepository(ctx, req)
	}
	if err != nil {
		return s.failed(in, ref, err)
	}
	s.log.Info().Str("account", in.AccountID).Str("integration", in.ID).Str("repository", fullName).Str("actor", actor).Msg("repository " + verb)
	return IgnoreResult{Repository: ref, OK: true}
}

// failed turns an error about one repository into its result; an error
// that is not the repository's own is internal, and logged.
func (s *Service) failed(in integration.Integration, ref string, err error) IgnoreResult {
	res := IgnoreResult{Repository: ref}
	if f := fault.As(err); f != nil && f.Code != fault.Internal {
		res.Reason = f.Reason
		if res.Reason == "" {
			res.Reason = strings.ToUpper(strings.ReplaceAll(f.Code.String(), " ", "_"))
		}
		res.Message = f.Error()
		return res
	}
	s.log.Error().Err(err).Str("integration", in.ID).Str("repository", ref).Msg("ignore failed")
	res.Reason, res.Message = ReasonInternal, "internal error; the control plane log has the details"
	return res
}
