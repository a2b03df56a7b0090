package catalog

import (
	"regexp"
	"strings"
)

// MaxIdentifierLen is the longest identifier IDP accepts.
const MaxIdentifierLen = 128

// identifierPattern is the Harness identifier rule, shared by entity, org
// and project identifiers.
var identifierPattern = regexp.MustCompile(`^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)

// identifierRule is the rule text shown when an identifier is refused.
const identifierRule = `must match ^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`

// ValidIdentifier reports whether s follows the identifier rule.
func ValidIdentifier(s string) bool { return identifierPattern.MatchString(s) }

// IdentifierFromSlug derives an entity identifier from a repository slug the
// way Register does: every character outside [0-9a-zA-Z_] becomes "_" (one
// "_" per character, not per byte, so "café" gives "caf_"). The result is
// then made valid: an empty result becomes "_", one starting with a digit is
// prefixed with "_", and one longer than MaxIdentifierLen is cut to that
// length. Hyphens are converted rather than dropped (as the reference does),
// so "payments-api" gives "payments_api", which users recognise; two slugs
// that differ only in such characters derive the same identifier, and
// Register then reports the collision instead of merging.
func IdentifierFromSlug(slug string) string {
	var b strings.Builder
	b.Grow(len(slug) + 1)
	for _, r := range slug {
		if r < 0x80 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" || id[0] >= '0' && id[0] <= '9' {
		id = "_" + id
	}
	if len(id) > MaxIdentifierLen {
		id = id[:MaxIdentifierLen]
	}
	return id
}
