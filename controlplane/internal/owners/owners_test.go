package owners

import (
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

func TestMap(t *testing.T) {
	defaults := Defaults("acme")
	custom := []Rule{{From: "@acme/payments", To: "group:payments-team"}, {From: "*@example.com", To: "user:*"}, {From: "@acme/*", To: "group:*"}}
	for _, tc := range []struct {
		name       string
		refs       []string
		rules      []Rule
		owner, frm string
	}{
		{name: "workspace group by default", refs: []string{"@acme/payments"}, rules: defaults, owner: "group:payments", frm: "@acme/payments"},
		{name: "user by default", refs: []string{"@alice"}, rules: defaults, owner: "user:alice", frm: "@alice"},
		{name: "other workspace's group matches no default", refs: []string{"@other/web"}, rules: defaults},
		{name: "first owner that maps wins", refs: []string{"bob@corp.example", "@acme/web", "@alice"}, rules: defaults, owner: "group:web", frm: "@acme/web"},
		{name: "exact rule before pattern", refs: []string{"@acme/payments"}, rules: custom, owner: "group:payments-team", frm: "@acme/payments"},
		{name: "case is ignored, the match keeps its case", refs: []string{"@ACME/Web"}, rules: custom, owner: "group:Web", frm: "@ACME/Web"},
		{name: "e-mail pattern", refs: []string{"fred@example.com"}, rules: custom, owner: "user:fred", frm: "fred@example.com"},
		{name: "star needs one character", refs: []string{"@acme/"}, rules: custom},
		{name: "star does not cross a slash", refs: []string{"@acme/a/b"}, rules: custom},
		{name: "no rules", refs: []string{"@acme/web"}, rules: nil},
		{name: "no owners", refs: nil, rules: defaults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, from, ok := Map(tc.refs, tc.rules)
			if ok != (tc.owner != "") || owner != tc.owner || from != tc.frm {
				t.Fatalf("Map = %q from %q (%v), want %q from %q", owner, from, ok, tc.owner, tc.frm)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	rules := Defaults("acme")
	for _, tc := range []struct {
		name        string
		f           Finding
		rules       []Rule
		owner, note string
	}{
		{name: "suggested", f: Finding{Path: ".bitbucket/CODEOWNERS", Covers: true, Owners: []string{"@acme/payments"}}, rules: rules, owner: "group:payments"},
		{name: "no file", f: Finding{}, rules: rules, note: "no CODEOWNERS file"},
		{name: "no catch-all", f: Finding{Path: "CODEOWNERS"}, rules: rules, note: "no rule for the whole repository"},
		{name: "unowned", f: Finding{Path: "CODEOWNERS", Covers: true}, rules: rules, note: "without owner"},
		{name: "mapping off", f: Finding{Path: "CODEOWNERS", Covers: true, Owners: []string{"@acme/x"}}, rules: []Rule{}, note: "mapping is empty"},
		{name: "unmapped", f: Finding{Path: "CODEOWNERS", Covers: true, Owners: []string{"x@corp.example"}}, rules: rules, note: "no owner mapping rule matches x@corp.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Suggest(tc.f, tc.rules)
			if s.Owner != tc.owner || (tc.note == "") != (s.Note == "") || !strings.Contains(s.Note, tc.note) {
				t.Fatalf("Suggest = %+v, want owner %q, note containing %q", s, tc.owner, tc.note)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []Rule
		field string // "" when valid
	}{
		{name: "defaults", rules: Defaults("acme")},
		{name: "empty from", rules: []Rule{{From: " ", To: "group:x"}}, field: "m[0].from"},
		{name: "empty to", rules: []Rule{{From: "@a", To: ""}}, field: "m[0].to"},
		{name: "two stars", rules: []Rule{{From: "@*/*", To: "group:*"}}, field: "m[0].from"},
		{name: "star in to only", rules: []Rule{{From: "@a", To: "group:*"}}, field: "m[0].to"},
		{name: "white space", rules: []Rule{{From: "@a b", To: "x"}}, field: "m[0].from"},
		{name: "duplicate", rules: []Rule{{From: "@A", To: "x"}, {From: "@a", To: "y"}}, field: "m[1].from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v fault.Violations
			Check(&v, "m", tc.rules)
			err := v.Err("", "invalid")
			if (err == nil) != (tc.field == "") {
				t.Fatalf("Check error = %v, want one on %q", err, tc.field)
			}
			if err != nil && !hasField(err, tc.field) {
				t.Fatalf("Check error %v does not name %s", err, tc.field)
			}
		})
	}
}

func hasField(err error, field string) bool {
	f := fault.As(err)
	if f == nil {
		return false
	}
	for _, fv := range f.Violations {
		if fv.Field == field {
			return true
		}
	}
	return false
}
