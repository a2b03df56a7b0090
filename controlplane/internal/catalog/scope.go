package catalog

import (
	"fmt"
	"strings"
)

// ScopeAccount is the scope key of the account itself.
const ScopeAccount = "account"

// ScopeKey names a scope the way metadata.integration keys it: "account",
// "account/<org>" or "account/<org>/<project>". This is the reference
// product's space path with the account id replaced by "account", which keeps
// entity YAML portable between accounts. Slashes, not dots, separate the
// parts, so that a catalog path such as
// metadata.integration.account/pay/core.<id>.repository.entity_uuid still
// names one key per level. A project without an org has no scope key; the
// caller validates that (see Validate).
func ScopeKey(org, project string) string {
	switch {
	case org == "":
		return ScopeAccount
	case project == "":
		return ScopeAccount + "/" + org
	default:
		return ScopeAccount + "/" + org + "/" + project
	}
}

// ParseScopeKey is the inverse of ScopeKey.
func ParseScopeKey(key string) (org, project string, err error) {
	parts := strings.Split(key, "/")
	if parts[0] != ScopeAccount || len(parts) > 3 {
		return "", "", fmt.Errorf("scope %q: want account, account/<org> or account/<org>/<project>", key)
	}
	for _, p := range parts[1:] {
		if !ValidIdentifier(p) {
			return "", "", fmt.Errorf("scope %q: %q %s", key, p, identifierRule)
		}
	}
	if len(parts) > 1 {
		org = parts[1]
	}
	if len(parts) > 2 {
		project = parts[2]
	}
	return org, project, nil
}
