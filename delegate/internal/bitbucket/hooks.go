package bitbucket

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/catalog-discovery/bitbucket/delegate/internal/task"
	"github.com/catalog-discovery/bitbucket/shared/record"
)

// Repository fetches one repository by slug, for a targeted refresh. Its
// fields are those of the listing, so the record is the same a full sync
// would store.
func (s *Session) Repository(ctx context.Context, workspace, slug string) (record.Repository, error) {
	var repo record.Repository
	u := s.endpoint(url.Values{"fields": {repositoryItemFields}}, "repositories", workspace, slug)
	err := s.get(ctx, u, func(_ http.Header, body []byte) error {
		var err error
		repo, err = s.decodeRepository(0, body, workspace)
		return err
	})
	return repo, err
}

// repositoryItemFields are the listing's fields for a single repository.
var repositoryItemFields = func() string {
	var out []string
	for _, f := range strings.Split(repositoryFields, ",") {
		if v, ok := strings.CutPrefix(f, "values."); ok {
			out = append(out, v)
		}
	}
	return strings.Join(out, ",")
}()

// hookPageLen is the largest page of a workspace's hooks.
const hookPageLen = 100

type hookJSON struct {
	UUID   string   `json:"uuid"`
	URL    string   `json:"url"`
	Active bool     `json:"active"`
	Events []string `json:"events"`
}

type hookForm struct {
	Description string   `json:"description"`
	URL         string   `json:"url"`
	Active      bool     `json:"active"`
	Secret      string   `json:"secret"`
	Events      []string `json:"events"`
}

// EnsureHook brings the workspace's webhook delivering to spec.URL to
// spec: it lists the hooks (found by url, so running it again changes
// nothing), then updates the one found (the secret is never shown, so it
// is always set again) or creates it. An inactive spec only deactivates:
// no hook is created to be inactive. Missing scope and refusal are
// states, not errors: the integration then stays on polling.
func (s *Session) EnsureHook(ctx context.Context, workspace string, spec task.WebhookSpec) task.WebhookResult {
	found, err := s.findHook(ctx, workspace, spec.URL)
	if err != nil {
		return hookFailure(err)
	}
	body, _ := json.Marshal(hookForm{Description: spec.Description, URL: spec.URL, Active: spec.Active, Secret: spec.Secret, Events: spec.Events})
	switch {
	case found == nil && !spec.Active:
		return task.WebhookResult{State: task.WebhookInactive, Message: "no workspace webhook to deactivate"}
	case found == nil:
		var created hookJSON
		err = s.do(ctx, http.MethodPost, s.endpoint(nil, "workspaces", workspace, "hooks"), body, func(_ http.Header, b []byte) error {
			return json.Unmarshal(b, &created)
		})
		if err != nil {
			return hookFailure(err)
		}
		return task.WebhookResult{State: task.WebhookActive, HookUUID: created.UUID, Message: "workspace webhook " + created.UUID + " created"}
	}
	if err := s.do(ctx, http.MethodPut, s.endpoint(nil, "workspaces", workspace, "hooks", found.UUID), body, nil); err != nil {
		return hookFailure(err)
	}
	if !spec.Active {
		return task.WebhookResult{State: task.WebhookInactive, HookUUID: found.UUID, Message: "workspace webhook " + found.UUID + " deactivated"}
	}
	return task.WebhookResult{State: task.WebhookActive, HookUUID: found.UUID, Message: "workspace webhook " + found.UUID + " up to date"}
}

// findHook returns the workspace's hook delivering to hookURL, or nil.
func (s *Session) findHook(ctx context.Context, workspace, hookURL string) (*hookJSON, error) {
	u := s.endpoint(url.Values{"pagelen": {strconv.Itoa(hookPageLen)}}, "workspaces", workspace, "hooks")
	for u != "" {
		var found *hookJSON
		err := s.get(ctx, u, func(_ http.Header, body []byte) error {
			next, _, values, err := s.decodeEnvelope(body)
			if err != nil {
				return err
			}
			u = next
			for i, v := range values {
				var h hookJSON
				if err := decodeItem(i, v, &h); err != nil {
					return err
				}
				if h.URL == hookURL && found == nil {
					found = &h
				}
			}
			return nil
		})
		if err != nil || found != nil {
			return found, err
		}
	}
	return nil, nil
}

// hookFailure turns a failed hook request into the state it means: a 403
// naming missing scopes is the token's scope, any other 403 the
// workspace's refusal (only owners manage workspace hooks).
func hookFailure(err error) task.WebhookResult {
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusForbidden {
		if len(se.Required) > 0 || se.Message == msgScope {
			return task.WebhookResult{State: task.WebhookMissingScope, Message: err.Error()}
		}
		return task.WebhookResult{State: task.WebhookNotOwner, Message: err.Error()}
	}
	return task.WebhookResult{State: task.WebhookFailed, Message: err.Error()}
}

// msgScope is Bitbucket's message for a token without a needed scope.
const msgScope = "Your credentials lack one or more required privilege scopes."
