package bitbucketmock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Workspace webhooks: the /2.0/workspaces/{workspace}/hooks resource. A hook
// subscribes a URL to events of every repository of the workspace; the
// delivery side is in deliver.go.

// hookEvents are the events a workspace hook may subscribe to: the spec's
// webhook_subscription enum without issue:*, since Bitbucket Issues were
// sunset in August 2026.
var hookEvents = []string{
	"project:updated",
	"pullrequest:approved", "pullrequest:changes_request_created", "pullrequest:changes_request_removed",
	"pullrequest:comment_created", "pullrequest:comment_deleted", "pullrequest:comment_reopened",
	"pullrequest:comment_resolved", "pullrequest:comment_updated", "pullrequest:created",
	"pullrequest:fulfilled", "pullrequest:push", "pullrequest:rejected", "pullrequest:unapproved",
	"pullrequest:updated",
	"repo:commit_comment_created", "repo:commit_status_created", "repo:commit_status_updated",
	"repo:created", "repo:deleted", "repo:fork", "repo:imported", "repo:push", "repo:transfer",
	"repo:updated",
}

// maxHookSecret is the spec's maxLength of secret.
const maxHookSecret = 128

// hook is one workspace webhook subscription.
type hook struct {
	uuid, url, description string
	secret                 string // "" when unset: deliveries are then unsigned
	active                 bool
	events                 []string // sorted, unique
	created                time.Time
}

func (h *hook) subscribes(event string) bool {
	_, ok := slices.BinarySearch(h.events, event)
	return h.active && ok
}

// hookStore holds the workspace's hooks, in creation order.
type hookStore struct {
	mu      sync.RWMutex
	hooks   []*hook
	created uint64 // hooks ever created; seeds their UUIDs
}

func (hs *hookStore) find(uid string) (int, *hook) {
	uid = strings.ToLower(strings.Trim(uid, "{}"))
	for i, h := range hs.hooks {
		if strings.Trim(h.uuid, "{}") == uid {
			return i, h
		}
	}
	return -1, nil
}

// subscribed returns a copy of the active hooks subscribed to event.
func (hs *hookStore) subscribed(event string) []hook {
	hs.mu.RLock()
	defer hs.mu.RUnlock()
	var out []hook
	for _, h := range hs.hooks {
		if h.subscribes(event) {
			out = append(out, *h)
		}
	}
	return out
}

