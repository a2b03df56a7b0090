package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
)

// mockRepo is a repository of the mock, as its control API lists it.
type mockRepo struct {
	Slug       string `json:"slug"`
	Name       string `json:"name"`
	ProjectKey string `json:"project_key"`
	MainBranch string `json:"mainbranch"`
}

// mockRepos returns the mock's repositories by project key.
func mockRepos(t *testing.T, s *stack) (keys []string, by map[string][]mockRepo) {
	t.Helper()
	resp, err := http.Get(s.controlURL + "/repos")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var repos []mockRepo
	if err := json.NewDecoder(resp.Body).Decode(&repos); err != nil {
		t.Fatal(err)
	}
	by = map[string][]mockRepo{}
	for _, r := range repos {
		by[r.ProjectKey] = append(by[r.ProjectKey], r)
	}
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, by
}

func slugs(list []map[string]any) []string {
	var out []string
	for _, it := range list {
		out = append(out, it["slug"].(string))
	}
	sort.Strings(out)
	return out
}

// TestFiltersIgnoreAndPreview walks the repository filter, ignore and the
// correlation preview through the real binaries: a project filter
// Bitbucket applies, a name filter that takes a repository out of the
// Discovered list and flags an imported one, a filtered listing that
// deletes nothing it did not list, ignore (one and by pattern) surviving
// syncs, un-ignore, and a dry run that reports what a change would do and
// changes nothing.
func TestFiltersIgnoreAndPreview(t *testing.T) {
	s := startStackWith(t, []string{"--projects", "2"}, nil)
	c := s.cli
	keys, by := mockRepos(t, s)
	if len(keys) != 2 {
		t.Fatalf("mock projects %v, want 2", keys)
	}
	kept, other := by[keys[0]], by[keys[1]]
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)

	// Created with a project filter: only that project's repositories are
	// listed (Bitbucket filters them) and discovered.
	c.ok("integration", "create", "--name", integration, "--connector", "bb", "--include-project", strings.ToLower(keys[0]))
	got := c.ok("integration", "get", integration)
	if !strings.Contains(got, "include-project "+keys[0]) {
		t.Fatalf("integration get does not show the filter:\n%s", got)
	}
	run := syncWait(t, c)
	if run["repositories"] != itoa(len(kept)) {
		t.Fatalf("filtered sync listed %v repositories, want the %d of project %s", run["repositories"], len(kept), keys[0])
	}
	discovered := listAll(t, c, "discovered", "list", integration)
	if len(discovered) != len(kept) {
		t.Fatalf("discovered %d, want %d", len(discovered), len(kept))
	}
	for _, d := range discovered {
		if d["project_key"] != keys[0] {
			t.Fatalf("discovered %v of project %v", d["slug"], d["project_key"])
		}
	}

	// Import one; then a name filter leaves it and another one out.
	imported, dropped := kept[0].Slug, kept[1].Slug
	c.ok("import", integration, imported)
	out := c.ok("integration", "edit", integration, "--include-project", keys[0], "--exclude-name", imported, "--exclude-name", dropped)
	if !strings.Contains(out, "updated: filter") {
		t.Fatalf("edit output: %s", out)
	}
	discovered = listAll(t, c, "discovered", "list", integration)
	if has(discovered, "slug", dropped) || len(discovered) != len(kept)-2 {
		t.Fatalf("after the name filter, discovered %v", slugs(discovered))
	}
	excluded := listAll(t, c, "discovered", "list", integration, "--excluded")
	if len(excluded) != 1 || excluded[0]["slug"] != dropped || !strings.Contains(excluded[0]["excluded_reason"].(string), "matches the excluded name") {
		t.Fatalf("excluded view: %v", excluded)
	}
	im := find(t, listAll(t, c, "imported", "list", integration), "full_name", workspace+"/"+imported)
	if !strings.Contains(im["excluded_reason"].(string), "matches the excluded name "+imported) {
		t.Fatalf("imported repository left out by the filter is not flagged: %v", im)
	}
	if table := c.ok("imported", "list", integration); !strings.Contains(table, "left out by the filter") {
		t.Fatalf("imported list does not flag it:\n%s", table)
	}
	failsWith(t, c, "EXCLUDED_BY_FILTER", "import", integration, dropped)

	// Switch the project filter to the other project: the first project's
	// repositories are no longer listed, and none is taken as deleted.
	c.ok("integration", "edit", integration, "--include-project", keys[1])
	run = syncWait(t, c)
	if run["repositories"] != itoa(len(other)) {
		t.Fatalf("sync listed %v, want %d", run["repositories"], len(other))
	}
	im = find(t, listAll(t, c, "imported", "list", integration), "full_name", workspace+"/"+imported)
	if im["deleted"] == true || !strings.Contains(im["excluded_reason"].(string), "not among the included projects") {
		t.Fatalf("imported repository of the no longer listed project: %v", im)
	}
	excluded = listAll(t, c, "discovered", "list", integration, "--excluded")
	if len(excluded) != len(kept)-1 {
		t.Fatalf("excluded view has %d, want %d", len(excluded), len(kept)-1)
	}
	for _, e := range excluded {
		if e["deleted"] == true {
			t.Fatalf("%v taken as deleted although the filter left it out of the listing", e["slug"])
		}
	}
	discovered = listAll(t, c, "discovered", "list", integration)
	if !slices.Equal(slugs(discovered), func() []string {
		var s []string
		for _, r := range other {
			s = append(s, r.Slug)
		}
		sort.Strings(s)
		return s
	}()) {
		t.Fatalf("discovered %v, want project %s's", slugs(discovered), keys[1])
	}

	// Ignore one by name and more by pattern; they leave the list, stay
	// ignored through a sync, are not imported by --all, and come back.
	one := other[0]
	c.ok("discovered", "ignore", integration, one.Slug)
	prefix := other[1].Slug[:3]
	var res map[string]any
	c.json(&res, "discovered", "ignore", integration, "--pattern", prefix+"*")
	byPattern := 0
	for _, r := range other[1:] {
		if strings.HasPrefix(r.Slug, prefix) || strings.HasPrefix(strings.ToLower(r.Name), prefix) {
			byPattern++
		}
	}
	if n := len(res["results"].([]any)); n != byPattern {
		t.Fatalf("pattern %s* ignored %d, want %d: %v", prefix, n, byPattern, res)
	}
	syncWait(t, c)
	ignored := listAll(t, c, "discovered", "list", integration, "--ignored")
	if len(ignored) != 1+byPattern || !has(ignored, "slug", one.Slug) || ignored[0]["ignored_by"] == "" {
		t.Fatalf("ignored view after a sync: %v", slugs(ignored))
	}
	if table := c.ok("discovered", "list", integration, "--ignored"); !strings.Contains(table, one.Name) {
		t.Fatalf("ignored view table:\n%s", table)
	}
	discovered = listAll(t, c, "discovered", "list", integration)
	if has(discovered, "slug", one.Slug) || len(discovered) != len(other)-1-byPattern {
		t.Fatalf("discovered after ignore: %v", slugs(discovered))
	}
	failsWith(t, c, "IGNORED", "import", integration, one.Slug)
	failsWith(t, c, "ALREADY_IMPORTED", "discovered", "ignore", integration, imported)
	c.ok("discovered", "unignore", integration, "--pattern", "*")
	discovered = listAll(t, c, "discovered", "list", integration)
	if len(discovered) != len(other) || find(t, discovered, "slug", one.Slug)["recommended_action"] != "IMPORT_ACTION_REGISTER" {
		t.Fatalf("after unignore: %v", slugs(discovered))
	}

	// Preview: an entity named like a discovered repository makes it a
	// Merge; a dry run of behavior register shows Merge -> Register for it
	// and changes nothing.
	target := other[2]
	c.ok("entity", "create", "-f", writeFile(t, t.TempDir(), "e.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: preview_target
name: `+target.Name+`
owner: group:x
spec:
  lifecycle: production
`))
	if a := find(t, listAll(t, c, "discovered", "list", integration), "slug", target.Slug)["recommended_action"]; a != "IMPORT_ACTION_MERGE" {
		t.Fatalf("%s recommended %v, want Merge", target.Slug, a)
	}
	var preview map[string]any
	c.json(&preview, "integration", "edit", integration, "--behavior", "register", "--dry-run")
	p := preview["preview"].(map[string]any)
	if p["merge_to_register"] != "1" || p["repositories"] != itoa(len(other)) {
		t.Fatalf("preview: %v", p)
	}
	ex := p["examples"].([]any)[0].(map[string]any)
	if ex["repository"] != workspace+"/"+target.Slug || ex["from_action"] != "MERGE" || ex["from_entity"] != "preview_target" || ex["to_action"] != "REGISTER" {
		t.Fatalf("preview example: %v", ex)
	}
	table := c.ok("integration", "edit", integration, "--behavior", "register", "--dry-run")
	for _, want := range []string{"Dry run", "Merge -> Register", workspace + "/" + target.Slug, "MERGE preview_target"} {
		if !strings.Contains(table, want) {
			t.Fatalf("dry run output lacks %q:\n%s", want, table)
		}
	}
	var in map[string]any
	c.json(&in, "integration", "get", integration)
	if in["behavior"] != "BEHAVIOR_REGISTER_AND_MERGE" {
		t.Fatalf("dry run changed the behavior: %v", in["behavior"])
	}
	if a := find(t, listAll(t, c, "discovered", "list", integration), "slug", target.Slug)["recommended_action"]; a != "IMPORT_ACTION_MERGE" {
		t.Fatalf("dry run changed the recommendation: %v", a)
	}
	// A filter dry run counts what would leave.
	c.json(&preview, "integration", "edit", integration, "--include-project", keys[1], "--exclude-name", target.Slug, "--dry-run")
	if p := preview["preview"].(map[string]any); p["leaving"] != "1" {
		t.Fatalf("filter preview: %v", p)
	}
	// A bad filter is refused with the field and the rule.
	if errOut := c.fails(2, "integration", "edit", integration, "--include-project", "not a key"); !strings.Contains(errOut, "is not a Bitbucket project key") {
		t.Fatalf("bad project key: %s", errOut)
	}
}

// failsWith runs a command whose one item fails: exit 1, the reason in the
// result table.
func failsWith(t *testing.T, c cli, reason string, args ...string) {
	t.Helper()
	out, errOut, code := c.run(args...)
	if code != 1 || !strings.Contains(out, reason) {
		t.Fatalf("%v: exit %d, want 1 with %s in the results:\n%s%s", args, code, reason, out, errOut)
	}
}
