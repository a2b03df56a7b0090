package integration

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/shared/tag"
)

// Connector says where and as whom a delegate calls Bitbucket Cloud. It
// holds a reference to the access token, never the token: only the
// delegate resolves it, inside the customer's network.
type Connector struct {
	ID        string
	AccountID string
	Name      string
	// URL is the HTTPS workspace (or repository) URL, e.g.
	// https://bitbucket.org/acme. SSH is not supported: the delegate calls
	// the REST API with an access token.
	URL string
	// Username is always x-token-auth, the user name of workspace access tokens.
	Username string
	// TokenRef is env:NAME or file:/absolute/path: the first of TokenRefs.
	TokenRef string
	// TokenRefs are every token of the connector (access tokens of the
	// same workspace, each with its own hourly allowance), in order.
	TokenRefs         []string
	APIBaseURL        string
	DelegateSelectors []string
	// Workspace is the first path segment of URL.
	Workspace string
	CreatedAt time.Time
}

// Defaults of a connector.
const (
	TokenUsername     = "x-token-auth"
	DefaultAPIBaseURL = "https://api.bitbucket.org/2.0"
	bitbucketHost     = "bitbucket.org"
)

var (
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// scp-like SSH address: git@bitbucket.org:acme/repo.git
	scpPattern       = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`)
	workspacePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)
)

// NormalizeConnector fills a connector's defaults and checks every field,
// returning an Invalid fault with one violation per bad field.
func NormalizeConnector(c *Connector) error {
	var v fault.Violations
	c.Name = strings.TrimSpace(c.Name)
	checkName(&v, "connector.name", c.Name)

	c.URL = strings.TrimSpace(c.URL)
	if ws, problem := workspaceFromURL(c.URL); problem != "" {
		v.Add("connector.url", "%s", problem)
	} else {
		c.Workspace = ws
	}

	c.Username = strings.TrimSpace(c.Username)
	if c.Username == "" {
		c.Username = TokenUsername
	}
	if c.Username != TokenUsername {
		v.Add("connector.username", "must be %s: Bitbucket Cloud workspace access tokens authenticate as %s; an API token or app password cannot be used, create a workspace access token instead", TokenUsername, TokenUsername)
	}

	normalizeTokenRefs(&v, c)

	c.APIBaseURL = strings.TrimRight(strings.TrimSpace(c.APIBaseURL), "/")
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	} else if u, err := url.Parse(c.APIBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		v.Add("connector.api_base_url", "must be an absolute http(s) URL without credentials, e.g. %s", DefaultAPIBaseURL)
	}

	sel := make([]string, 0, len(c.DelegateSelectors))
	for i, s := range c.DelegateSelectors {
		s = strings.TrimSpace(s)
		if !tag.Valid(s) {
			v.Add(indexed("connector.delegate_selectors", i), "%q is not a valid selector: %s", s, tag.Rule)
			continue
		}
		sel = append(sel, s)
	}
	slices.Sort(sel)
	c.DelegateSelectors = slices.Compact(sel)
	return v.Err("", "invalid connector")
}

// workspaceFromURL returns the workspace slug of a Bitbucket web URL, or a
// description of what is wrong with the URL.
func workspaceFromURL(raw string) (string, string) {
	const useHTTP = "SSH URLs are not supported: use the HTTPS URL (e.g. https://bitbucket.org/<workspace>) and authenticate with an access token"
	switch {
	case raw == "":
		return "", "required: the workspace URL, e.g. https://bitbucket.org/acme"
	case strings.HasPrefix(strings.ToLower(raw), "ssh://"), strings.HasPrefix(strings.ToLower(raw), "git+ssh://"), scpPattern.MatchString(raw):
		return "", useHTTP
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", "not a URL: want https://bitbucket.org/<workspace>"
	}
	if u.Scheme != "https" {
		return "", "must use https, e.g. https://bitbucket.org/<workspace>: Bitbucket Cloud is only served over HTTPS"
	}
	if u.User != nil {
		return "", "must not contain credentials: put the token behind token_ref"
	}
	// The URL only names the workspace; where the delegate calls is
	// api_base_url, so a mock server never needs another host here.
	if host := strings.ToLower(u.Host); host != bitbucketHost && host != "www."+bitbucketHost {
		return "", "must be a Bitbucket Cloud workspace or repository URL, e.g. https://bitbucket.org/<workspace>; " + u.Host + " is not Bitbucket Cloud"
	}
	first, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	ws := strings.ToLower(first)
	if !workspacePattern.MatchString(ws) {
		return "", "must name the workspace, e.g. https://bitbucket.org/acme"
	}
	return ws, ""
}

// MaxTokens is how many tokens a connector may reference.
const MaxTokens = 16

// normalizeTokenRefs makes TokenRefs the connector's tokens and TokenRef
// the first: token_refs when given, else token_ref alone. Each reference
// is checked; duplicates are refused (one token, one budget).
func normalizeTokenRefs(v *fault.Violations, c *Connector) {
	c.TokenRef = strings.TrimSpace(c.TokenRef)
	refs := make([]string, 0, len(c.TokenRefs))
	for _, r := range c.TokenRefs {
		refs = append(refs, strings.TrimSpace(r))
	}
	if len(refs) == 0 {
		if problem := checkTokenRef(c.TokenRef); problem != "" {
			v.Add("connector.token_ref", "%s", problem)
		}
		c.TokenRefs = []string{c.TokenRef}
		return
	}
	if len(refs) > MaxTokens {
		v.Add("connector.token_refs", "at most %d token references, got %d", MaxTokens, len(refs))
	}
	if c.TokenRef != "" && c.TokenRef != refs[0] {
		v.Add("connector.token_ref", "must be the first of token_refs when both are given (or give token_refs alone)")
	}
	for i, r := range refs {
		if problem := checkTokenRef(r); problem != "" {
			v.Add(indexed("connector.token_refs", i), "%s", problem)
			continue
		}
		if j := slices.Index(refs[:i], r); j >= 0 {
			v.Add(indexed("connector.token_refs", i), "%q is given twice (tokens %d and %d): each token has one budget, list it once", r, j+1, i+1)
		}
	}
	c.TokenRefs, c.TokenRef = refs, refs[0]
}

func checkTokenRef(ref string) string {
	switch {
	case ref == "":
		return "required: env:NAME or file:/absolute/path naming where the delegate finds the access token"
	case strings.HasPrefix(ref, "env:"):
		// Never echo the name either: a malformed one is often the token.
		switch name := strings.TrimPrefix(ref, "env:"); {
		case !envNamePattern.MatchString(name):
			return "env: reference must name an environment variable (letters, digits and _, not starting with a digit), e.g. env:BITBUCKET_TOKEN"
		case looksLikeToken(name):
			return "env: reference looks like the access token itself, not the name of an environment variable; set the token in the delegate's environment and give its name, e.g. env:BITBUCKET_TOKEN (and revoke the token if it was shared)"
		}
	case strings.HasPrefix(ref, "file:"):
		if p := strings.TrimPrefix(ref, "file:"); !strings.HasPrefix(p, "/") || len(p) < 2 {
			return "file: reference must be an absolute path, e.g. file:/etc/idp/bitbucket-token"
		}
	default:
		// Never echo the value: it may be the token itself.
		return "must be a reference (env:NAME or file:/absolute/path), never the token value; the delegate resolves it locally"
	}
	return ""
}

// tokenPrefixes start Atlassian tokens: workspace, project and repository
// access tokens (ATCTT), app passwords (ATBB) and API tokens (ATATT).
var tokenPrefixes = []string{"ATCTT", "ATBB", "ATATT"}

// looksLikeToken reports whether an otherwise valid environment variable
// name is more likely a pasted secret: it starts like an Atlassian token,
// or it has a long run mixing lower case, upper case and digits, where
// variable names are short upper-case words joined by underscores.
func looksLikeToken(name string) bool {
	for _, p := range tokenPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok && len(rest) >= 8 && !strings.HasPrefix(rest, "_") {
			return true
		}
	}
	for word := range strings.SplitSeq(name, "_") {
		if len(word) >= 24 && strings.ContainsAny(word, "abcdefghijklmnopqrstuvwxyz") &&
			strings.ContainsAny(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") && strings.ContainsAny(word, "0123456789") {
			return true
		}
	}
	return false
}

func checkName(v *fault.Violations, field, name string) {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		v.Add(field, "required")
	case n > 128:
		v.Add(field, "at most 128 characters, got %d", n)
	}
}

// ApplyConnectorChanges changes c to the values of draft for the fields
// named in mask (the API's names), then checks the result as a new
// connector is checked. The URL, workspace and username cannot change:
// integrations belong to the connector's workspace. token_ref in the mask
// alone makes the connector a one-token connector; with token_refs, the two
// must agree as on create.
func ApplyConnectorChanges(c *Connector, draft Connector, mask []string) error {
	var v fault.Violations
	if len(mask) == 0 {
		v.Add("update_mask", "required: name the fields to change, e.g. token_refs or delegate_selectors")
	}
	next := *c
	refsGiven := slices.Contains(mask, "token_refs")
	for _, f := range mask {
		switch f {
		case "name":
			next.Name = draft.Name
		case "url", "workspace":
			v.Add("connector."+f, "cannot change: the connector's integrations belong to workspace %q; create another connector for another workspace", c.Workspace)
		case "username":
			v.Add("connector.username", "cannot change: it is always %s", TokenUsername)
		case "token_ref":
			next.TokenRef = draft.TokenRef
			if !refsGiven {
				next.TokenRefs = nil
			}
		case "token_refs":
			next.TokenRefs = draft.TokenRefs
			if !slices.Contains(mask, "token_ref") {
				next.TokenRef = ""
			}
		case "api_base_url":
			next.APIBaseURL = draft.APIBaseURL
		case "delegate_selectors":
			next.DelegateSelectors = draft.DelegateSelectors
		default:
			v.Add("update_mask", "%q is not a field of a connector that can change", f)
		}
	}
	if err := v.Err("", "invalid connector change"); err != nil {
		return err
	}
	if err := NormalizeConnector(&next); err != nil {
		return err
	}
	*c = next
	return nil
}
