// Package codeowners reads a CODEOWNERS file and says who owns a repository
// as a whole. Bitbucket Cloud reads the file from .bitbucket/CODEOWNERS on
// the branch a pull request targets; the widely used Code Owners app reads
// it from the repository root, and GitHub-style repositories mirrored to
// Bitbucket keep it in docs/. Locations lists them in that order.
//
// The syntax is the common one: one rule a line, a gitignore-like path
// pattern followed by owners separated by white space (@user, @workspace/group,
// an e-mail address, the app's @@group); # starts a comment; the last rule
// that matches a path wins. Lines that are not rules in that sense (the
// app's @@@group definitions and Check(...) merge checks, GitLab's [Section]
// headers, Bitbucket's CODEOWNERS.* settings) are skipped, not refused.
package codeowners

import (
	"strings"
	"unicode/utf8"
)

// Locations are the paths probed on the default branch, in order; the first
// that exists is the repository's CODEOWNERS file.
var Locations = []string{".bitbucket/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// MaxFileBytes is the most of a CODEOWNERS file read; the rest is ignored.
// Real files are a few kilobytes.
const MaxFileBytes = 64 << 10

// MaxOwners is the most owners kept from the rule that owns a repository.
const MaxOwners = 16

// Rule is one ownership rule: a path pattern and its owners, in file order.
type Rule struct {
	Line    int
	Pattern string
	Owners  []string
}

// Parse reads the rules of a CODEOWNERS file. It never fails: what is not a
// rule is skipped, as Bitbucket skips it.
func Parse(content string) []Rule {
	if len(content) > MaxFileBytes {
		content = content[:MaxFileBytes]
	}
	var rules []Rule
	for i, line := range strings.Split(content, "\n") {
		line = stripComment(strings.TrimSpace(strings.TrimSuffix(line, "\r")))
		if line == "" || !utf8.ValidString(line) {
			continue
		}
		fields := strings.Fields(line)
		pattern := fields[0]
		if skipped(pattern) {
			continue
		}
		r := Rule{Line: i + 1, Pattern: pattern}
		for _, f := range fields[1:] {
			if o := owner(f); o != "" {
				r.Owners = append(r.Owners, o)
			}
		}
		rules = append(rules, r)
	}
	return rules
}

// stripComment cuts a comment: # at the start of the line or after white
// space (a # inside a token, as in a URL-like group name, is kept).
func stripComment(line string) string {
	if strings.HasPrefix(line, "#") {
		return ""
	}
	for i := 1; i < len(line); i++ {
		if line[i] == '#' && (line[i-1] == ' ' || line[i-1] == '\t') {
			return strings.TrimSpace(line[:i])
		}
	}
	return line
}

// skipped reports lines that are not ownership rules.
func skipped(first string) bool {
	return strings.HasPrefix(first, "@@@") || // the app's custom group definitions
		strings.HasPrefix(first, "[") || strings.HasPrefix(first, "^[") || // GitLab sections
		strings.HasPrefix(first, "CODEOWNERS.") || // Bitbucket settings
		strings.HasPrefix(first, "!") || // negation is not supported by Bitbucket
		strings.Contains(first, "Check(") // the app's merge checks
}

// owner normalises one owner reference, or returns "" for what is not one.
// Bitbucket's reviewer selection suffixes (:random(2), :least_busy(1), :all)
// choose reviewers, not owners, and are dropped.
func owner(f string) string {
	if i := strings.IndexByte(f, ':'); i > 0 && strings.HasPrefix(f, "@") {
		f = f[:i]
	}
	switch {
	case strings.HasPrefix(f, "@") && len(strings.TrimLeft(f, "@")) > 0:
		return f
	case strings.Contains(f, "@") && !strings.HasPrefix(f, "@") && !strings.HasSuffix(f, "@"):
		return f // an e-mail address
	}
	return ""
}

// wholeRepository lists the patterns that match every path of a repository.
var wholeRepository = map[string]bool{"*": true, "**": true, "/*": true, "/**": true, "**/*": true, "/**/*": true, "/": true}

// CoversRepository reports whether pattern matches every path, so that its
// rule speaks for the repository as a whole.
func CoversRepository(pattern string) bool { return wholeRepository[pattern] }

// Owners is who owns a repository as a whole according to its CODEOWNERS
// rules: the owners of the last catch-all rule (later rules win, as for any
// path), at most MaxOwners. found is false when no rule covers the whole
// repository; a catch-all rule without owners says the repository is
// explicitly unowned (found, no owners).
func Owners(rules []Rule) (owners []string, line int, found bool) {
	for i := len(rules) - 1; i >= 0; i-- {
		if CoversRepository(rules[i].Pattern) {
			o := rules[i].Owners
			if len(o) > MaxOwners {
				o = o[:MaxOwners]
			}
			return o, rules[i].Line, true
		}
	}
	return nil, 0, false
}
