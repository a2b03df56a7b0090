package access_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/delegate/internal/access"
)

func TestAPIHostsAreTheOperatorsChoice(t *testing.T) {
	t.Parallel()
	local := access.Policy{Hosts: []access.Host{{Name: "api.bitbucket.org"}, {Name: "127.0.0.1", Port: "8990"}}, PlainHTTP: true}
	tests := []struct {
		name   string
		policy access.Policy
		url    string
		want   string // "" means allowed; else a part of the refusal
	}{
		{"default host", access.Default(), "https://api.bitbucket.org/2.0", ""},
		{"default host, explicit port", access.Default(), "https://api.bitbucket.org:443/2.0", ""},
		{"default host, case", access.Default(), "https://API.Bitbucket.org/2.0", ""},
		{"default host, other port", access.Default(), "https://api.bitbucket.org:8443/2.0", `API host "api.bitbucket.org:8443" is not allowed`},
		{"attacker", access.Default(), "http://attacker/", `API host "attacker" is not allowed on this delegate: add it to --allowed-api-hosts (IDP_ALLOWED_API_HOSTS)`},
		{"default host over http", access.Default(), "http://api.bitbucket.org/2.0", "only https is allowed unless the host is listed in --allowed-api-hosts"},
		{"listed mock over http", local, "http://127.0.0.1:8990/2.0", ""},
		{"listed host, other port", local, "http://127.0.0.1:8991/2.0", `API host "127.0.0.1:8991" is not allowed`},
		{"lookalike", access.Default(), "https://api.bitbucket.org.attacker.example/2.0", "is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			err = tt.policy.CheckAPIBaseURL(u)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTokenRefsAreTheOperatorsChoice(t *testing.T) {
	t.Parallel()
	p := access.Default()
	p.Reserved = []string{"/etc/delegate/token"}
	wide := access.Policy{TokenRefs: []string{"env:*", "file:/*"}, Reserved: p.Reserved}
	tests := []struct {
		name   string
		policy access.Policy
		ref    string
		want   string
	}{
		{"default env", p, "env:BITBUCKET_TOKEN", ""},
		{"default file", p, "file:/run/secrets/bitbucket/token", ""},
		{"service account token", p, "file:/var/run/secrets/kubernetes.io/serviceaccount/token",
			`token reference "file:/var/run/secrets/kubernetes.io/serviceaccount/token" is not allowed on this delegate: it matches no pattern of --allowed-token-refs (IDP_ALLOWED_TOKEN_REFS)`},
		{"other env", p, "env:HOME", `token reference "env:HOME" is not allowed`},
		{"escape by dot-dot", p, "file:/run/secrets/../../etc/shadow", "without . or .. elements"},
		{"relative", p, "file:token", "absolute path"},
		{"delegate token", wide, "env:IDP_DELEGATE_TOKEN", `"env:IDP_DELEGATE_TOKEN" names one of the delegate's own settings and is always refused`},
		{"delegate token, lower case", wide, "env:idp_delegate_token", "always refused"},
		{"proxy password", wide, "env:PROXY_PASSWORD", "always refused"},
		{"proxy url", wide, "env:https_proxy", "always refused"},
		{"delegate token file", wide, "file:/etc/delegate/token", "always refused"},
		{"wide allows the rest", wide, "env:HOME", ""},
		{"pasted token", p, "ATCTT3xFfGN0secret", "(not shown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.CheckTokenRef(tt.ref)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "ATCTT3") {
				t.Errorf("the refusal echoes what may be a token: %v", err)
			}
		})
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"api.bitbucket.org": "api.bitbucket.org", " Mock.Local:8990 ": "mock.local:8990", "[::1]:8990": "[::1]:8990",
	} {
		h, err := access.ParseHost(in)
		if err != nil || h.String() != want {
			t.Errorf("ParseHost(%q) = %v, %v; want %s", in, h, err, want)
		}
	}
	for _, in := range []string{"", "https://api.bitbucket.org", "host/path", "host:", "host:port", "user@host"} {
		if _, err := access.ParseHost(in); err == nil {
			t.Errorf("ParseHost(%q) accepted", in)
		}
	}
}
