package bitbucketmock

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Config describes the workspace to fake and how the server behaves. The zero
// value of every field but Workspace and Tokens means "none" (no repositories,
// no rate limit, no faults, no latency).
type Config struct {
	// Workspace is the workspace slug; default "acme".
	Workspace string
	// Seed makes everything generated (names, UUIDs, dates, hashes) and every
	// fault decision reproducible.
	Seed int64
	// Repos is the number of generated repositories. About one in twenty is
	// empty (no commits, no pull requests, mainbranch null) and about one in
	// eight has a non-ASCII name.
	Repos int
	// Projects is the number of projects the repositories spread over;
	// 0 means one per 50 repositories, at least one.
	Projects int
	// PRsPerRepo and CommitsPerRepo size every non-empty repository
	// (CommitsPerRepo 0 leaves every repository empty, without pull requests).
	PRsPerRepo     int
	CommitsPerRepo int
	// Tokens are the credentials the server accepts; none means DefaultToken.
	Tokens []Token
	// RateLimit applies per credential over a rolling window; zero means none.
	RateLimit Rate
	// Faults makes a fraction of API requests fail; see Faults.
	Faults Faults
	// Deliveries tunes webhook deliveries (drop switch, timeout, retry delay).
	Deliveries DeliveryConfig
	// Latency is added to every API request (not to the control API).
	Latency time.Duration
	// Clock supplies "now" for mutations and the rate-limit window; default
	// time.Now. Generated data never reads it.
	Clock func() time.Time
	// Logger receives one debug line per request; the zero Logger is silent.
	Logger zerolog.Logger
}

// Token is one access token the mock accepts, as a Bearer token or as the
// password of Basic auth (user "x-token-auth" or an email address).
type Token struct {
	// Name identifies the credential in logs, counters and rate limiting, and
	// is the display name the token acts under; default "token-N".
	Name string
	// Value is the secret itself; it is never logged.
	Value string
	// Scopes granted, in Bitbucket's names: the access-token scopes
	// (project, repository, pullrequest, account, ...) or the API-token ones
	// (read:repository:bitbucket, ...). Empty means DefaultScopes.
	Scopes []string
	// NotOwner makes the token act as a member that is not a workspace
	// owner: it may read repositories but not manage workspace webhooks.
	NotOwner bool
	// RateLimit is the token's own allowance; zero means Config.RateLimit.
	// Bitbucket scales an access token's allowance with the workspace's
	// seats, so tokens of one workspace can differ.
	RateLimit Rate
}

// DefaultScopes are what a catalog discovery token needs.
var DefaultScopes = []string{"project", "repository", "pullrequest"}

// DefaultToken is accepted when Config.Tokens is empty, so that a mock
// started by hand can be queried with "Authorization: Bearer mock-token".
var DefaultToken = Token{Name: "default", Value: "mock-token", Scopes: DefaultScopes}

// ParseToken parses the --token syntax TOKEN[:scope,scope]. Scope names
// contain colons themselves (read:repository:bitbucket), so the value ends at
// the first colon and the rest is the scope list.
func ParseToken(s string) (Token, error) {
	value, scopes, hasScopes := strings.Cut(s, ":")
	if value == "" {
		return Token{}, errors.New("token value is empty")
	}
	t := Token{Value: value}
	if hasScopes {
		for sc := range strings.SplitSeq(scopes, ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				t.Scopes = append(t.Scopes, sc)
			}
		}
		if len(t.Scopes) == 0 {
			return Token{}, errors.New("the token lists no scope after ':'") // never echo any of the secret
		}
	}
	return t, nil
}

// Rate is N requests per rolling window Per. The zero Rate means unlimited.
type Rate struct {
	N   int
	Per time.Duration
}

// Unlimited reports whether r imposes no limit.
func (r Rate) Unlimited() bool { return r.N <= 0 || r.Per <= 0 }

