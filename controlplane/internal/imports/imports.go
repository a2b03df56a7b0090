// Package imports decides what importing a discovered repository does: what
// the Discovered list recommends (only what can succeed, and why when it is
// not the obvious choice), which action and target an import takes, whether
// it can go ahead given the links already in place, and what the user is
// told when it cannot or when it did something else than they saw. Its
// functions are pure: the discovery service gathers the facts, and the store
// applies the decision in the transaction that read them.
package imports

import (
	"fmt"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/correlate"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/integration"
)

// Reasons of import items that fail.
const (
	// ReasonNoMatch: Merge without a target, and no entity matches.
	ReasonNoMatch = "NO_MATCH"
	// ReasonActionNotAllowed: the integration's behaviour forbids the action.
	ReasonActionNotAllowed = "ACTION_NOT_ALLOWED"
	// ReasonInvalidType: a type that is not valid, or given with Merge.
	ReasonInvalidType = "INVALID_TYPE"
	// ReasonInvalidOwner: an owner given with Merge (a merged entity keeps
	// its own owner).
	ReasonInvalidOwner = "INVALID_OWNER"
	// ReasonInvalidTarget: the merge target is not of the integration's kind.
	ReasonInvalidTarget = "INVALID_TARGET"
	// ReasonAlreadyImported: the repository is linked already (register), or
	// linked to another entity than the one named (merge).
	ReasonAlreadyImported = "ALREADY_IMPORTED"
	// ReasonEntityLinked: the merge target already feeds from another
	// repository, of the same integration or of another one (an entity
	// holds the ingested data of one integration).
	ReasonEntityLinked = "ENTITY_LINKED"
	// ReasonNotImported: unlink of a repository that is not linked.
	ReasonNotImported = "NOT_IMPORTED"
	// ReasonIgnored: the repository was ignored; un-ignore it first.
	ReasonIgnored = "IGNORED"
	// ReasonExcludedByFilter: the integration's filter leaves the
	// repository out.
	ReasonExcludedByFilter = "EXCLUDED_BY_FILTER"
)

// Recommendation is what the Discovered list offers for one repository.
type Recommendation struct {
	// Action is empty when nothing can be recommended.
	Action catalog.Action
	// Suggested is the entity to merge into, for Merge.
	Suggested correlate.Candidate
	// Note says why, when the recommendation is not the obvious one.
	Note string
}

// Recommend picks what to offer for a repository from its candidates,
// ranked best first; feeds holds, by entity id, what already feeds the
// candidates that another integration links (an entity takes the data of
// one integration, so merging into one of those would fail), and
// registerTaken is the identifier Register would create when an entity
// already has it (so Register would fail), else empty. Merge is offered
// into the best candidate nobody else feeds; when every candidate is fed
// elsewhere, Register is offered instead where the behaviour allows it and
// the identifier is free, and otherwise nothing; the note says which entity
// was passed over and why, or what to do when nothing can be offered.
func Recommend(b correlate.Behavior, candidates []correlate.Candidate, feeds map[string]catalog.Feed, registerTaken string) Recommendation {
	free := make([]correlate.Candidate, 0, len(candidates))
	var taken []correlate.Candidate
	for _, c := range candidates {
		if _, ok := feeds[c.TargetID]; ok {
			taken = append(taken, c)
			continue
		}
		free = append(free, c)
	}
	r := correlate.Recommend(b, free)
	out := Recommendation{Action: r.Action, Suggested: r.Suggested}
	clash := fmt.Sprintf("an entity with identifier %s, the one Register would create, exists already", registerTaken)
	if out.Action == catalog.ActionRegister && registerTaken != "" {
		out.Action = ""
	}
	if b == correlate.BehaviorRegister {
		if out.Action == "" {
			out.Note = clash + " and behaviour REGISTER does not merge: rename or remove that entity, or leave the repository"
		}
		return out
	}
	switch {
	case len(taken) > 0 && (len(free) == 0 || rankedBefore(candidates, taken[0], free[0])):
		f := feeds[taken[0].TargetID]
		fed := fmt.Sprintf("the best match, %s, already feeds from repository %s of integration %s",
			name(taken[0]), f.Repository, f.IntegrationName)
		switch out.Action {
		case catalog.ActionMerge:
			out.Note = fmt.Sprintf("%s; suggesting %s instead", fed, name(out.Suggested))
		case catalog.ActionRegister:
			out.Note = fmt.Sprintf("%s: Register creates a new entity instead; to merge into %s, unlink that repository in %s first",
				fed, name(taken[0]), f.IntegrationName)
		case "":
			if b == correlate.BehaviorMerge {
				out.Note = fmt.Sprintf("%s, and behaviour MERGE does not register: unlink that repository in %s first, or merge into another entity",
					fed, f.IntegrationName)
			} else {
				out.Note = fmt.Sprintf("%s, and %s: unlink that repository in %s first, or merge into another entity", fed, clash, f.IntegrationName)
			}
		}
	case out.Action == "" && b == correlate.BehaviorMerge:
		out.Note = "no catalog entity matches and behaviour MERGE does not register: merge into an entity you choose, or leave the repository"
	case out.Action == "":
		out.Note = "no catalog entity matches and " + clash + ": merge into it by naming it, or leave the repository"
	}
	return out
}

