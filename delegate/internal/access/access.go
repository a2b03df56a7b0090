// Package access decides what a task may make the delegate use: which
// Bitbucket API hosts it calls and which token references it resolves.
// The control plane only names them; the delegate's operator decides, so a
// compromised or mistaken control plane cannot make the delegate send a
// secret of its host (its own token, a service-account token) elsewhere.
package access

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
)

// The settings an operator changes to allow more; refusals name them.
const (
	HostsSetting     = "--allowed-api-hosts (IDP_ALLOWED_API_HOSTS)"
	TokenRefsSetting = "--allowed-token-refs (IDP_ALLOWED_TOKEN_REFS)"
)

// Defaults: Bitbucket Cloud only, over https; tokens from BITBUCKET_*
// variables or mounted secrets.
var (
	DefaultHosts     = []Host{{Name: "api.bitbucket.org"}}
	DefaultTokenRefs = []string{"env:BITBUCKET_*", "file:/run/secrets/*"}
)

// reserved are references to the delegate's own settings (its token, its
// proxy credentials): never resolved for a task, whatever is allowed.
var reserved = []string{"env:IDP_*", "env:*PROXY*"}

// Host is an allowed API host. Port "" is the scheme's default port; "*"
// (for tests) is any port.
type Host struct {
	Name string
	Port string
}

func (h Host) String() string {
	if h.Port == "" {
		return h.Name
	}
	return net.JoinHostPort(h.Name, h.Port)
}

// ParseHost parses a host[:port] entry of the allowed hosts setting.
func ParseHost(v string) (Host, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" || strings.ContainsAny(v, "/@?#") {
		return Host{}, fmt.Errorf("want host[:port], e.g. api.bitbucket.org or 127.0.0.1:8990, got %q", v)
	}
	u, err := url.Parse("//" + v)
	if err != nil || u.Hostname() == "" {
		return Host{}, fmt.Errorf("want host[:port], e.g. api.bitbucket.org or 127.0.0.1:8990, got %q", v)
	}
	h := Host{Name: u.Hostname(), Port: u.Port()}
	if strings.HasSuffix(v, ":") {
		return Host{}, fmt.Errorf("port missing after the colon in %q", v)
	}
	return h, nil
}

// CheckTokenRefPattern checks an entry of the allowed token references
// setting.
func CheckTokenRefPattern(p string) error {
	kind, rest, ok := strings.Cut(p, ":")
	if !ok || rest == "" || (kind != "env" && kind != "file") {
		return fmt.Errorf("pattern %q must start with env: or file:", p)
	}
	if kind == "file" && !strings.HasPrefix(rest, "/") {
		return fmt.Errorf("pattern %q must name an absolute path", p)
	}
	return nil
}

// Policy is what this delegate lets tasks use.
type Policy struct {
	Hosts []Host
	// PlainHTTP lets the listed hosts be called over http: the operator
	// listed them, so trusts them (a local mock). Otherwise https only.
	PlainHTTP bool
	// TokenRefs are patterns; * matches any run of characters.
	TokenRefs []string
	// Reserved are file paths never resolved (the delegate's token file).
	Reserved []string
}

// Default is the policy when the operator sets nothing.
func Default() Policy {
	return Policy{Hosts: DefaultHosts, TokenRefs: DefaultTokenRefs}
}

// RefusedError says a task asked for something this delegate does not
// allow. It names the host or reference (never a secret's value) and the
// setting that would allow it.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

func refused(format string, args ...any) error {
	return &RefusedError{Msg: fmt.Sprintf(format, args...)}
}

// CheckAPIBaseURL allows u or says why not.
func (p Policy) CheckAPIBaseURL(u *url.URL) error {
	host := strings.ToLower(u.Hostname())
	defaultPort := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	listed := false
	for _, h := range p.Hosts {
		if h.Name == host && (h.Port == "*" || h.Port == port || h.Port == "" && port == defaultPort) {
			listed = true
			break
		}
	}
	if !listed {
		return refused("API host %q is not allowed on this delegate: add it to %s (allowed: %s)",
			u.Host, HostsSetting, p.hostList())
	}
	if u.Scheme != "https" && !p.PlainHTTP {
		return refused("API base URL of host %q uses %s: only https is allowed unless the host is listed in %s",
			u.Host, u.Scheme, HostsSetting)
	}
	return nil
}

func (p Policy) hostList() string {
	if len(p.Hosts) == 0 {
		return "none"
	}
	names := make([]string, len(p.Hosts))
	for i, h := range p.Hosts {
		names[i] = h.String()
	}
	return strings.Join(names, ",")
}

// CheckTokenRef allows a token reference or says why not. A malformed
// reference is not echoed: it is sometimes the token itself.
func (p Policy) CheckTokenRef(ref string) error {
	kind, name, ok := strings.Cut(ref, ":")
	if !ok || name == "" || (kind != "env" && kind != "file") {
		return refused("token reference (not shown) is not of the form env:NAME or file:/path")
	}
	if kind == "file" && (!strings.HasPrefix(name, "/") || path.Clean(name) != name) {
		return refused("token reference %q must be an absolute path without . or .. elements", ref)
	}
	for _, r := range reserved {
		if match(strings.ToUpper(r), strings.ToUpper(ref)) {
			return refused("token reference %q names one of the delegate's own settings and is always refused", ref)
		}
	}
	for _, f := range p.Reserved {
		if f != "" && kind == "file" && path.Clean(f) == name {
			return refused("token reference %q names one of the delegate's own settings and is always refused", ref)
		}
	}
	for _, pat := range p.TokenRefs {
		if match(pat, ref) {
			return nil
		}
	}
	return refused("token reference %q is not allowed on this delegate: it matches no pattern of %s (allowed: %s)",
		ref, TokenRefsSetting, strings.Join(p.TokenRefs, ","))
}

// match reports whether s matches pattern, where * matches any run of
// characters (slashes included) and everything else is literal.
func match(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
