package bitbucket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
)

// Scope names as Bitbucket shows them when creating an access token.
const (
	ScopeProjectsRead     = "Projects: Read"
	ScopeRepositoriesRead = "Repositories: Read"
	ScopePullRequestsRead = "Pull requests: Read"
)

// CheckConnection checks that the session's token is valid, that it can
// see the workspace, and that it has the three read scopes a sync needs.
// Each scope is checked by calling an endpoint that needs it (the answer
// that counts); X-OAuth-Scopes is only used for pull requests when the
// workspace has no repository to ask about. An error means the check itself
// could not be made (network, 5xx after retries).
func (s *Session) CheckConnection(ctx context.Context, workspace string) (task.TestConnectionResult, error) {
	c := &connectionCheck{res: task.TestConnectionResult{TokenValid: true, WorkspaceReachable: true}}
	one := url.Values{"pagelen": {"1"}, "fields": {"values.slug"}}

	slug, scopes, err := s.probe(ctx, s.endpoint(one, "repositories", workspace))
	if stop, err := c.apply(err, ScopeRepositoriesRead); stop || err != nil {
		return c.finish(workspace), err
	}
	_, _, err = s.probe(ctx, s.endpoint(one, "workspaces", workspace, "projects"))
	if stop, err := c.apply(err, ScopeProjectsRead); stop || err != nil {
		return c.finish(workspace), err
	}
	switch {
	case slices.Contains(c.res.MissingScopes, ScopeRepositoriesRead):
		// Pull requests: Read implies Repositories: Read, so it is missing
		// too (and cannot be probed without a visible repository).
		c.res.MissingScopes = append(c.res.MissingScopes, ScopePullRequestsRead)
	case slug != "":
		_, _, err = s.probe(ctx, s.endpoint(url.Values{"pagelen": {"1"}, "fields": {"values.id"}}, "repositories", workspace, slug, "pullrequests"))
		if stop, err := c.apply(err, ScopePullRequestsRead); stop || err != nil {
			return c.finish(workspace), err
		}
	case scopes != "" && !grants(scopes, "pullrequest", "pullrequest:write", "read:pullrequest:bitbucket"):
		c.res.MissingScopes = append(c.res.MissingScopes, ScopePullRequestsRead)
	case scopes == "":
		c.unverified = ScopePullRequestsRead
	}
	c.checkWebhooks(ctx, s, workspace)
	return c.finish(workspace), nil
}

// ScopeWebhooks is the optional scope that lets the delegate register the
// workspace webhook; without it the integration polls.
const ScopeWebhooks = "Webhooks: Read and write"

// checkWebhooks asks whether the token may manage the workspace's hooks.
// The answer never fails the check: webhooks are optional.
func (c *connectionCheck) checkWebhooks(ctx context.Context, s *Session, workspace string) {
	if !c.res.TokenValid || !c.res.WorkspaceReachable {
		return
	}
	_, _, err := s.probe(ctx, s.endpoint(url.Values{"pagelen": {"1"}}, "workspaces", workspace, "hooks"))
	var se *StatusError
	switch {
	case err == nil:
		c.webhooks = "webhooks available"
	case errors.As(err, &se) && se.Code == http.StatusForbidden && (len(se.Required) > 0 || strings.Contains(strings.ToLower(se.Message), "scope")):
		c.webhooks = "optional scope " + ScopeWebhooks + " missing: changes arrive with the scheduled syncs instead of webhooks"
	case errors.As(err, &se) && se.Code == http.StatusForbidden:
		c.webhooks = "webhooks unavailable: only a workspace owner (or a workspace access token) may manage workspace webhooks; changes arrive with the scheduled syncs"
	default:
		c.webhooks = "webhooks not checked: " + err.Error()
	}
}

type connectionCheck struct {
	res        task.TestConnectionResult
	unverified string
	webhooks   string // what the optional webhook check found
}

// apply folds one probe's outcome in. stop means later probes are
// pointless (bad token, unknown workspace).
func (c *connectionCheck) apply(err error, scope string) (stop bool, _ error) {
	if err == nil {
		return false, nil
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return true, err
	}
	switch {
	case se.Code == http.StatusUnauthorized:
		// Nothing is reachable with a rejected token; saying the workspace
		// is would send users looking in the wrong place.
		c.res.TokenValid, c.res.WorkspaceReachable = false, false
		return true, nil
	case se.Code == http.StatusNotFound:
		c.res.WorkspaceReachable = false
		return true, nil
	case se.Code == http.StatusForbidden && (len(se.Required) > 0 || strings.Contains(strings.ToLower(se.Message), "scope")):
		c.res.MissingScopes = append(c.res.MissingScopes, scope)
		return false, nil
	case se.Code == http.StatusForbidden:
		c.res.WorkspaceReachable = false
		return true, nil
	default:
		return true, err
	}
}

func (c *connectionCheck) finish(workspace string) task.TestConnectionResult {
	r := c.res
	r.OK = r.TokenValid && r.WorkspaceReachable && len(r.MissingScopes) == 0
	switch {
	case !r.TokenValid:
		r.Message = "Bitbucket rejected the token (401): it is invalid, expired or revoked"
	case !r.WorkspaceReachable:
		r.Message = fmt.Sprintf("workspace %q does not exist or the token cannot see it", workspace)
	case len(r.MissingScopes) > 0:
		r.Message = "the token lacks scopes: " + strings.Join(r.MissingScopes, ", ")
	case c.unverified != "":
		r.Message = fmt.Sprintf("connection OK; %s could not be verified because the workspace has no repositories", c.unverified)
	default:
		r.Message = "connection OK: token valid, workspace reachable, all scopes present"
	}
	if c.webhooks != "" {
		r.Message += "; " + c.webhooks
	}
	return r
}

// grants reports whether an X-OAuth-Scopes value lists any of want.
func grants(scopes string, want ...string) bool {
	for _, s := range strings.FieldsFunc(scopes, func(r rune) bool { return r == ',' || r == ' ' }) {
		for _, w := range want {
			if s == w {
				return true
			}
		}
	}
	return false
}