// rankedBefore reports whether a comes before b in candidates.
func rankedBefore(candidates []correlate.Candidate, a, b correlate.Candidate) bool {
	for _, c := range candidates {
		switch c.TargetID {
		case a.TargetID:
			return true
		case b.TargetID:
			return false
		}
	}
	return false
}

func name(c correlate.Candidate) string {
	if c.Identifier != "" {
		return c.Identifier
	}
	return c.TargetID
}

// Request is one import as asked, with the recommendation it may rely on.
type Request struct {
	Behavior   integration.Behavior
	Repository string // full name
	// Action is empty for the recommended one; Type (Register) and Target
	// (Merge, an entity id or identifier) override the integration's type
	// and the suggestion.
	Action catalog.Action
	Type   string
	Target string
	// Owner (Register) overrides the suggested owner.
	Owner string
	// Recommended and Suggested are the current recommendation.
	Recommended catalog.Action
	Suggested   string // entity id
	// Note is the current recommendation's note.
	Note string
	// SeenAction and SeenTarget are the recommendation the user saw, when
	// the caller says so.
	SeenAction catalog.Action
	SeenTarget string
	// Ignored is true when a user ignored the repository; Excluded says
	// why the integration's filter leaves it out, when it does.
	Ignored  bool
	Excluded string
}

// Plan is the action an import takes.
type Plan struct {
	Action catalog.Action
	// Target is the entity id or identifier to merge into.
	Target string
}

// Decide picks the action and target of an import, or refuses it:
// FailedPrecondition (NO_MATCH, ACTION_NOT_ALLOWED), Invalid
// (INVALID_TYPE, or an unknown action).
func Decide(r Request) (Plan, error) {
	action := r.Action
	if action == "" {
		action = r.Recommended
		if r.Target != "" {
			action = catalog.ActionMerge
		}
	}
	switch {
	case r.Ignored:
		return Plan{}, fault.New(fault.FailedPrecondition, ReasonIgnored,
			"repository %s is ignored; un-ignore it first (idpctl discovered unignore)", r.Repository).With("repository", r.Repository)
	case r.Excluded != "":
		return Plan{}, fault.New(fault.FailedPrecondition, ReasonExcludedByFilter,
			"the integration's filter leaves repository %s out (%s); change the filter to import it", r.Repository, r.Excluded).
			With("repository", r.Repository)
	case action == "" && r.Note != "":
		return Plan{}, fault.New(fault.FailedPrecondition, ReasonNoMatch, "nothing can be recommended for repository %s: %s", r.Repository, r.Note)
	case action == "":
		return Plan{}, fault.New(fault.FailedPrecondition, ReasonNoMatch,
			"no catalog entity can take repository %s and behaviour MERGE does not register; choose an entity to merge into", r.Repository)
	case action == catalog.ActionRegister && r.Behavior == integration.Merge:
		return Plan{Action: action}, fault.New(fault.FailedPrecondition, ReasonActionNotAllowed,
			"the integration's behaviour is MERGE: repositories are linked to existing entities, not registered")
	case action == catalog.ActionMerge && r.Behavior == integration.Register:
		return Plan{Action: action}, fault.New(fault.FailedPrecondition, ReasonActionNotAllowed,
			"the integration's behaviour is REGISTER: repositories become new entities and are not merged")
	case action == catalog.ActionMerge && r.Type != "":
		return Plan{Action: action}, fault.New(fault.Invalid, ReasonInvalidType,
			"a type applies to Register only; a merged entity keeps its own type")
	case action == catalog.ActionMerge && r.Owner != "":
		return Plan{Action: action}, fault.New(fault.Invalid, ReasonInvalidOwner,
			"an owner applies to Register only; a merged entity keeps its own owner")
	case r.Type != "" && !integration.ValidType(r.Type):
		return Plan{Action: action}, fault.New(fault.Invalid, ReasonInvalidType,
			"%q is not a valid type (e.g. service, library, website)", r.Type)
	case action != catalog.ActionRegister && action != catalog.ActionMerge:
		return Plan{Action: action}, fault.New(fault.Invalid, "", "unknown import action %q", action)
	}
	p := Plan{Action: action}
	if action == catalog.ActionMerge {
		p.Target = r.Target
		if p.Target == "" {
			p.Target = r.Suggested
		}
		if p.Target == "" {
			return p, fault.New(fault.FailedPrecondition, ReasonNoMatch,
				"no catalog entity matches repository %s; name the entity to merge it into", r.Repository)
		}
	}
	return p, nil
}

