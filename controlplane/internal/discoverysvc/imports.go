package discoverysvc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/imports"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/store"
)

// ReasonInternal is the reason of an import item that failed for a reason
// in the control plane; the import rules' reasons are in package imports.
const ReasonInternal = "INTERNAL"

// Item is one repository to import.
type Item struct {
	// Repository is the Bitbucket uuid, slug, name or workspace/slug.
	Repository string
	// Action is empty for the recommended action.
	Action catalog.Action
	// Type overrides the integration's type of a registered entity.
	Type string
	// Target is the id or identifier of the entity to merge into instead
	// of the suggested one.
	Target string
	// Owner is the owner of a registered entity instead of the suggested one.
	Owner string
	// SeenAction and SeenTarget are the recommendation the user saw, when
	// the caller knows it: the result's Notice says so when the import
	// followed a recommendation that changed since.
	SeenAction catalog.Action
	SeenTarget string
}

// Result is the outcome of one item.
type Result struct {
	Repository string
	OK         bool
	Action     catalog.Action
	Entity     store.StoredEntity
	Reason     string // UPPER_SNAKE, when not OK
	Message    string // when not OK: what went wrong and what to do
	// Notice says what was done and why, when OK and that differs from
	// what the user saw (Item.SeenAction).
	Notice string

	fullName string // the repository's full name once found
}

// Transient reports whether a failed item may succeed when tried again
// unchanged: the control plane failed (a database error, a deadlock, a
// call cut short), not the item.
func (r Result) Transient() bool { return !r.OK && r.Reason == ReasonInternal }

// Import imports the items, or with all every discovered repository that
// has a recommendation and was never unlinked (deleted repositories
// excepted). Each item is its own transaction: it succeeds or fails alone,
// and a failure changes nothing. Errors (whole call): NotFound for the
// integration; Invalid when neither items nor all is given, or both.
func (s *Service) Import(ctx context.Context, accountID, actor, integrationRef string, items []Item, all bool) ([]Result, error) {
	if all == (len(items) > 0) {
		return nil, fault.InvalidField("items", "give the repositories to import, or all, not both")
	}
	in, err := s.store.GetIntegration(ctx, accountID, integrationRef)
	if err != nil {
		return nil, err
	}
	if _, err := s.ensureFresh(ctx, in); err != nil {
		return nil, err
	}
	if all {
		if items, err = s.allItems(ctx, in); err != nil {
			return nil, err
		}
	}
	out := make([]Result, len(items))
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = s.importOne(ctx, in, actor, it, false)
		s.recordFailure(ctx, in, actor, out[i], false)
	}
	return out, nil
}

// allItems lists every repository "import all" takes.
func (s *Service) allItems(ctx context.Context, in integration.Integration) ([]Item, error) {
	var items []Item
	p := store.Page{Size: 500}
	for {
		rows, next, _, err := s.store.ListDiscovered(ctx, in.ID, store.DiscoveredFilter{}, p)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.Unlinked || !r.DeletedAt.IsZero() || r.Action == "" {
				continue
			}
			// By slug, as a person names it: the results of "all" read
			// like those of named repositories.
			items = append(items, Item{Repository: r.Slug})
		}
		if next == "" {
			return items, nil
		}
		p.Token = next
	}
}

// importOne imports one item.
func (s *Service) importOne(ctx context.Context, in integration.Integration, actor string, it Item, automatic bool) Result {
	res := Result{Repository: it.Repository, Action: it.Action, fullName: it.Repository}
	err := func() error {
		repo, err := s.store.FindRepository(ctx, in.ID, it.Repository)
		if err != nil {
			return err
		}
		res.fullName = repo.FullName
		out, action, notice, err := s.link(ctx, in, actor, repo, it, automatic)
		res.Action, res.Entity, res.Notice = action, out.Entity, notice
		return err
	}()
	if err == nil {
		res.OK = true
		return res
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		res.Reason, res.Message = ReasonInternal, "the call ended before this item was imported"
		return res
	}
	if f := fault.As(err); f != nil && f.Code != fault.Internal {
		res.Reason = cmp.Or(f.Reason, strings.ToUpper(strings.ReplaceAll(f.Code.String(), " ", "_")))
		res.Message = f.Error()
	} else {
		s.log.Error().Err(err).Str("integration", in.ID).Str("repository", res.fullName).Msg("import failed")
		res.Reason, res.Message = ReasonInternal, "internal error; the control plane log has the details"
	}
	return res
}

// recordFailure records a failed item in the event log.
func (s *Service) recordFailure(ctx context.Context, in integration.Integration, actor string, res Result, automatic bool) {
	if res.OK {
		return
	}
	typ := "import"
	if automatic {
		typ = "automatic import"
	}
	if evErr := s.store.AddEvent(ctx, store.Event{AccountID: in.AccountID, IntegrationID: in.ID, Time: s.clock.Now(), Type: store.EventImportFailed,
		Actor: actor, Repository: res.fullName, Error: res.Reason,
		Message: fmt.Sprintf("%s of %s failed: %s", typ, res.fullName, res.Message)}); evErr != nil {
		s.log.Error().Err(evErr).Str("integration", in.ID).Msg("recording an import failure failed")
	}
}

