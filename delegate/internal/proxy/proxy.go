// Package proxy decides, once at start-up and from the environment, which
// HTTP proxy each outbound connection uses: Bitbucket API calls through
// net/http and the gRPC connection to the control plane through our own
// CONNECT dialer. One explicit Config answers for both, so the two can never
// disagree (grpc-go's built-in proxy support reads only HTTPS_PROXY and is
// switched off by a custom dialer anyway).
//
// Precedence, documented for users:
//  1. PROXY_HOST (Harness style, with PROXY_PORT, PROXY_SCHEME, PROXY_USER,
//     PROXY_PASSWORD) when set: one proxy for every target. It wins because
//     it is set for the delegate on purpose, while HTTPS_PROXY is often
//     inherited from the host.
//  2. Otherwise https_proxy/HTTPS_PROXY for https targets and
//     http_proxy/HTTP_PROXY for http targets (lowercase wins, as in
//     golang.org/x/net/http/httpproxy). The control plane always counts as
//     an https target.
//  3. no_proxy/NO_PROXY (domains, .domains, CIDRs, IPs, optional ports)
//     applies in both cases; localhost and loopback addresses are always
//     reached directly.
//  4. PROXY_MANAGER=false sends the control-plane connection direct while
//     Bitbucket still uses the proxy (Harness's switch of the same name).
//
// A proxy that refuses the credentials (407) is reported as an *AuthError
// naming it, password redacted; nobody retries that at once (AuthRetryAfter).
package proxy

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// Config is the proxy configuration read from the environment.
type Config struct {
	// Source says where the settings came from, for the start-up log.
	Source string
	// ControlPlaneDirect is PROXY_MANAGER=false.
	ControlPlaneDirect bool
	// Clock times how long a proxy that refused the credentials is left
	// alone (AuthRetryAfter); nil is the wall clock.
	Clock clock.Clock

	env      httpproxy.Config
	proxyFor func(*url.URL) (*url.URL, error)
	gate     authGate
}

// FromEnv reads the proxy variables through getenv (os.Getenv in
// production) and validates them; an error names the variable.
func FromEnv(getenv func(string) string) (*Config, error) {
	c := &Config{}
	if host := getenv("PROXY_HOST"); host != "" {
		u, err := harnessURL(getenv)
		if err != nil {
			return nil, err
		}
		c.Source = "PROXY_HOST"
		c.env.HTTPProxy = u.String()
		c.env.HTTPSProxy = u.String()
	} else {
		for _, v := range []string{"PROXY_PORT", "PROXY_USER", "PROXY_PASSWORD", "PROXY_SCHEME"} {
			if getenv(v) != "" {
				return nil, fmt.Errorf("%s is set but PROXY_HOST is not", v)
			}
		}
		c.env.HTTPSProxy, c.Source = anyEnv(getenv, "https_proxy", "HTTPS_PROXY")
		var src string
		c.env.HTTPProxy, src = anyEnv(getenv, "http_proxy", "HTTP_PROXY")
		switch {
		case c.Source != "" && src != "":
			c.Source += " and " + src
		case c.Source == "":
			c.Source = src
		}
		for name, v := range map[string]string{"HTTPS_PROXY": c.env.HTTPSProxy, "HTTP_PROXY": c.env.HTTPProxy} {
			if v == "" {
				continue
			}
			if _, err := parseProxyURL(v); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if c.Source == "" {
		c.Source = "none"
	}
	c.env.NoProxy, _ = anyEnv(getenv, "no_proxy", "NO_PROXY")
	if v := getenv("PROXY_MANAGER"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("PROXY_MANAGER: want true or false, got %q", v)
		}
		c.ControlPlaneDirect = !b
	}
	c.proxyFor = c.env.ProxyFunc()
	return c, nil
}

// anyEnv returns the first non-empty variable, lowercase first as
// httpproxy does, and its name.
func anyEnv(getenv func(string) string, names ...string) (string, string) {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v, strings.ToUpper(n)
		}
	}
	return "", ""
}

func harnessURL(getenv func(string) string) (*url.URL, error) {
	scheme := strings.ToLower(getenv("PROXY_SCHEME"))
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("PROXY_SCHEME: want http or https, got %q", scheme)
	}
	host := getenv("PROXY_HOST")
	if strings.Contains(host, "://") {
		return nil, fmt.Errorf("PROXY_HOST: want a host name, got a URL %q (put the scheme in PROXY_SCHEME)", host)
	}
	if port := getenv("PROXY_PORT"); port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("PROXY_PORT: want 1-65535, got %q", port)
		}
		host = net.JoinHostPort(host, port)
	} else if _, _, err := net.SplitHostPort(host); err != nil {
		return nil, fmt.Errorf("PROXY_PORT is required with PROXY_HOST %q", host)
	}
	u := &url.URL{Scheme: scheme, Host: host}
	user, pass := getenv("PROXY_USER"), getenv("PROXY_PASSWORD")
	switch {
	case user != "" && pass != "":
		u.User = url.UserPassword(user, pass)
	case user != "":
		u.User = url.User(user)
	case pass != "":
		return nil, fmt.Errorf("PROXY_PASSWORD is set but PROXY_USER is not")
	}
	return u, nil
}

func parseProxyURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		// httpproxy accepts host:port without a scheme as http://host:port;
		// a URL with a scheme that does not parse is not that, and read so
		// it would name the scheme as the host and print the password.
		if !strings.Contains(v, "://") {
			if u2, err2 := url.Parse("http://" + v); err2 == nil && u2.Host != "" {
				return u2, nil
			}
		}
		hint := ""
		if strings.Contains(v, "@") {
			hint = " (percent-encode the user's and password's reserved characters, e.g. %40 for @, %23 for #, %5B and %5D for [ and ])"
		}
		return nil, fmt.Errorf("not a proxy URL: %q%s", redactRaw(v), hint)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is not supported: use http:// or https://", u.Scheme)
	}
	return u, nil
}

// redactRaw hides everything before an @ in a string that failed to parse.
func redactRaw(v string) string {
	if i := strings.LastIndex(v, "@"); i >= 0 {
		return logging.Redacted + v[i:]
	}
	return v
}

// Secrets returns the proxy passwords, to register with the log scrubber.
func (c *Config) Secrets() []string {
	var out []string
	for _, v := range []string{c.env.HTTPProxy, c.env.HTTPSProxy} {
		if u, err := parseProxyURL(v); err == nil {
			if p, ok := u.User.Password(); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// ForURL returns the proxy for a request to u, or nil for a direct
// connection.
func (c *Config) ForURL(u *url.URL) (*url.URL, error) {
	return c.proxyFor(u)
}

// ForRequest adapts ForURL to http.Transport.Proxy.
func (c *Config) ForRequest(r *http.Request) (*url.URL, error) {
	return c.proxyFor(r.URL)
}

// ForControlPlane returns the proxy for the gRPC connection to addr
// (host:port), or nil for a direct connection.
func (c *Config) ForControlPlane(addr string) (*url.URL, error) {
	if c.ControlPlaneDirect {
		return nil, nil
	}
	return c.proxyFor(&url.URL{Scheme: "https", Host: addr})
}
