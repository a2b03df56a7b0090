package auth

import (
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// Reasons of authentication and authorization failures.
const (
	ReasonInvalidAPIKey        = "INVALID_API_KEY"
	ReasonInvalidDelegateToken = "INVALID_DELEGATE_TOKEN"
	ReasonPermissionMissing    = "PERMISSION_MISSING"
	ReasonFeatureFlagDisabled  = "FEATURE_FLAG_DISABLED"
)

// ErrInvalidAPIKey is returned for a missing, malformed or unknown API key.
var ErrInvalidAPIKey = fault.New(fault.Unauthenticated, ReasonInvalidAPIKey,
	"missing or invalid API key: send the metadata \"authorization: Bearer idp_ak_...\"")

// ErrInvalidDelegateToken is returned for a missing, unknown or foreign
// delegate token.
var ErrInvalidDelegateToken = fault.New(fault.Unauthenticated, ReasonInvalidDelegateToken,
	"missing or invalid delegate token: send \"authorization: Bearer idp_dt_...\" and \"x-account-id: <account>\" with a token issued for that account")

// MissingPermission is the error for a key that lacks p.
func MissingPermission(p Permission) error {
	return fault.New(fault.PermissionDenied, ReasonPermissionMissing,
		"the API key lacks permission %s on resource type %s", p, p.Resource()).
		With("permission", string(p)).
		With("resourceType", string(p.Resource()))
}

// FlagDisabled is the error for an operation gated by a flag that is off.
func FlagDisabled(accountID string, f Flag) error {
	return fault.New(fault.FailedPrecondition, ReasonFeatureFlagDisabled,
		"feature flag %s is disabled for account %s; ask an administrator to enable it", f, accountID).
		With("flag", string(f)).
		With("account", accountID)
}
