package correlate

import (
	"fmt"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
)

// Behavior is an integration's entity registration behaviour: which import
// actions it allows.
type Behavior int

const (
	// BehaviorRegisterAndMerge registers repositories without a match and
	// merges those with one. The default.
	BehaviorRegisterAndMerge Behavior = iota + 1
	// BehaviorRegister only creates new entities.
	BehaviorRegister
	// BehaviorMerge only links repositories to existing entities.
	BehaviorMerge
)

// ParseBehavior reads a behaviour as stored and typed: register_and_merge,
// register or merge, in any case.
func ParseBehavior(s string) (Behavior, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "register_and_merge":
		return BehaviorRegisterAndMerge, nil
	case "register":
		return BehaviorRegister, nil
	case "merge":
		return BehaviorMerge, nil
	}
	return 0, fmt.Errorf("unknown registration behaviour %q: want register_and_merge, register or merge", s)
}

func (b Behavior) String() string {
	switch b {
	case BehaviorRegisterAndMerge:
		return "register_and_merge"
	case BehaviorRegister:
		return "register"
	case BehaviorMerge:
		return "merge"
	}
	return fmt.Sprintf("Behavior(%d)", int(b))
}

// Recommendation is what the Discovered list shows for one repository.
type Recommendation struct {
	// Action is catalog.ActionMerge when a match exists and merging is
	// allowed, catalog.ActionRegister when registering is the way in, and
	// empty when nothing can be recommended.
	Action catalog.Action
	// Suggested is the best candidate when Action is catalog.ActionMerge.
	Suggested Candidate
}

// Recommend picks the action for a repository from its candidates, ranked as
// Index.Match returns them:
//   - Register & Merge: Merge into the best candidate, else Register.
//   - Register: always Register; matches are not offered, since merging is
//     not allowed.
//   - Merge: Merge into the best candidate; with none there is no
//     recommendation, because registering is not allowed and there is
//     nothing to suggest: the user picks an entity by hand or leaves the
//     repository alone.
//
// An unset behaviour acts as the default, Register & Merge.
func Recommend(b Behavior, candidates []Candidate) Recommendation {
	switch {
	case b == BehaviorRegister:
		return Recommendation{Action: catalog.ActionRegister}
	case len(candidates) > 0:
		return Recommendation{Action: catalog.ActionMerge, Suggested: candidates[0]}
	case b == BehaviorMerge:
		return Recommendation{}
	}
	return Recommendation{Action: catalog.ActionRegister}
}