// Notice says what an import did and why, when that differs from what the
// user saw: the import followed the recommendation (no action given) and
// the recommendation changed since it was shown. target names the entity
// the import linked (identifier), id its id. It is empty when nothing
// differs or when the caller did not say what the user saw.
func Notice(r Request, p Plan, id, target string) string {
	if r.Action != "" || r.Target != "" || r.SeenAction == "" {
		return ""
	}
	sameTarget := r.SeenTarget == "" || r.SeenTarget == id || r.SeenTarget == target
	if p.Action == r.SeenAction && (p.Action != catalog.ActionMerge || sameTarget) {
		return ""
	}
	seen := string(r.SeenAction)
	if r.SeenAction == catalog.ActionMerge && r.SeenTarget != "" {
		seen += " into " + r.SeenTarget
	}
	did := "registered as " + target
	if p.Action == catalog.ActionMerge {
		did = "merged into " + target
	}
	why := "the catalog changed since the list was shown"
	if r.Note != "" {
		why = r.Note
	}
	return fmt.Sprintf("%s: the recommendation changed from %s since it was shown: %s", did, seen, why)
}

// Facts are the links in place when an import is applied, read in the
// transaction that applies it.
type Facts struct {
	IntegrationID string
	Repository    string // full name
	Action        catalog.Action
	// Linked is the id of the entity the repository is linked to already,
	// empty when it is not linked.
	Linked string
	// TargetID and TargetIdentifier name the Merge target.
	TargetID, TargetIdentifier string
	// TargetFeed is what feeds the Merge target already, nil when nothing.
	TargetFeed *catalog.Feed
}

// Check decides whether an import may be applied given the links in place.
// repeated is true when the repository is already linked to the merge
// target: nothing is to change. Errors: FailedPrecondition
// (ALREADY_IMPORTED, ENTITY_LINKED), each naming what to unlink.
func Check(f Facts) (repeated bool, err error) {
	switch {
	case f.Linked != "" && f.Action == catalog.ActionMerge && f.Linked == f.TargetID:
		return true, nil
	case f.Linked != "" && f.Action == catalog.ActionMerge:
		return false, fault.New(fault.FailedPrecondition, ReasonAlreadyImported,
			"repository %s is already linked to entity %s; it cannot also be linked to %s (unlink it first)", f.Repository, f.Linked, f.TargetID).
			With("repository", f.Repository).With("entityId", f.Linked)
	case f.Linked != "":
		return false, fault.New(fault.FailedPrecondition, ReasonAlreadyImported,
			"repository %s is already linked to entity %s; it cannot be registered again", f.Repository, f.Linked).
			With("repository", f.Repository).With("entityId", f.Linked)
	case f.Action != catalog.ActionMerge || f.TargetFeed == nil:
		return false, nil
	case f.TargetFeed.IntegrationID == f.IntegrationID:
		return false, fault.New(fault.FailedPrecondition, ReasonEntityLinked,
			"entity %s already feeds from repository %s of this integration; unlink that one first", f.TargetIdentifier, f.TargetFeed.Repository).
			With("entityId", f.TargetID).With("repository", f.TargetFeed.Repository)
	}
	// The ingested data of an entity is one overlay per source, so two
	// integrations would overwrite each other on every sync.
	return false, fault.New(fault.FailedPrecondition, ReasonEntityLinked,
		"entity %s already feeds from repository %s of integration %s; an entity takes the data of one integration: unlink the repository in %s first",
		f.TargetIdentifier, f.TargetFeed.Repository, f.TargetFeed.IntegrationName, f.TargetFeed.IntegrationName).
		With("entityId", f.TargetID).With("repository", f.TargetFeed.Repository).With("integrationId", f.TargetFeed.IntegrationID)
}

// CheckIgnore decides whether a repository may be ignored: an imported one
// may not (ignoring is for what is not in the catalog; unlink it first).
func CheckIgnore(repository string, linked bool) error {
	if linked {
		return fault.New(fault.FailedPrecondition, ReasonAlreadyImported,
			"repository %s is imported; only discovered repositories can be ignored (unlink it first)", repository).With("repository", repository)
	}
	return nil
}

// NotImported is the fault of an unlink of a repository that is not linked.
func NotImported(repository string) error {
	return fault.New(fault.FailedPrecondition, ReasonNotImported, "repository %s is not imported; there is nothing to unlink", repository).
		With("repository", repository)
}

// SlotTaken is the fault of an entity whose link slot of the integration
// already holds another repository (catalog.ErrAlreadyLinked).
func SlotTaken(err error) error {
	return fault.New(fault.FailedPrecondition, ReasonEntityLinked, "%v", err)
}
