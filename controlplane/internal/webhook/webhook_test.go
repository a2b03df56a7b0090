package webhook

import (
	"errors"
	"testing"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/bitbucketmock"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"repository":{"uuid":"{1}"}}`)
	good := bitbucketmock.Signature("s3cret", body)
	tests := []struct {
		name, secret, sig string
		body              []byte
		want              error
	}{
		{"signed by Bitbucket", "s3cret", good, body, nil},
		{"no header", "s3cret", "", body, ErrUnsigned},
		{"other secret", "other", good, body, ErrBadSignature},
		{"body changed", "s3cret", good, []byte(`{"repository":{"uuid":"{2}"}}`), ErrBadSignature},
		{"sha1 prefix", "s3cret", "sha1=" + good[len("sha256="):], body, ErrBadSignature},
		{"not hex", "s3cret", "sha256=zz", body, ErrBadSignature},
		{"truncated", "s3cret", good[:len(good)-2], body, ErrBadSignature},
		{"no secret stored", "", bitbucketmock.Signature("", body), body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.secret, tt.body, tt.sig); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSupersedes(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name             string
		stored, incoming time.Time
		want             bool
	}{
		{"newer wins", t0, t0.Add(time.Second), true},
		{"older loses", t0, t0.Add(-time.Second), false},
		{"same version changes nothing", t0, t0, false},
		{"first version", time.Time{}, t0, true},
		{"no updated_on never replaces one", t0, time.Time{}, false},
		{"neither has one", time.Time{}, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Supersedes(tt.stored, tt.incoming); got != tt.want {
				t.Fatalf("Supersedes(%v, %v) = %v, want %v", tt.stored, tt.incoming, got, tt.want)
			}
		})
	}
}

func TestURLAndPublicURL(t *testing.T) {
	if got := URL("https://idp.example.com/", "int_1"); got != "https://idp.example.com/hooks/bitbucket/int_1" {
		t.Fatalf("URL = %q", got)
	}
	if got := URL("", "int_1"); got != "" {
		t.Fatalf("URL without a public address = %q, want empty", got)
	}
	for s, ok := range map[string]bool{
		"https://idp.example.com":      true,
		"http://10.0.0.1:7480/base":    true,
		"ftp://idp.example.com":        false,
		"idp.example.com":              false,
		"https://u:p@idp.example.com":  false,
		"https://idp.example.com/?a=b": false,
		"https://":                     false,
	} {
		if err := CheckPublicURL(s); (err == nil) != ok {
			t.Errorf("CheckPublicURL(%q) = %v, want ok=%v", s, err, ok)
		}
	}
	if a, b := NewSecret(), NewSecret(); a == b || len(a) != 64 {
		t.Fatalf("NewSecret gave %q and %q", a, b)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name      string
		st        Status
		publicURL string
		want      State
		working   bool
	}{
		{"no public address", Status{State: Active}, "", NotConfigured, false},
		{"never reported", Status{}, "https://idp", Pending, false},
		{"active", Status{State: Active}, "https://idp", Active, true},
		{"missing scope", Status{State: MissingScope}, "https://idp", MissingScope, false},
		{"not owner", Status{State: NotOwner}, "https://idp", NotOwner, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.st.Effective(tt.publicURL); got != tt.want {
				t.Fatalf("Effective = %s, want %s", got, tt.want)
			}
			if got := tt.st.Working(tt.publicURL); got != tt.working {
				t.Fatalf("Working = %v, want %v", got, tt.working)
			}
			if (Hint(tt.want) == "") != tt.working {
				t.Fatalf("Hint(%s) = %q: a hint is due exactly when the hook is not working", tt.want, Hint(tt.want))
			}
		})
	}
}
