package bitbucketmock

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the mock Bitbucket Cloud API. It is safe for concurrent use.
type Server struct {
	cfg    Config
	base   time.Time
	people []person
	tokens map[string]*Token // by value

	// mu guards the data below; mutations bump version, which keys listCache.
	mu           sync.RWMutex
	ws           workspace
	projects     []*project
	projectByKey map[string]*project
	repos        []*repo // by idx; deleted ones stay, flagged
	bySlug       map[string]*repo
	byUUID       map[string]*repo
	version      uint64
	comments     int // pull request comments added
	cache        listCache

	hooks      hookStore
	deliveries deliveryState

	limiter    limiter
	tokenState tokenState
	faults     faultState
	counters   counterSet
	handler    http.Handler
}

// New generates the workspace described by cfg.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, base: baseTime(cfg.Seed), people: genPeople(cfg.Seed),
		tokens: map[string]*Token{}, projectByKey: map[string]*project{}}
	for i := range cfg.Tokens {
		s.tokens[cfg.Tokens[i].Value] = &s.cfg.Tokens[i]
	}
	s.limiter.set(cfg.RateLimit)
	s.tokenState.revoked, s.tokenState.rates = map[string]bool{}, map[string]Rate{}
	for _, t := range s.cfg.Tokens {
		if !t.RateLimit.Unlimited() {
			s.tokenState.rates[t.Name] = t.RateLimit
		}
	}
	s.faults.cfg = cfg.Faults
	s.counters.c = newCounters()
	s.deliveries.init(cfg.Deliveries)
	s.cache.entries = map[listKey][]int{}
	s.generate()
	s.handler = s.routes()
	return s, nil
}

// Handler serves the API under /2.0/ and the control API under /_mock/.
func (s *Server) Handler() http.Handler { return s.handler }

// BaseTime is the instant generated data treats as "now": every generated
// timestamp is before it.
func (s *Server) BaseTime() time.Time { return s.base }

// Workspace is the workspace slug.
func (s *Server) Workspace() string { return s.cfg.Workspace }

// Counters returns a copy of the request counters.
func (s *Server) Counters() Counters { return s.counters.snapshot() }

// ResetCounters zeroes the request counters.
func (s *Server) ResetCounters() { s.counters.reset() }

// SetFaults replaces the fault settings; request numbering continues.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.cfg = f
	return nil
}

// Faults returns the current fault settings.
func (s *Server) Faults() Faults { return s.faults.settings() }

// FailNext makes the next len(kinds) API requests fail with kinds, in order,
// whatever the fault rate: the way to test one retry deterministically.
func (s *Server) FailNext(kinds ...FaultKind) error {
	if err := (Faults{Kinds: kinds}).validate(); err != nil {
		return err
	}
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.queue = append(s.faults.queue, kinds...)
	return nil
}

// SetRateLimit replaces the rate limit and starts every window afresh.
func (s *Server) SetRateLimit(r Rate) error {
	if r.N < 0 || r.Per < 0 {
		return fmt.Errorf("%w: rate limit %d/%v is negative", ErrInvalid, r.N, r.Per)
	}
	s.limiter.set(r)
	return nil
}

// RateLimit returns the current rate limit.
func (s *Server) RateLimit() Rate { return s.limiter.get() }

