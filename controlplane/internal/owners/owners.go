// Package owners turns what a repository's CODEOWNERS file says into the
// catalog owner proposed when the repository is registered: an ordered
// mapping of CODEOWNERS owners (@user, @workspace/group, e-mail) to catalog
// owners (group:payments, user:alice), configured per integration, with
// defaults for a workspace. Its functions are pure.
package owners

import (
	"fmt"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// Rule maps CODEOWNERS owners to a catalog owner. From is an owner as
// written, compared ignoring case, or a pattern where one "*" stands for
// one or more characters other than "/"; a "*" in To is replaced by what
// it matched.
type Rule struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Defaults are the rules of an integration that names none: workspace
// groups become catalog groups and users catalog users. E-mail addresses
// are left to a rule the integration adds (e.g. *@example.com -> user:*).
func Defaults(workspace string) []Rule {
	return []Rule{{From: "@" + workspace + "/*", To: "group:*"}, {From: "@*", To: "user:*"}}
}

// MaxRules bounds an integration's mapping.
const MaxRules = 256

// Check names every rule that can never work, under field (e.g.
// "integration.owner_mapping.rules").
func Check(v *fault.Violations, field string, rules []Rule) {
	if len(rules) > MaxRules {
		v.Add(field, "at most %d rules, not %d", MaxRules, len(rules))
	}
	seen := map[string]bool{}
	for i, r := range rules {
		f := fmt.Sprintf("%s[%d]", field, i)
		from, to := strings.TrimSpace(r.From), strings.TrimSpace(r.To)
		switch {
		case from == "":
			v.Add(f+".from", "required: a CODEOWNERS owner such as @acme/payments, or a pattern such as @acme/*")
		case strings.ContainsAny(from, " \t"):
			v.Add(f+".from", "%q has white space: a CODEOWNERS owner never does", from)
		case strings.Count(from, "*") > 1:
			v.Add(f+".from", "%q has more than one *: one * stands for the varying part", from)
		case seen[strings.ToLower(from)]:
			v.Add(f+".from", "duplicate rule for %q: only the first would ever apply", from)
		}
		seen[strings.ToLower(from)] = true
		switch {
		case to == "":
			v.Add(f+".to", "required: the catalog owner, e.g. group:payments")
		case strings.Contains(to, "*") && !strings.Contains(from, "*"):
			v.Add(f+".to", "%q uses * but from %q has none to take it from", to, from)
		case strings.Count(to, "*") > 1:
			v.Add(f+".to", "%q has more than one *", to)
		}
	}
}

// Normalize trims the rules' text.
func Normalize(rules []Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = Rule{From: strings.TrimSpace(r.From), To: strings.TrimSpace(r.To)}
	}
	return out
}

// match reports what the "*" of pattern matched in ref ("" for an exact
// pattern), and whether it matched at all.
func match(pattern, ref string) (string, bool) {
	p, r := strings.ToLower(pattern), strings.ToLower(ref)
	before, after, wild := strings.Cut(p, "*")
	if !wild {
		return "", p == r
	}
	if len(r) <= len(before)+len(after) || !strings.HasPrefix(r, before) || !strings.HasSuffix(r, after) {
		return "", false
	}
	mid := ref[len(before) : len(ref)-len(after)]
	if strings.Contains(mid, "/") {
		return "", false
	}
	return mid, true
}

// Map returns the catalog owner for a list of CODEOWNERS owners (in file
// order): the first owner some rule matches, with the first rule that
// matches it. from is the CODEOWNERS owner used.
func Map(codeOwners []string, rules []Rule) (owner, from string, ok bool) {
	for _, ref := range codeOwners {
		for _, r := range rules {
			if mid, ok := match(r.From, ref); ok {
				return strings.Replace(r.To, "*", mid, 1), ref, true
			}
		}
	}
	return "", "", false
}

// Finding is what the delegate read of a repository's CODEOWNERS file.
type Finding struct {
	// Path is the file read; empty when the repository has none.
	Path string
	// Owners are the owners of the rule covering the whole repository.
	Owners []string
	// Covers is true when such a rule exists.
	Covers    bool
	CheckedAt time.Time
}

// Suggestion is the owner proposed for a repository, or why there is none.
type Suggestion struct {
	Owner string
	From  string
	Note  string
}

// Suggest proposes an owner from a finding and the integration's rules.
func Suggest(f Finding, rules []Rule) Suggestion {
	switch {
	case f.Path == "":
		return Suggestion{Note: "the default branch has no CODEOWNERS file (.bitbucket/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS)"}
	case !f.Covers:
		return Suggestion{Note: f.Path + " has no rule for the whole repository (such as * @team)"}
	case len(f.Owners) == 0:
		return Suggestion{Note: f.Path + " leaves the repository without owner (its * rule names nobody)"}
	case len(rules) == 0:
		return Suggestion{Note: "the integration's owner mapping is empty"}
	}
	owner, from, ok := Map(f.Owners, rules)
	if !ok {
		return Suggestion{Note: fmt.Sprintf("no owner mapping rule matches %s; add one to the integration's owner mapping", strings.Join(f.Owners, " "))}
	}
	return Suggestion{Owner: owner, From: from}
}
