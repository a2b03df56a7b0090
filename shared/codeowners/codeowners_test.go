package codeowners

import (
	"slices"
	"strings"
	"testing"
)

func TestOwners(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		want    []string
		line    int
		noMatch bool
	}{
		{name: "catch-all", file: "* @acme/payments\n", want: []string{"@acme/payments"}, line: 1},
		{name: "last catch-all wins", file: "* @acme/old\n/docs/ @acme/docs\n* @acme/payments @alice\n", want: []string{"@acme/payments", "@alice"}, line: 3},
		{name: "specific rules after the catch-all do not own the repository", file: "* @acme/web\nsrc/** @acme/backend\n*.go @bob\n", want: []string{"@acme/web"}, line: 1},
		{name: "slash-star and double star", file: "/** @acme/a\n", want: []string{"@acme/a"}, line: 1},
		{name: "no catch-all", file: "src/ @acme/backend\n*.md @acme/docs\n", noMatch: true},
		{name: "empty file", file: "", noMatch: true},
		{name: "comments and blank lines", file: "# owners\n\n   # indented comment\n* @acme/payments # the team\n", want: []string{"@acme/payments"}, line: 4},
		{name: "explicitly unowned", file: "* @acme/web\n*\n", want: nil, line: 2},
		{name: "emails", file: "* alisha@example.com fred@example.com\n", want: []string{"alisha@example.com", "fred@example.com"}, line: 1},
		{name: "reviewer selection suffix dropped", file: "* @acme/reviewers:random(2)\n", want: []string{"@acme/reviewers"}, line: 1},
		{name: "app groups", file: "@@@Frontend @alice @bob\n* @@Frontend\n", want: []string{"@@Frontend"}, line: 2},
		{name: "merge checks and settings skipped", file: "* @acme/a\nCheck(@@Seniors >= 1)\nOverallCheck(2)\nCODEOWNERS.toplevel.assignment_routing random 2\n", want: []string{"@acme/a"}, line: 1},
		{name: "gitlab section", file: "[Docs]\n* @acme/docs\n", want: []string{"@acme/docs"}, line: 2},
		{name: "crlf", file: "* @acme/a\r\n", want: []string{"@acme/a"}, line: 1},
		{name: "junk tokens are not owners", file: "* team payments @ x@ @acme/p\n", want: []string{"@acme/p"}, line: 1},
		{name: "negation is not a rule", file: "* @acme/a\n!* @acme/b\n", want: []string{"@acme/a"}, line: 1},
		{name: "invalid utf-8 line skipped", file: "* @acme/a\n* @\xff\xfe\n", want: []string{"@acme/a"}, line: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, line, found := Owners(Parse(tc.file))
			if found == tc.noMatch {
				t.Fatalf("found = %v, want %v", found, !tc.noMatch)
			}
			if !slices.Equal(got, tc.want) || line != tc.line {
				t.Fatalf("Owners = %q (line %d), want %q (line %d)", got, line, tc.want, tc.line)
			}
		})
	}
}

func TestOwnersCapped(t *testing.T) {
	file := "*" + strings.Repeat(" @u", MaxOwners+5)
	got, _, _ := Owners(Parse(file))
	if len(got) != MaxOwners {
		t.Fatalf("kept %d owners, want %d", len(got), MaxOwners)
	}
}

func TestParseReadsOnlyTheCap(t *testing.T) {
	file := strings.Repeat("# filler\n", MaxFileBytes/9+1) + "* @acme/late\n"
	if _, _, found := Owners(Parse(file)); found {
		t.Fatal("a rule beyond MaxFileBytes was read")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("* @acme/a # c\nsrc/ x@y.z\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Parse(s) {
			if r.Pattern == "" || strings.ContainsAny(r.Pattern, " \t\n") {
				t.Fatalf("bad pattern %q", r.Pattern)
			}
			for _, o := range r.Owners {
				if o == "" || strings.ContainsAny(o, " \t\n") {
					t.Fatalf("bad owner %q", o)
				}
			}
		}
		Owners(Parse(s))
	})
}