// endpoint is one API route.
type endpoint struct {
	name string
	// scope is the access-token scope the route needs ("" for any valid
	// credential), as the spec's security section lists it.
	scope string
	// anonStatus is what an anonymous caller gets for private data: the spec
	// declares 401 for pull requests, and 403 is observed for repositories.
	anonStatus int
	serve      func(*call) reply
}

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	addMethod := func(method, pattern string, e endpoint) {
		if e.anonStatus == 0 {
			e.anonStatus = http.StatusForbidden
		}
		api.Handle(method+" /2.0"+pattern, s.apiHandler(e))
	}
	add := func(pattern string, e endpoint) { addMethod(http.MethodGet, pattern, e) }
	add("/repositories/{workspace}", endpoint{name: "repositories", scope: "repository", serve: s.listRepositories})
	add("/repositories/{workspace}/{repo}", endpoint{name: "repository", scope: "repository", serve: s.getRepository})
	add("/repositories/{workspace}/{repo}/pullrequests", endpoint{name: "pullrequests", scope: "pullrequest", anonStatus: 401, serve: s.listPullRequests})
	add("/repositories/{workspace}/{repo}/pullrequests/{id}", endpoint{name: "pullrequest", scope: "pullrequest", anonStatus: 401, serve: s.getPullRequest})
	add("/repositories/{workspace}/{repo}/pullrequests/{id}/commits", endpoint{name: "pullrequest_commits", scope: "pullrequest", anonStatus: 401, serve: s.listPullRequestCommits})
	add("/repositories/{workspace}/{repo}/commits", endpoint{name: "commits", scope: "repository", serve: s.listCommits})
	add("/repositories/{workspace}/{repo}/commits/{revision}", endpoint{name: "commits", scope: "repository", serve: s.listCommits})
	add("/repositories/{workspace}/{repo}/commit/{commit}", endpoint{name: "commit", scope: "repository", serve: s.getCommit})
	add("/repositories/{workspace}/{repo}/refs/branches", endpoint{name: "branches", scope: "repository", serve: s.listBranches})
	add("/repositories/{workspace}/{repo}/refs/tags", endpoint{name: "tags", scope: "repository", serve: s.listTags})
	add("/repositories/{workspace}/{repo}/src/{commit}/{path...}", endpoint{name: "src", scope: "repository", serve: s.getSource})
	add("/workspaces/{workspace}", endpoint{name: "workspace", serve: s.getWorkspace})
	add("/workspaces/{workspace}/projects", endpoint{name: "projects", scope: "project", serve: s.listProjects})
	add("/workspaces/{workspace}/projects/{key}", endpoint{name: "project", scope: "project", serve: s.getProject})
	add("/user", endpoint{name: "user", scope: "account", anonStatus: 401, serve: s.getUser})
	// Hook endpoints check their scopes themselves: they depend on the
	// method and on the events subscribed to.
	add("/workspaces/{workspace}/hooks", endpoint{name: "hooks", serve: s.listHooks})
	addMethod(http.MethodPost, "/workspaces/{workspace}/hooks", endpoint{name: "hook_create", serve: s.createHook})
	add("/workspaces/{workspace}/hooks/{uid}", endpoint{name: "hook", serve: s.getHook})
	addMethod(http.MethodPut, "/workspaces/{workspace}/hooks/{uid}", endpoint{name: "hook_update", serve: s.updateHook})
	addMethod(http.MethodDelete, "/workspaces/{workspace}/hooks/{uid}", endpoint{name: "hook_delete", serve: s.deleteHook})
	api.Handle("/2.0/", s.apiHandler(endpoint{name: "unknown", anonStatus: 404, serve: func(*call) reply {
		return errorReply(http.StatusNotFound, "Resource not found")
	}}))

	root := http.NewServeMux()
	root.Handle("/2.0/", trimTrailingSlash(api))
	root.Handle("/_mock/", s.controlRoutes())
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeReply(w, errorReply(http.StatusNotFound, "Resource not found; the API is under /2.0/ and the control API under /_mock/"))
	})
	return root
}

// trimTrailingSlash serves ".../pullrequests/" as ".../pullrequests":
// Bitbucket accepts both, and some clients (atlassian-python-api) always
// append the slash.
func trimTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > len("/2.0/") && strings.HasSuffix(p, "/") {
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimSuffix(p, "/")
			r2.URL.RawPath = strings.TrimSuffix(r.URL.RawPath, "/")
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// call is one API request being served.
type call struct {
	s    *Server
	r    *http.Request
	ep   *endpoint
	cred *credential
	view view
}

// reply is a response before it is written, so faults can spoil it.
type reply struct {
	status      int
	contentType string
	body        []byte
	header      http.Header
	buf         *[]byte // pooled storage of body, handed back once written
}

const jsonType = "application/json; charset=utf-8"

// bodyPool recycles encoding buffers: a page of 100 repositories is 300 KB,
// and growing a fresh buffer to that size for every page was most of the
// garbage the server made.
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

func jsonReply(status int, v obj) reply {
	buf := bodyPool.Get().(*[]byte)
	*buf = encodeJSON((*buf)[:0], v)
	return reply{status: status, contentType: jsonType, body: *buf, buf: buf}
}

// release returns the body's storage to the pool; the body is unusable after.
func (r reply) release() {
	if r.buf != nil && cap(*r.buf) <= 4<<20 {
		bodyPool.Put(r.buf)
	}
}

// errorReply builds Bitbucket's standard error envelope.
func errorReply(status int, message string) reply {
	return jsonReply(status, obj{{"type", "error"}, {"error", obj{{"message", message}}}})
}

// Messages of the real error bodies.
const (
	msgBadToken      = "Token is invalid, expired, or not supported for this endpoint."
	msgMissingScope  = "Your credentials lack one or more required privilege scopes."
	msgAccessDenied  = "Access denied. You must have write or admin access."
	msgForbidden     = "Forbidden"
	msgRateLimited   = "Rate limit for this resource has been exceeded"
	msgInvalidPage   = "Invalid page"
	msgInvalidPagLen = "Invalid pagelen"
)

func setHeaders(w http.ResponseWriter, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if rep.contentType != "" {
		h.Set("Content-Type", rep.contentType)
	}
	h.Set("Cache-Control", "no-cache, no-store")
}

func writeReply(w http.ResponseWriter, rep reply) {
	setHeaders(w, rep)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// apiHandler runs an endpoint through what every API request goes through:
// numbering and fault decision, latency, authentication, rate limiting,
// scope check, the endpoint itself, counting and the log line.
func (s *Server) apiHandler(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n, fault := s.faults.draw(s.cfg.Seed)
		delay := s.cfg.Latency
		if fault == FaultSlow {
			delay += s.faults.settings().delay()
		}
		if !sleep(r.Context(), delay) {
			return
		}
		credName := "anonymous"
		rep := s.serveAPI(&e, r, fault, &credName)
		switch {
		case isBodyFault(fault) && rep.status == http.StatusOK:
			writeWithFault(w, r, rep, fault, s.faults.settings().delay())
		case isBodyFault(fault):
			fault = "" // only successful bodies are spoiled
			writeReply(w, rep)
		default:
			writeReply(w, rep)
		}
		rep.release()
		s.counters.record(e.name, credName, rep.status, fault)
		s.cfg.Logger.Debug().Uint64("n", n).Str("method", r.Method).Str("path", r.URL.Path).
			Str("query", loggableQuery(r)).Str("endpoint", e.name).Int("status", rep.status).
			Dur("duration", time.Since(start)).Str("credential", credName).Str("fault", string(fault)).
			Msg("request")
	})
}

