package webhook

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketjson"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Kind is what a delivery asks of the catalog.
type Kind int

// Kinds of actions.
const (
	// Ignore: nothing in the catalog depends on the event.
	Ignore Kind = iota
	// ApplyPullRequest: store the payload's pull request (no Bitbucket call).
	ApplyPullRequest
	// ApplyPush: add the payload's main-branch commits; a change that the
	// payload does not fully describe needs a targeted refresh.
	ApplyPush
	// Refresh: fetch the repository again (a targeted refresh), as a sync
	// would see it: created, imported, transferred in, settings changed.
	Refresh
	// Delete: the repository is gone from the workspace.
	Delete
)

func (k Kind) String() string {
	return [...]string{"ignore", "pull_request", "push", "refresh", "delete"}[k]
}

// Repository is the repository a delivery is about. Payloads carry no
// slug: it is the part of full_name after the workspace.
type Repository struct {
	UUID     string
	FullName string
	Slug     string
}

// Change is one ref update of a push.
type Change struct {
	// Branch is the branch moved (created or updated); "" for a tag or a
	// deleted branch.
	Branch string
	// Commits are the newest commits of the change, at most five.
	Commits []record.Commit
	// Complete is false when Commits may miss some: Bitbucket truncated
	// the list, the push rewrote history (forced) or created the branch.
	Complete bool
}

// Action is what a delivery asks of the catalog.
type Action struct {
	Kind        Kind
	Repository  Repository
	PullRequest record.PullRequest // ApplyPullRequest
	Changes     []Change           // ApplyPush
	Reason      string             // Ignore
}

// RefreshNeeded says whether a push on main needs a targeted refresh:
// the catalog keeps the main branch's commits, and one of its changes is
// not fully described by the payload.
func (a Action) RefreshNeeded(main string) bool {
	for _, c := range a.Changes {
		if c.Branch != "" && (c.Branch == main || main == "") && !c.Complete {
			return true
		}
	}
	return false
}

// MainCommits are the payload's commits on branch main.
func (a Action) MainCommits(main string) []record.Commit {
	var out []record.Commit
	for _, c := range a.Changes {
		if c.Branch != "" && c.Branch == main {
			out = append(out, c.Commits...)
		}
	}
	return out
}

type payloadRepository struct {
	UUID     string `json:"uuid"`
	FullName string `json:"full_name"`
}

type ref struct {
	Type   string               `json:"type"`
	Name   string               `json:"name"`
	Target bitbucketjson.Commit `json:"target"`
}

type payload struct {
	Repository  *payloadRepository         `json:"repository"`
	PullRequest *bitbucketjson.PullRequest `json:"pullrequest"`
	Push        *struct {
		Changes []struct {
			New       *ref                   `json:"new"`
			Old       *ref                   `json:"old"`
			Truncated bool                   `json:"truncated"`
			Forced    bool                   `json:"forced"`
			Created   bool                   `json:"created"`
			Commits   []bitbucketjson.Commit `json:"commits"`
		} `json:"changes"`
	} `json:"push"`
}

// Decide reads a delivery of event with body (already verified) and says
// what it asks of the catalog. Errors name what is missing or malformed;
// the delivery is then recorded as failed and nothing changes.
func Decide(event string, body []byte) (Action, error) {
	family, _, _ := strings.Cut(event, ":")
	if family != "repo" && family != "pullrequest" {
		return Action{Kind: Ignore, Reason: "event " + event + " is not subscribed to"}, nil
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Action{}, fmt.Errorf("payload of %s: %w", event, err)
	}
	repo, err := p.repository()
	if err != nil {
		return Action{}, fmt.Errorf("payload of %s: %w", event, err)
	}
	a := Action{Repository: repo}
	switch event {
	case "pullrequest:created", "pullrequest:updated", "pullrequest:fulfilled", "pullrequest:rejected",
		"pullrequest:approved", "pullrequest:unapproved", "pullrequest:changes_request_created",
		"pullrequest:changes_request_removed":
		if p.PullRequest == nil || p.PullRequest.ID <= 0 {
			return Action{}, fmt.Errorf("payload of %s: no pullrequest with a positive id", event)
		}
		if p.PullRequest.UpdatedOn.IsZero() {
			return Action{}, fmt.Errorf("payload of %s: pullrequest %d has no updated_on", event, p.PullRequest.ID)
		}
		a.Kind, a.PullRequest = ApplyPullRequest, p.PullRequest.Record(repo.UUID)
	case "repo:push":
		if p.Push == nil {
			return Action{}, fmt.Errorf("payload of %s: no push", event)
		}
		a.Kind = ApplyPush
		for _, ch := range p.Push.Changes {
			c := Change{Complete: !ch.Truncated && !ch.Forced && !ch.Created && ch.Old != nil}
			if ch.New != nil && ch.New.Type == "branch" {
				c.Branch = ch.New.Name
			}
			for _, j := range ch.Commits {
				if j.Hash == "" {
					return Action{}, fmt.Errorf("payload of %s: a commit without hash", event)
				}
				c.Commits = append(c.Commits, j.Record(repo.UUID))
			}
			a.Changes = append(a.Changes, c)
		}
	case "repo:created", "repo:updated", "repo:transfer", "repo:imported":
		a.Kind = Refresh
	case "repo:deleted":
		a.Kind = Delete
	default:
		a.Kind, a.Reason = Ignore, "event "+event+" is not subscribed to"
	}
	return a, nil
}

func (p payload) repository() (Repository, error) {
	if p.Repository == nil || p.Repository.UUID == "" {
		return Repository{}, fmt.Errorf("no repository uuid")
	}
	_, slug, ok := strings.Cut(p.Repository.FullName, "/")
	if !ok || slug == "" {
		return Repository{}, fmt.Errorf("repository full_name %q is not workspace/slug", p.Repository.FullName)
	}
	return Repository{UUID: p.Repository.UUID, FullName: p.Repository.FullName, Slug: slug}, nil
}
