package bitbucketmock

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
)

// Several access tokens of one workspace: each has its own rolling-window
// allowance (Bitbucket counts per access token), which may differ from the
// server-wide RateLimit (Bitbucket scales it with the workspace's seats),
// and each can be revoked, after which Bitbucket answers 401 as for any
// unknown token.

// tokenState is what changes about tokens while the server runs.
type tokenState struct {
	mu      sync.Mutex
	revoked map[string]bool // by token name
	rates   map[string]Rate // by token name; absent: the server's RateLimit
}

// TokenInfo describes one token, never its value.
type TokenInfo struct {
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	Revoked bool     `json:"revoked"`
	// RateLimit is the token's own limit ("" when it follows the server's).
	RateLimit string `json:"rate_limit,omitempty"`
}

// TokenChange changes one token; nil fields stay as they are.
type TokenChange struct {
	// Revoked makes Bitbucket refuse the token (401) or accept it again.
	Revoked *bool `json:"revoked,omitempty"`
	// RateLimit gives the token its own limit, e.g. "2000/h"; "" goes back
	// to the server's. Its window starts afresh.
	RateLimit *string `json:"rate_limit,omitempty"`
}

// Tokens lists the accepted tokens in configuration order.
func (s *Server) Tokens() []TokenInfo {
	s.tokenState.mu.Lock()
	defer s.tokenState.mu.Unlock()
	out := make([]TokenInfo, 0, len(s.cfg.Tokens))
	for _, t := range s.cfg.Tokens {
		ti := TokenInfo{Name: t.Name, Scopes: slices.Clone(t.Scopes), Revoked: s.tokenState.revoked[t.Name]}
		if r, ok := s.tokenState.rates[t.Name]; ok {
			ti.RateLimit = r.String()
		}
		out = append(out, ti)
	}
	return out
}

// ChangeToken revokes or restores a token, or sets its own rate limit.
// Errors: ErrNotFound for an unknown name, ErrInvalid for a bad rate.
func (s *Server) ChangeToken(name string, c TokenChange) (TokenInfo, error) {
	if !slices.ContainsFunc(s.cfg.Tokens, func(t Token) bool { return t.Name == name }) {
		return TokenInfo{}, fmt.Errorf("%w: token %q (tokens are named in configuration order: token-1, token-2, ...)", ErrNotFound, name)
	}
	var rate Rate
	if c.RateLimit != nil && *c.RateLimit != "" {
		r, err := ParseRate(*c.RateLimit)
		if err != nil {
			return TokenInfo{}, fmt.Errorf("%w: rate_limit: %v", ErrInvalid, err)
		}
		rate = r
	}
	s.tokenState.mu.Lock()
	if c.Revoked != nil {
		s.tokenState.revoked[name] = *c.Revoked
	}
	if c.RateLimit != nil {
		if *c.RateLimit == "" {
			delete(s.tokenState.rates, name)
		} else {
			s.tokenState.rates[name] = rate
		}
		s.limiter.forget("token:" + name)
	}
	s.tokenState.mu.Unlock()
	for _, ti := range s.Tokens() {
		if ti.Name == name {
			return ti, nil
		}
	}
	return TokenInfo{}, nil
}

// tokenAllowed reports whether a token may be used now (not revoked), and
// the rate that applies to it (zero Rate: the server's).
func (s *Server) tokenAllowed(t *Token) (ok bool, rate Rate, own bool) {
	s.tokenState.mu.Lock()
	defer s.tokenState.mu.Unlock()
	rate, own = s.tokenState.rates[t.Name]
	return !s.tokenState.revoked[t.Name], rate, own
}

func (s *Server) tokenRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /_mock/tokens", func(w http.ResponseWriter, _ *http.Request) { writeControl(w, s.Tokens(), nil) })
	m.HandleFunc("PATCH /_mock/tokens/{name}", func(w http.ResponseWriter, r *http.Request) {
		var c TokenChange
		if !decode(w, r, &c) {
			return
		}
		ti, err := s.ChangeToken(r.PathValue("name"), c)
		writeControl(w, ti, err)
	})
}