// link decides the action and the target of one repository with
// imports.Decide and imports it; notice says what differs from what the
// user saw.
func (s *Service) link(ctx context.Context, in integration.Integration, actor string, repo store.Repository, it Item, automatic bool) (store.ImportOutcome, catalog.Action, string, error) {
	rec, _, err := s.store.GetRecommendation(ctx, in.ID, repo.UUID)
	if err != nil {
		return store.ImportOutcome{}, "", "", err
	}
	st, err := s.store.GetRepositoryState(ctx, in.ID, repo.UUID)
	if err != nil {
		return store.ImportOutcome{}, "", "", err
	}
	ask := imports.Request{Behavior: in.Behavior, Repository: repo.FullName, Action: it.Action, Type: it.Type, Target: it.Target, Owner: it.Owner,
		Recommended: rec.Action, Suggested: rec.SuggestedID, Note: rec.Note, SeenAction: it.SeenAction, SeenTarget: it.SeenTarget,
		Ignored: st.Ignored, Excluded: st.ExcludedReason}
	plan, err := imports.Decide(ask)
	if err != nil {
		return store.ImportOutcome{}, plan.Action, "", err
	}
	action := plan.Action

	raw := decodeRaw(string(repo.Raw))
	props := Props(in.Fields, raw)
	now := s.clock.Now().UTC()
	key := slot(in)
	req := store.ImportRequest{AccountID: in.AccountID, IntegrationID: in.ID, RepositoryUUID: repo.UUID, Action: action,
		Automatic: automatic, PropsHash: propsHash(props), Now: now,
		Apply: func(e *catalog.Entity) error {
			if err := e.Link(key, catalog.Link{EntityUUID: repo.UUID, Action: action, ImportedAt: now}); err != nil {
				if errors.Is(err, catalog.ErrAlreadyLinked) {
					return imports.SlotTaken(err)
				}
				return err
			}
			return e.SetIngested(Source, props)
		}}
	evType, how := store.EventImported, "imported"
	if automatic {
		evType, how = store.EventAutoImported, "imported automatically"
	}

	if action == catalog.ActionRegister {
		typ := in.Type
		if it.Type != "" {
			typ = it.Type
		}
		owner, err := s.registerOwner(ctx, in, repo.UUID, it.Owner, stringProp(props, "owner"))
		if err != nil {
			return store.ImportOutcome{}, action, "", err
		}
		e, err := catalog.NewFromRepository(catalog.RegisterTemplate{Kind: in.Kind, Type: typ, Slug: repo.Slug, Name: repo.Name,
			Description: repo.Description, Owner: owner, Lifecycle: stringProp(props, "lifecycle")})
		if err != nil {
			return store.ImportOutcome{}, action, "", invalidEntity(err)
		}
		req.New = e
		req.Event = store.Event{Type: evType, Actor: actor,
			Message: fmt.Sprintf("repository %s %s: registered as %s %s", repo.FullName, how, e.Kind, e.Identifier)}
		out, err := s.store.ImportRepository(ctx, req)
		if f := fault.As(err); f != nil && f.Reason == store.ReasonIdentifierTaken {
			return out, action, "", fault.New(fault.AlreadyExists, store.ReasonIdentifierTaken,
				"a %s with identifier %s already exists; merge repository %s into it instead (action MERGE, target %s)",
				e.Kind, e.Identifier, repo.FullName, e.Identifier).With("identifier", e.Identifier)
		}
		if err != nil {
			return out, action, "", err
		}
		return out, action, imports.Notice(ask, plan, out.Entity.ID, e.Identifier), nil
	}

	target, err := s.store.GetEntity(ctx, in.AccountID, store.EntityKey{Ref: plan.Target, Kind: in.Kind})
	if fault.CodeOf(err) == fault.NotFound {
		return store.ImportOutcome{}, action, "", fault.New(fault.NotFound, imports.ReasonInvalidTarget,
			"no %s %q to merge repository %s into", in.Kind, plan.Target, repo.FullName).With("target", plan.Target)
	}
	if err != nil {
		return store.ImportOutcome{}, action, "", err
	}
	req.TargetID = target.ID
	req.Event = store.Event{Type: evType, Actor: actor, Message: fmt.Sprintf("repository %s %s: merged into %s %s",
		repo.FullName, how, target.Entity.Kind, target.Entity.Identifier)}
	out, err := s.store.ImportRepository(ctx, req)
	if err != nil {
		return out, action, "", err
	}
	if !out.Repeated {
		s.log.Info().Str("integration", in.ID).Str("repository", repo.FullName).Str("entity", out.Entity.ID).Msg("repository merged")
	}
	return out, action, imports.Notice(ask, plan, target.ID, target.Entity.Identifier), nil
}

// stringProp returns a mapped property as text, for owner and lifecycle.
func stringProp(props map[string]any, name string) string {
	s, _ := props[name].(string)
	return s
}

// invalidEntity reports an entity Register could not build.
func invalidEntity(err error) error {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var v fault.Violations
	for _, fe := range ve.Errors {
		v.Add(fe.Field, "%s", fe.Rule)
	}
	return v.Err("INVALID_ENTITY", "the entity Register would create is not valid")
}
