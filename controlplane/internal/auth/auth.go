// Package auth decides who a caller is and what they may do: accounts, API
// keys carrying permissions, delegate tokens, and per-account feature flags.
//
// Credentials are high-entropy random tokens with a recognisable prefix
// (idp_ak_ for API keys, idp_dt_ for delegate tokens) so that secret
// scanners and people can tell them apart. Only their SHA-256 is stored:
// with 256 bits of entropy a fast hash is enough, and lookups stay one
// index probe.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// Permission is a right an API key carries.
type Permission string

// ResourceType is what a permission applies to.
type ResourceType string

// The permissions of the product and the resource type each applies to.
const (
	IntegrationEdit Permission = "IDP_INTEGRATION_EDIT"
	CatalogView     Permission = "IDP_CATALOG_VIEW"
	CatalogEdit     Permission = "IDP_CATALOG_EDIT"

	ResourceIntegration ResourceType = "IDP_INTEGRATION"
	ResourceCatalog     ResourceType = "IDP_CATALOG"
)

// AllPermissions is every permission, in a stable order; the bootstrap
// admin key carries them all.
var AllPermissions = []Permission{IntegrationEdit, CatalogView, CatalogEdit}

// Resource returns the resource type the permission applies to.
func (p Permission) Resource() ResourceType {
	if p == IntegrationEdit {
		return ResourceIntegration
	}
	return ResourceCatalog
}

// ParsePermission accepts a permission name, case-insensitively.
func ParsePermission(s string) (Permission, error) {
	p := Permission(strings.ToUpper(strings.TrimSpace(s)))
	if !slices.Contains(AllPermissions, p) {
		return "", fmt.Errorf("unknown permission %q: want one of %s", s, joinPermissions(AllPermissions))
	}
	return p, nil
}

func joinPermissions(ps []Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}

// Flag is a per-account feature flag.
type Flag string

// FlagAutoDiscovery gates every integration operation.
const FlagAutoDiscovery Flag = "IDP_CATALOG_CD_AUTO_DISCOVERY"

// KnownFlags lists the flags an administrator may set.
var KnownFlags = []Flag{FlagAutoDiscovery}

// ParseFlag accepts a known flag name, case-insensitively.
func ParseFlag(s string) (Flag, error) {
	f := Flag(strings.ToUpper(strings.TrimSpace(s)))
	if !slices.Contains(KnownFlags, f) {
		return "", fmt.Errorf("unknown feature flag %q: want %s", s, FlagAutoDiscovery)
	}
	return f, nil
}

// Account is a tenant. Its id is the name it was created with (a slug), so
// people can type it: `--account acme`.
type Account struct {
	ID        string
	CreatedAt time.Time
}

var accountIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateAccountID checks an account name: lower-case letters, digits,
// '-' and '_', 1 to 63 characters, starting with a letter or digit.
func ValidateAccountID(id string) error {
	if !accountIDPattern.MatchString(id) {
		return fault.InvalidField("account", "%q is not a valid account name: use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit", id)
	}
	return nil
}

// APIKey is a management credential of an account. Hash is the SHA-256 of
// the key; the key itself is shown once and never stored.
type APIKey struct {
	ID          string
	AccountID   string
	Name        string
	Hash        string
	Permissions []Permission
	CreatedAt   time.Time
}

// Has reports whether the key carries p.
func (k APIKey) Has(p Permission) bool { return slices.Contains(k.Permissions, p) }

// DelegateToken is the credential delegates of an account present.
type DelegateToken struct {
	ID        string
	AccountID string
	Name      string
	Hash      string
	CreatedAt time.Time
}

// Prefixes of generated credentials.
const (
	APIKeyPrefix        = "idp_ak_"
	DelegateTokenPrefix = "idp_dt_"
)

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a fresh credential with the given prefix: 32 random
// bytes, base32 without padding, lower case.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return prefix + strings.ToLower(tokenEncoding.EncodeToString(b))
}

// Hash returns the stored form of a credential.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
