package catalog

import (
	"strings"
	"testing"
)

func TestIdentifierFromSlug(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 200)
	tests := []struct{ slug, want string }{
		{"payments-api", "payments_api"},
		{"payments_api", "payments_api"},
		{"Payments.API", "Payments_API"},
		{"web--ui", "web__ui"},
		{"café", "caf_"},
		{"日本", "__"},
		{"2fa-service", "_2fa_service"},
		{"", "_"},
		{"-", "_"},
		{long, long[:128]},
		{"9" + long, "_9" + long[:126]},
	}
	for _, tc := range tests {
		got := IdentifierFromSlug(tc.slug)
		if got != tc.want {
			t.Errorf("IdentifierFromSlug(%q) = %q, want %q", tc.slug, got, tc.want)
		}
		if !ValidIdentifier(got) {
			t.Errorf("IdentifierFromSlug(%q) = %q is not a valid identifier", tc.slug, got)
		}
	}
}

func TestValidIdentifier(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"a": true, "_": true, "A_1": true, strings.Repeat("a", 128): true,
		"": false, "1a": false, "a-b": false, "a b": false, strings.Repeat("a", 129): false, "é": false,
	} {
		if got := ValidIdentifier(s); got != want {
			t.Errorf("ValidIdentifier(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestScopeKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ org, project, key string }{
		{"", "", "account"},
		{"default", "", "account/default"},
		{"default", "pay", "account/default/pay"},
	}
	for _, tc := range tests {
		if got := ScopeKey(tc.org, tc.project); got != tc.key {
			t.Errorf("ScopeKey(%q, %q) = %q, want %q", tc.org, tc.project, got, tc.key)
		}
		org, project, err := ParseScopeKey(tc.key)
		if err != nil || org != tc.org || project != tc.project {
			t.Errorf("ParseScopeKey(%q) = %q, %q, %v", tc.key, org, project, err)
		}
	}
	for _, bad := range []string{"", "Account", "org/default", "account/", "account/a/b/c", "account/my-org", "account.default"} {
		if _, _, err := ParseScopeKey(bad); err == nil {
			t.Errorf("ParseScopeKey(%q) succeeded", bad)
		}
	}
}
