package auth

import (
	"context"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// Credentials is what the authenticator needs from the store.
type Credentials interface {
	APIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	DelegateTokenByHash(ctx context.Context, hash string) (DelegateToken, error)
	FeatureFlag(ctx context.Context, accountID string, flag Flag) (bool, error)
}

// Authenticator resolves presented credentials to principals and checks
// permissions and feature flags.
type Authenticator struct {
	Store Credentials
	// Seen, when set, is called with every credential that authenticated,
	// so the logger can scrub it from every line.
	Seen func(token string)
}

// BearerToken extracts the token of an "authorization: Bearer <token>" value.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// APIKey authenticates a management caller.
func (a *Authenticator) APIKey(ctx context.Context, token string) (APIKey, error) {
	if !strings.HasPrefix(token, APIKeyPrefix) {
		return APIKey{}, ErrInvalidAPIKey
	}
	k, err := a.APIKeyByHash(ctx, Hash(token))
	if err != nil {
		return APIKey{}, err
	}
	a.seen(token)
	return k, nil
}

// APIKeyByHash authenticates a caller that proved earlier that it holds
// the key with this hash (a console session keeps the hash, never the
// key). A key deleted since answers like an unknown key.
func (a *Authenticator) APIKeyByHash(ctx context.Context, hash string) (APIKey, error) {
	k, err := a.Store.APIKeyByHash(ctx, hash)
	if fault.CodeOf(err) == fault.NotFound {
		return APIKey{}, ErrInvalidAPIKey
	}
	if err != nil {
		return APIKey{}, err
	}
	return k, nil
}

// Delegate authenticates a delegate of accountID.
func (a *Authenticator) Delegate(ctx context.Context, accountID, token string) (DelegateToken, error) {
	if accountID == "" || !strings.HasPrefix(token, DelegateTokenPrefix) {
		return DelegateToken{}, ErrInvalidDelegateToken
	}
	t, err := a.Store.DelegateTokenByHash(ctx, Hash(token))
	if fault.CodeOf(err) == fault.NotFound {
		return DelegateToken{}, ErrInvalidDelegateToken
	}
	if err != nil {
		return DelegateToken{}, err
	}
	if t.AccountID != accountID {
		// Same answer as an unknown token: a token of another account
		// must not reveal that it exists.
		return DelegateToken{}, ErrInvalidDelegateToken
	}
	a.seen(token)
	return t, nil
}

func (a *Authenticator) seen(token string) {
	if a.Seen != nil {
		a.Seen(token)
	}
}

// Requirement is what an operation needs beyond a valid key.
type Requirement struct {
	Permission Permission // empty: none
	Flag       Flag       // empty: none
}

// Authorize checks that key satisfies req: the permission first (a caller
// without it learns nothing about the account's flags), then the flag.
func (a *Authenticator) Authorize(ctx context.Context, key APIKey, req Requirement) error {
	if req.Permission != "" && !key.Has(req.Permission) {
		return MissingPermission(req.Permission)
	}
	if req.Flag != "" {
		on, err := a.Store.FeatureFlag(ctx, key.AccountID, req.Flag)
		if err != nil {
			return err
		}
		if !on {
			return FlagDisabled(key.AccountID, req.Flag)
		}
	}
	return nil
}