func (s *Server) serveAPI(e *endpoint, r *http.Request, fault FaultKind, credName *string) reply {
	if fb, ok := faultBodies[fault]; ok {
		// Gateway failures happen before Bitbucket looks at the request, so
		// they cost no rate budget.
		return reply{status: fb.status, contentType: fb.contentType, body: []byte(fb.body)}
	}
	cred, ok := s.authenticate(r)
	if !ok {
		*credName = "invalid"
		return errorReply(http.StatusUnauthorized, msgBadToken)
	}
	key := "anonymous@" + clientIP(r)
	var own bool
	var tokenRate Rate
	if cred != nil {
		*credName = cred.token.Name
		key = "token:" + cred.token.Name
		var usable bool
		if usable, tokenRate, own = s.tokenAllowed(cred.token); !usable {
			// A revoked token is as unknown to Bitbucket as a wrong one.
			return errorReply(http.StatusUnauthorized, msgBadToken)
		}
	}
	allowed, used, rate := s.limiter.takeAt(key, s.cfg.Clock(), tokenRate, own)
	header := http.Header{}
	if cred != nil && cred.bearer && !rate.Unlimited() && strings.HasPrefix(r.URL.Path, "/2.0/repositories/") {
		// Scaled rate-limit headers: access tokens on repository data only.
		// Bitbucket's limit is per hour, and clients read it so; a window
		// scaled down for tests reports its hourly equivalent, so a client
		// that paces itself by the header stays within the real window.
		// NearLimit turns true under 20 % remaining.
		header.Set("X-RateLimit-Limit", strconv.FormatInt(rate.PerHour(), 10))
		header.Set("X-RateLimit-Resource", "api")
		header.Set("X-RateLimit-NearLimit", strconv.FormatBool(float64(rate.N-used) < 0.2*float64(rate.N)))
	}
	if !allowed {
		// Plain text and no Retry-After: clients get no hint how long to wait.
		return reply{status: http.StatusTooManyRequests, contentType: "text/plain", body: []byte(msgRateLimited), header: header}
	}
	if cred != nil {
		header.Set("X-OAuth-Scopes", strings.Join(cred.token.Scopes, ", "))
		if e.scope != "" {
			header.Set("X-Accepted-OAuth-Scopes", e.scope)
		}
		if need := missingScope(cred.token, e.scope); need != "" {
			rep := scopeError([]string{need}, cred.token.Scopes)
			rep.header = header
			return rep
		}
	}
	c := &call{s: s, r: r, ep: e, cred: cred, view: s.viewFor(r, cred)}
	s.mu.RLock()
	rep := e.serve(c)
	s.mu.RUnlock()
	for k, v := range rep.header {
		header[k] = v
	}
	rep.header = header
	return rep
}

// scopeError is the 403 for a credential lacking scopes: it names what the
// endpoint requires and what the credential was granted.
func scopeError(required, granted []string) reply {
	return jsonReply(http.StatusForbidden, obj{{"type", "error"}, {"error", obj{
		{"message", msgMissingScope},
		{"detail", obj{{"required", stringsToAny(required)}, {"granted", stringsToAny(granted)}}},
	}}})
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loggableQuery is the query string, unless it could carry a token.
func loggableQuery(r *http.Request) string {
	if r.URL.Query().Has("access_token") {
		return "[REDACTED]"
	}
	return r.URL.RawQuery
}
