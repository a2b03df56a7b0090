// Package tag is the one rule for delegate tags and the connector selectors
// that match them: the delegate checks the tags it is started with, and the
// control plane checks the tags a delegate registers and the selectors of
// a connector, all against Valid.
package tag

import "regexp"

// Rule says what a valid tag is, for error messages.
const Rule = "use 1 to 64 of a-z 0-9 _ . -"

var pattern = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)

// Valid reports whether t is a valid tag or selector.
func Valid(t string) bool { return pattern.MatchString(t) }