// HookInfo summarises a webhook for test assertions. The secret is never
// shown, as Bitbucket never shows it.
type HookInfo struct {
	UUID        string    `json:"uuid"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Active      bool      `json:"active"`
	Events      []string  `json:"events"`
	SecretSet   bool      `json:"secret_set"`
	CreatedAt   time.Time `json:"created_at"`
}

// Hooks lists the workspace's webhooks in creation order.
func (s *Server) Hooks() []HookInfo {
	s.hooks.mu.RLock()
	defer s.hooks.mu.RUnlock()
	out := make([]HookInfo, len(s.hooks.hooks))
	for i, h := range s.hooks.hooks {
		out[i] = HookInfo{UUID: h.uuid, URL: h.url, Description: h.description, Active: h.active,
			Events: slices.Clone(h.events), SecretSet: h.secret != "", CreatedAt: h.created}
	}
	return out
}

// hookForm is a create or update body. Each field is raw so that "absent"
// (keep the value on update) and null (for secret: remove it) differ.
type hookForm map[string]json.RawMessage

// fieldErrors collects validation messages per field, in the words of
// Bitbucket's form validation.
type fieldErrors map[string][]string

func (fe fieldErrors) add(field, msg string) { fe[field] = append(fe[field], msg) }

const (
	msgRequired   = "This field is required."
	msgInvalidURL = "Enter a valid URL."
)

// applyHookForm validates form and applies it to h; create says whether url
// and events are required. It changes h only when the form is valid.
func applyHookForm(h *hook, form hookForm, create bool) fieldErrors {
	errs := fieldErrors{}
	next := *h
	str := func(field string) (string, bool, bool) { // value, given as a string, given as null
		raw, ok := form[field]
		if !ok {
			return "", false, false
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return "", true, true
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			errs.add(field, "Not a valid string.")
			return "", false, false
		}
		return v, true, false
	}
	if _, present := form["url"]; present {
		v, ok, null := str("url")
		switch {
		case null:
			errs.add("url", msgRequired)
		case ok && !validHookURL(v):
			errs.add("url", msgInvalidURL)
		case ok:
			next.url = v
		}
	} else if create {
		errs.add("url", msgRequired)
	}
	if v, ok, _ := str("description"); ok {
		next.description = v
	}
	if v, ok, null := str("secret"); ok {
		switch {
		case null:
			next.secret = ""
		case len([]rune(v)) > maxHookSecret:
			errs.add("secret", fmt.Sprintf("Ensure this field has no more than %d characters.", maxHookSecret))
		default:
			next.secret = v
		}
	}
	if raw, ok := form["active"]; ok {
		if err := json.Unmarshal(raw, &next.active); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			errs.add("active", "Must be a valid boolean.")
		}
	}
	if raw, ok := form["events"]; ok {
		var events []string
		if err := json.Unmarshal(raw, &events); err != nil {
			errs.add("events", "Expected a list of items.")
		} else {
			for _, e := range events {
				if !slices.Contains(hookEvents, e) {
					errs.add("events", fmt.Sprintf("Select a valid choice. %s is not one of the available choices.", e))
				}
			}
			slices.Sort(events)
			next.events = slices.Compact(events)
			if len(next.events) == 0 && len(errs["events"]) == 0 {
				errs.add("events", msgRequired)
			}
		}
	} else if create {
		errs.add("events", msgRequired)
	}
	if len(errs) == 0 {
		*h = next
	}
	return errs
}

// validHookURL accepts absolute http and https URLs with a host. Bitbucket
// also refuses internal addresses; the mock accepts them, since test
// receivers listen on loopback.
func validHookURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "" && u.User == nil
}

func badRequest(errs fieldErrors) reply {
	fields := obj{}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fields = append(fields, member{k, stringsToAny(errs[k])})
	}
	return jsonReply(http.StatusBadRequest, obj{{"type", "error"}, {"error", obj{{"message", "Bad request"}, {"fields", fields}}}})
}

// Scopes for managing hooks: the access-token scope webhook, plus, to create
// or update, the read scope of every event family subscribed to. API tokens
// need read:webhook:bitbucket to read, write:webhook:bitbucket as well to
// write, and delete:webhook:bitbucket alone to delete.
var hookFamilyScope = map[string]string{"repo": "repository", "pullrequest": "pullrequest", "project": "project"}

func hookScopes(t *Token, method string, events []string) []string {
	api := usesAPITokenScopes(t.Scopes)
	var need []string
	switch {
	case method == http.MethodDelete && api:
		return []string{"delete:webhook:bitbucket"}
	case api:
		need = []string{"read:webhook:bitbucket"}
		if method != http.MethodGet {
			need = append(need, "write:webhook:bitbucket")
		}
	default:
		need = []string{"webhook"}
	}
	for _, e := range events {
		family, _, _ := strings.Cut(e, ":")
		sc := hookFamilyScope[family]
		if api {
			sc = apiTokenScope[sc]
		}
		if sc != "" && !slices.Contains(need, sc) {
			need = append(need, sc)
		}
	}
	return need
}

// lacksScopes reports whether t misses any of need (in t's vocabulary).
func lacksScopes(t *Token, need []string) bool {
	for _, n := range need {
		if usesAPITokenScopes(t.Scopes) {
			if !slices.Contains(t.Scopes, n) {
				return true
			}
		} else if missingScope(t, n) != "" {
			return true
		}
	}
	return false
}

// hookCall checks what every hook request needs: the workspace, a
// credential, the scopes (for the given events), and a workspace owner.
func (c *call) hookCall(events []string) *reply {
	if bad := c.workspaceOK(false); bad != nil {
		return bad
	}
	if c.cred == nil {
		rep := c.denyAnonymous()
		return &rep
	}
	need := hookScopes(c.cred.token, c.r.Method, events)
	if lacksScopes(c.cred.token, need) {
		rep := scopeError(need, c.cred.token.Scopes)
		rep.header = http.Header{"X-Accepted-Oauth-Scopes": {strings.Join(need, ", ")}}
		return &rep
	}
	if c.cred.token.NotOwner {
		rep := errorReply(http.StatusForbidden, msgForbidden)
		return &rep
	}
	return nil
}

// readHookForm decodes a create or update body; on failure it returns the
// 400 to answer.
func (c *call) readHookForm() (hookForm, *reply) {
	var form hookForm
	body, err := io.ReadAll(http.MaxBytesReader(nil, c.r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &form)
	}
	if err != nil || form == nil {
		rep := badRequest(fieldErrors{"__all__": {"The request body must be a JSON object."}})
		return nil, &rep
	}
	return form, nil
}

// formEvents are the events a form subscribes to, for the scope check;
// applyHookForm reports a missing or invalid list.
func formEvents(form hookForm) []string {
	var events []string
	if raw, ok := form["events"]; ok {
		_ = json.Unmarshal(raw, &events)
	}
	return events
}

func (s *Server) hookSelf(v view, h *hook) string {
	return v.api + "/workspaces/" + s.ws.slug + "/hooks/" + esc(h.uuid)
}

// renderHook renders a subscription as Bitbucket does; the secret never
// leaves the server, only whether one is set.
func (s *Server) renderHook(v view, h *hook) obj {
	return obj{
		{"type", "webhook_subscription"},
		{"uuid", h.uuid},
		{"url", h.url},
		{"description", h.description},
		{"subject_type", "workspace"},
		{"subject", s.renderWorkspace(v, false)},
		{"active", h.active},
		{"created_at", stamp(h.created)},
		{"events", stringsToAny(h.events)},
		{"secret_set", h.secret != ""},
		{"read_only", nil},
		{"skip_cert_verification", false},
		{"source", nil},
		{"history_enabled", false},
		{"links", obj{{"self", link(s.hookSelf(v, h))}}},
	}
}

func (s *Server) listHooks(c *call) reply {
	if bad := c.hookCall(nil); bad != nil {
		return *bad
	}
	s.hooks.mu.RLock()
	trees := make([]obj, len(s.hooks.hooks))
	for i, h := range s.hooks.hooks {
		trees[i] = s.renderHook(c.view, h)
	}
	s.hooks.mu.RUnlock()
	return c.treeList(trees, false)
}

func (s *Server) createHook(c *call) reply {
	form, badForm := c.readHookForm()
	if bad := c.hookCall(formEvents(form)); bad != nil {
		return *bad
	}
	if badForm != nil {
		return *badForm
	}
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	g := newRNG(uint64(s.cfg.Seed), kindHook, s.hooks.created)
	h := &hook{uuid: g.uuid(), active: true, created: s.now()}
	if errs := applyHookForm(h, form, true); len(errs) > 0 {
		return badRequest(errs)
	}
	s.hooks.created++
	s.hooks.hooks = append(s.hooks.hooks, h)
	rep := jsonReply(http.StatusCreated, s.renderHook(c.view, h))
	rep.header = http.Header{"Location": {s.hookSelf(c.view, h)}}
	return rep
}

func (c *call) hookNotFound() reply {
	return errorReply(http.StatusNotFound, fmt.Sprintf("Webhook %s not found", c.r.PathValue("uid")))
}

func (s *Server) getHook(c *call) reply {
	if bad := c.hookCall(nil); bad != nil {
		return *bad
	}
	s.hooks.mu.RLock()
	defer s.hooks.mu.RUnlock()
	_, h := s.hooks.find(c.r.PathValue("uid"))
	if h == nil {
		return c.hookNotFound()
	}
	t := s.renderHook(c.view, h)
	return c.respond(t, t)
}

func (s *Server) updateHook(c *call) reply {
	form, badForm := c.readHookForm()
	if bad := c.hookCall(formEvents(form)); bad != nil {
		return *bad
	}
	if badForm != nil {
		return *badForm
	}
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	_, h := s.hooks.find(c.r.PathValue("uid"))
	if h == nil {
		return c.hookNotFound()
	}
	if errs := applyHookForm(h, form, false); len(errs) > 0 {
		return badRequest(errs)
	}
	return jsonReply(http.StatusOK, s.renderHook(c.view, h))
}

func (s *Server) deleteHook(c *call) reply {
	if bad := c.hookCall(nil); bad != nil {
		return *bad
	}
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	i, h := s.hooks.find(c.r.PathValue("uid"))
	if h == nil {
		return c.hookNotFound()
	}
	s.hooks.hooks = slices.Delete(s.hooks.hooks, i, i+1)
	return reply{status: http.StatusNoContent}
}