// PerHour is the limit expressed per hour, as X-RateLimit-Limit states it.
func (r Rate) PerHour() int64 {
	return int64(float64(r.N) * float64(time.Hour) / float64(r.Per))
}

// String renders r the way ParseRate reads it.
func (r Rate) String() string {
	if r.Unlimited() {
		return "off"
	}
	switch r.Per {
	case time.Hour:
		return fmt.Sprintf("%d/h", r.N)
	case time.Minute:
		return fmt.Sprintf("%d/m", r.N)
	case time.Second:
		return fmt.Sprintf("%d/s", r.N)
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

var rateRe = regexp.MustCompile(`^(\d+)/(\d*)(h|m|s|ms)$`)

// ParseRate reads "1000/h", "50/10s", "5/m"; "" and "off" mean unlimited.
func ParseRate(s string) (Rate, error) {
	if s == "" || s == "off" {
		return Rate{}, nil
	}
	m := rateRe.FindStringSubmatch(s)
	if m == nil {
		return Rate{}, fmt.Errorf("rate %q: want N/UNIT or N/<count><unit>, e.g. 1000/h or 50/10s", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("rate %q: the count must be a positive integer", s)
	}
	mult := 1
	if m[2] != "" {
		if mult, err = strconv.Atoi(m[2]); err != nil || mult <= 0 {
			return Rate{}, fmt.Errorf("rate %q: the window must be positive", s)
		}
	}
	unit := map[string]time.Duration{"h": time.Hour, "m": time.Minute, "s": time.Second, "ms": time.Millisecond}[m[3]]
	return Rate{N: n, Per: time.Duration(mult) * unit}, nil
}

// FaultKind names one way an API request can go wrong.
type FaultKind string

// The faults the server can inject.
const (
	Fault500       FaultKind = "500"       // 500 with a JSON error body
	Fault502       FaultKind = "502"       // 502 with an HTML body, as from a proxy
	Fault503       FaultKind = "503"       // 503 with an HTML body
	FaultReset     FaultKind = "reset"     // headers and half the body, then a TCP reset
	FaultTruncate  FaultKind = "truncate"  // a 200 whose JSON stops halfway (Content-Length matches)
	FaultMalformed FaultKind = "malformed" // a 200 whose JSON is syntactically broken
	FaultTrickle   FaultKind = "trickle"   // the body dribbles out over Faults.Delay
	FaultSlow      FaultKind = "slow"      // the response waits Faults.Delay before starting
)

// AllFaultKinds lists every fault kind, in documentation order.
var AllFaultKinds = []FaultKind{Fault500, Fault502, Fault503, FaultReset, FaultTruncate, FaultMalformed, FaultTrickle, FaultSlow}

// DefaultFaultKinds are drawn from when Faults.Kinds is empty.
var DefaultFaultKinds = []FaultKind{Fault500, Fault502, Fault503}

// DefaultFaultDelay is Faults.Delay when unset.
const DefaultFaultDelay = 2 * time.Second

// ParseFaultKinds reads a comma-separated list such as "500,503,reset".
func ParseFaultKinds(s string) ([]FaultKind, error) {
	var kinds []FaultKind
	for k := range strings.SplitSeq(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !slices.Contains(AllFaultKinds, FaultKind(k)) {
			return nil, fmt.Errorf("fault kind %q: want some of %s", k, joinKinds(AllFaultKinds))
		}
		kinds = append(kinds, FaultKind(k))
	}
	return kinds, nil
}

func joinKinds(kinds []FaultKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// Faults makes a fraction of API requests misbehave. Whether request number n
// (counted from 1 since the server started) gets a fault, and which, depends
// only on (Config.Seed, n), so a sequential client sees the same faults on
// every run.
type Faults struct {
	// Rate is the fraction of API requests that get a fault, 0 to 1.
	Rate float64
	// Kinds are drawn from uniformly; empty means DefaultFaultKinds.
	Kinds []FaultKind
	// Delay is how long "slow" waits and "trickle" takes; 0 means
	// DefaultFaultDelay.
	Delay time.Duration
}

func (f Faults) validate() error {
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("fault rate %v: want a fraction between 0 and 1", f.Rate)
	}
	for _, k := range f.Kinds {
		if !slices.Contains(AllFaultKinds, k) {
			return fmt.Errorf("fault kind %q: want some of %s", k, joinKinds(AllFaultKinds))
		}
	}
	if f.Delay < 0 {
		return fmt.Errorf("fault delay %v is negative", f.Delay)
	}
	return nil
}

func (f Faults) kinds() []FaultKind {
	if len(f.Kinds) == 0 {
		return DefaultFaultKinds
	}
	return f.Kinds
}

func (f Faults) delay() time.Duration {
	if f.Delay == 0 {
		return DefaultFaultDelay
	}
	return f.Delay
}

// slugRe is what Bitbucket allows in workspace and repository slugs.
var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// knownScopes are the scope names Bitbucket grants, both styles.
var knownScopes = []string{
	"account", "account:write", "project", "project:admin", "repository", "repository:write",
	"repository:admin", "repository:delete", "pullrequest", "pullrequest:write", "webhook",
	"pipeline", "pipeline:write", "pipeline:variable", "runner", "runner:write",
	"read:repository:bitbucket", "write:repository:bitbucket", "read:pullrequest:bitbucket",
	"write:pullrequest:bitbucket", "read:project:bitbucket", "read:workspace:bitbucket",
	"read:user:bitbucket", "read:account", "read:webhook:bitbucket", "write:webhook:bitbucket",
	"delete:webhook:bitbucket",
}

// withDefaults validates c and fills its defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Workspace == "" {
		c.Workspace = "acme"
	}
	if !slugRe.MatchString(c.Workspace) {
		return c, fmt.Errorf("workspace %q: want lower-case letters, digits, '-', '_' or '.'", c.Workspace)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"repos", c.Repos}, {"projects", c.Projects}, {"prs per repo", c.PRsPerRepo}, {"commits per repo", c.CommitsPerRepo}} {
		if n.v < 0 {
			return c, fmt.Errorf("%s is %d: want 0 or more", n.name, n.v)
		}
	}
	if c.Projects == 0 {
		c.Projects = max(1, c.Repos/50)
	}
	if len(c.Tokens) == 0 {
		c.Tokens = []Token{DefaultToken}
	}
	tokens := make([]Token, len(c.Tokens))
	seen := map[string]bool{}
	for i, t := range c.Tokens {
		if t.Value == "" {
			return c, fmt.Errorf("token %d has an empty value", i+1)
		}
		if seen[t.Value] {
			return c, fmt.Errorf("token %d is given twice", i+1)
		}
		seen[t.Value] = true
		if t.Name == "" {
			t.Name = fmt.Sprintf("token-%d", i+1)
		}
		if len(t.Scopes) == 0 {
			t.Scopes = DefaultScopes
		}
		for _, sc := range t.Scopes {
			if !slices.Contains(knownScopes, sc) {
				return c, fmt.Errorf("token %s: unknown scope %q", t.Name, sc)
			}
		}
		t.Scopes = slices.Clone(t.Scopes)
		if t.RateLimit.N < 0 || t.RateLimit.Per < 0 {
			return c, fmt.Errorf("token %s: rate limit %d/%v is negative", t.Name, t.RateLimit.N, t.RateLimit.Per)
		}
		tokens[i] = t
	}
	c.Tokens = tokens
	if c.RateLimit.N < 0 || c.RateLimit.Per < 0 {
		return c, fmt.Errorf("rate limit %d/%v is negative", c.RateLimit.N, c.RateLimit.Per)
	}
	if err := c.Faults.validate(); err != nil {
		return c, err
	}
	if err := c.Deliveries.validate(); err != nil {
		return c, err
	}
	if c.Latency < 0 {
		return c, fmt.Errorf("latency %v is negative", c.Latency)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c, nil
}
