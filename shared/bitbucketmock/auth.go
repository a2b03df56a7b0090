package bitbucketmock

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
)

// credential is who made a request.
type credential struct {
	token *Token
	// bearer is true for "Authorization: Bearer", the way access tokens are
	// used; only those get the X-RateLimit-* headers.
	bearer bool
	// cloneUser is the user name Bitbucket embeds in https clone links.
	cloneUser string
}

// authenticate reads the Authorization header, or the access_token query
// parameter. A request with neither is anonymous (nil, true); one with
// unusable credentials is (nil, false).
func (s *Server) authenticate(r *http.Request) (*credential, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		// OAuth-style tokens may also come as ?access_token=.
		tok := r.URL.Query().Get("access_token")
		if tok == "" {
			return nil, true
		}
		h = "Bearer " + tok
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		if t, ok := s.tokens[rest]; ok {
			return &credential{token: t, bearer: true, cloneUser: "x-token-auth"}, true
		}
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, false
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		t, ok := s.tokens[pass]
		if !ok {
			return nil, false
		}
		// Access tokens take the literal user x-token-auth; API tokens take
		// the account's email address.
		switch {
		case user == "x-token-auth":
			return &credential{token: t, cloneUser: user}, true
		case strings.Contains(user, "@"):
			local, _, _ := strings.Cut(user, "@")
			return &credential{token: t, cloneUser: local}, true
		}
	}
	return nil, false
}

// Scope implications for access tokens and OAuth: project and
// pullrequest both imply repository, and every write or admin scope implies
// its read scope. API-token scopes (read:*:bitbucket) imply nothing.
var impliedBy = map[string][]string{
	"repository":  {"repository", "repository:write", "repository:admin", "repository:delete", "project", "project:admin", "pullrequest", "pullrequest:write"},
	"pullrequest": {"pullrequest", "pullrequest:write"},
	"project":     {"project", "project:admin"},
	"account":     {"account", "account:write"},
	"webhook":     {"webhook"},
}

// apiTokenScope is the API-token name of each access-token scope an endpoint
// can require.
var apiTokenScope = map[string]string{
	"repository":  "read:repository:bitbucket",
	"pullrequest": "read:pullrequest:bitbucket",
	"project":     "read:project:bitbucket",
	"account":     "read:user:bitbucket",
}

// usesAPITokenScopes tells the two scope vocabularies apart.
func usesAPITokenScopes(scopes []string) bool {
	return slices.ContainsFunc(scopes, func(s string) bool { return strings.HasSuffix(s, ":bitbucket") || s == "read:account" })
}

// missingScope returns the scope t lacks for an endpoint needing required, in
// t's own vocabulary, or "" if t has it.
func missingScope(t *Token, required string) string {
	if required == "" {
		return ""
	}
	if usesAPITokenScopes(t.Scopes) {
		need := apiTokenScope[required]
		if slices.Contains(t.Scopes, need) {
			return ""
		}
		return need
	}
	for _, have := range t.Scopes {
		if slices.Contains(impliedBy[required], have) {
			return ""
		}
	}
	return required
}
