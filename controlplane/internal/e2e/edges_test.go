package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/sortkey"
)

// TestRoughEdges walks, through the real binaries, what a new user meets:
// names with spaces quoted in every command shown for pasting, the
// connector shown by name, the Discovered list in the order people read
// names (and its pages, pasted from the hint, in that order too), imports
// naming repositories alike one by one and with --all, numbers in entity
// YAML in plain decimal, and exit 2 for every value the server refuses.
func TestRoughEdges(t *testing.T) {
	s := startStack(t)
	c := s.cli
	const connector = "bb acme"

	// Hints quote names with spaces.
	_, errOut, _ := c.run("connector", "create", "--name", connector, "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	if !strings.Contains(errOut, "idpctl connector test 'bb acme'") {
		t.Errorf("connector create hint: %q", errOut)
	}
	_, errOut, code := c.run("integration", "create", "--name", integration, "--connector", connector,
		"--field", "name", "--field", "url=links.html.href", "--field", "size")
	if code != 0 || !strings.Contains(errOut, "idpctl sync 'Bitbucket acme' --wait") || !strings.Contains(errOut, "idpctl discovered list 'Bitbucket acme'") {
		t.Fatalf("integration create: exit %d, hint %q", code, errOut)
	}

	// The connector by name.
	var in map[string]any
	c.json(&in, "integration", "get", integration)
	if in["connector_name"] != connector || in["connector"] == connector || in["connector"] == "" {
		t.Errorf("integration get -o json: connector %v, connector_name %v", in["connector"], in["connector_name"])
	}
	if out := c.ok("integration", "get", integration); !regexp.MustCompile(`(?m)^Connector:\s+bb acme \(\S+\)$`).MatchString(out) {
		t.Errorf("integration get does not name the connector:\n%s", out)
	}

	syncWait(t, c)

	// The Discovered list in collation order; the mock names 1 in 8
	// repositories with non-ASCII letters.
	all := listAll(t, c, "discovered", "list", integration)
	names := make([]string, len(all))
	for i, r := range all {
		names[i] = r["name"].(string)
	}
	if !slices.IsSortedFunc(names, sortkey.Compare) {
		t.Errorf("discovered names are not in collation order: %q", names)
	}
	lastASCII, firstOther := -1, len(names)
	for i, n := range names {
		if isASCII(n) {
			lastASCII = i
		} else if i < firstOther {
			firstOther = i
		}
	}
	if firstOther == len(names) || firstOther > lastASCII {
		t.Errorf("no non-ASCII name sorts among the ASCII ones: %q", names)
	}

	// Pages: the hint gives the total and the next page's command, which
	// pasted as printed continues in the same order.
	out, errOut, _ := c.run("discovered", "list", integration, "--page-size", "7")
	m := regexp.MustCompile(`Showing 7 of (\d+)\. All of them: add --all-pages\. Next page:\n  idpctl (discovered list 'Bitbucket acme' --page-size 7 --page-token (\S+))\n`).FindStringSubmatch(errOut)
	if m == nil || m[1] != itoa(len(all)) {
		t.Fatalf("first page hint: %q", errOut)
	}
	_, rows := table(t, out)
	out2 := c.ok("discovered", "list", integration, "--page-size", "7", "--page-token", m[3])
	_, rows2 := table(t, out2)
	var paged []string
	for _, r := range append(rows, rows2...) {
		paged = append(paged, r[0])
	}
	if !slices.Equal(paged, names[:14]) {
		t.Errorf("two pages read %q, want %q", paged, names[:14])
	}

	// Imports name repositories the same way, by slug, one by one or all.
	slug := all[0]["slug"].(string)
	var one map[string]any
	c.json(&one, "import", integration, slug)
	if r := items(t, map[string]any{"items": one["results"]}); len(r) != 1 || r[0]["repository"] != slug {
		t.Errorf("single import results: %v", one["results"])
	}
	out, errOut, code = c.run("import", integration, "--all")
	_, imported := table(t, out)
	if code > 1 || len(imported) < 2 {
		t.Fatalf("import --all: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, r := range imported {
		if strings.Contains(r[0], "/") || !has(all, "slug", r[0]) {
			t.Errorf("import --all names %q, want the slug as the single import prints it", r[0])
		}
	}

	// Numbers in plain decimal in the entity YAML.
	ident := path(find(t, listAll(t, c, "imported", "list", integration), "full_name", workspace+"/"+slug), "entity", "identifier").(string)
	y := c.ok("entity", "get", ident, "-o", "yaml")
	if !regexp.MustCompile(`(?m)^\s+size: \d+$`).MatchString(y) || regexp.MustCompile(`(?m)(:|-) -?\d+(\.\d+)?[eE][+-]?\d+$`).MatchString(y) {
		t.Errorf("entity YAML numbers:\n%s", y)
	}

	// Values the server refuses exit 2 in every command, naming the value.
	for _, args := range [][]string{
		{"connector", "create", "--name", "tab\there", "--workspace", "beta", "--token-ref", "env:X"},
		{"connector", "list", "--page-token", "not-a-token"},
		{"integration", "list", "--page-token", "not-a-token"},
		{"integration", "edit", integration, "--kind", strings.Repeat("k", 100)},
		{"integration", "edit", integration, "--secondary-kinds", "commits"},
		{"runs", integration, "--page-token", "not-a-token"},
		{"events", integration, "--page-token", "not-a-token"},
		{"discovered", "list", integration, "--page-token", "not-a-token"},
		{"imported", "list", integration, "--page-token", "not-a-token"},
		{"import", integration, names[len(names)-1], "--action", "register", "--type", "Not A Type!"},
		{"entity", "list", "--page-token", "not-a-token"},
		{"entity", "create", "-f", writeFile(t, t.TempDir(), "bad.yaml", "kind: Component\nidentifier: BAD ID\n")},
	} {
		c.fails(2, args...)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
