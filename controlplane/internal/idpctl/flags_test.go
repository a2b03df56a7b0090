package idpctl

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

const (
	equals   = integrationv1.Operator_OPERATOR_EQUALS
	contains = integrationv1.Operator_OPERATOR_CONTAINS
)

func TestParseCorrelation(t *testing.T) {
	t.Parallel()
	rule := func(in, cat string, op integrationv1.Operator) *integrationv1.CorrelationRule {
		return &integrationv1.CorrelationRule{IngestedPath: in, CatalogPath: cat, Operator: op}
	}
	good := []struct {
		in   string
		want *integrationv1.CorrelationRule
	}{
		{"name=name", rule("name", "name", equals)},
		{"project.key=metadata.tags:contains", rule("project.key", "metadata.tags", contains)},
		{"name=name:EQUALS", rule("name", "name", equals)},
		{" slug = identifier :Contains", rule("slug", "identifier", contains)},
		{"slug=metadata.annotations.bitbucket.org/repo-slug", rule("slug", "metadata.annotations.bitbucket.org/repo-slug", equals)},
		{"slug=metadata.annotations.example.com:x.y", rule("slug", "metadata.annotations.example.com:x.y", equals)},
	}
	for _, tc := range good {
		got, err := parseCorrelation(tc.in)
		if err != nil {
			t.Errorf("parseCorrelation(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
			t.Errorf("parseCorrelation(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	bad := []struct{ in, err string }{
		{"name", `rule "name" has no '='; want INGESTED_PATH=CATALOG_PATH[:equals|contains], e.g. name=name or project.key=metadata.tags:contains`},
		{"=name", `rule "=name" has an empty ingested path (before '='); want INGESTED_PATH=CATALOG_PATH[:equals|contains], e.g. name=name or project.key=metadata.tags:contains`},
		{"name=", `rule "name=" has an empty catalog path (after '='); want INGESTED_PATH=CATALOG_PATH[:equals|contains], e.g. name=name or project.key=metadata.tags:contains`},
		{"name=:contains", `rule "name=:contains" has an empty catalog path (after '='); want INGESTED_PATH=CATALOG_PATH[:equals|contains], e.g. name=name or project.key=metadata.tags:contains`},
		{"name=name:eq", `rule "name=name:eq" has unknown operator "eq"; want equals or contains`},
	}
	for _, tc := range bad {
		if _, err := parseCorrelation(tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("parseCorrelation(%q) error = %v\nwant %s", tc.in, err, tc.err)
		}
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	got, err := parseFields([]string{"default_branch=mainbranch.name", "language", " project_key = project.key "})
	if err != nil {
		t.Fatal(err)
	}
	want := []*integrationv1.FieldMapping{
		{Name: "default_branch", Path: "mainbranch.name"},
		{Name: "language", Path: "language"},
		{Name: "project_key", Path: "project.key"},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("parseFields (-want +got):\n%s", diff)
	}
	bad := []struct {
		in  []string
		err string
	}{
		{[]string{"=mainbranch.name"}, `"=mainbranch.name" has an empty NAME; want NAME=PATH, e.g. default_branch=mainbranch.name`},
		{[]string{"default_branch="}, `"default_branch=" has an empty PATH; want NAME=PATH, e.g. default_branch=mainbranch.name`},
		{[]string{""}, `"" has an empty NAME; want NAME=PATH, e.g. default_branch=mainbranch.name`},
		{[]string{"name=name", "name=full_name"}, `field "name" is given twice; each NAME once`},
	}
	for _, tc := range bad {
		if _, err := parseFields(tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("parseFields(%q) error = %v\nwant %s", tc.in, err, tc.err)
		}
	}
}

func TestParseSecondaryKinds(t *testing.T) {
	t.Parallel()
	const (
		prs     = integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS
		commits = integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS
	)
	good := []struct {
		in   []string
		want []integrationv1.SecondaryKind
	}{
		{[]string{"pull-requests", "commits"}, []integrationv1.SecondaryKind{prs, commits}},
		{[]string{"commits", "pull_requests"}, []integrationv1.SecondaryKind{commits, prs}},
		{[]string{"PRs", "prs"}, []integrationv1.SecondaryKind{prs}},
		{[]string{"none"}, []integrationv1.SecondaryKind{}},
		{nil, []integrationv1.SecondaryKind{}},
	}
	for _, tc := range good {
		got, err := parseSecondaryKinds(tc.in)
		if err != nil {
			t.Errorf("parseSecondaryKinds(%q): %v", tc.in, err)
		} else if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseSecondaryKinds(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	bad := []struct {
		in  []string
		err string
	}{
		{[]string{"issues"}, `"issues" is not a secondary kind; want pull-requests, commits, or none for repositories only`},
		{[]string{"none", "commits"}, `"none,commits" cannot be combined with other kinds; want pull-requests, commits, or none for repositories only`},
	}
	for _, tc := range bad {
		if _, err := parseSecondaryKinds(tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("parseSecondaryKinds(%q) error = %v\nwant %s", tc.in, err, tc.err)
		}
	}
}

func TestParseFrequency(t *testing.T) {
	t.Parallel()
	good := map[string]integrationv1.UpdateFrequency{
		"30m": integrationv1.UpdateFrequency_UPDATE_FREQUENCY_30_MINUTES,
		"1h":  integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_HOUR,
		"60m": integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_HOUR,
		"3h":  integrationv1.UpdateFrequency_UPDATE_FREQUENCY_3_HOURS,
		"6H":  integrationv1.UpdateFrequency_UPDATE_FREQUENCY_6_HOURS,
		"12h": integrationv1.UpdateFrequency_UPDATE_FREQUENCY_12_HOURS,
		"1d":  integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_DAY,
		"24h": integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_DAY,
	}
	for in, want := range good {
		if got, err := parseFrequency(in); err != nil || got != want {
			t.Errorf("parseFrequency(%q) = %v, %v; want %v", in, got, err, want)
		}
		if name := frequencyName(want); name == "-" {
			t.Errorf("frequencyName(%v) has no name", want)
		}
	}
	for _, in := range []string{"2h", "hourly", "", "1.5d", "d"} {
		want := `"` + in + `" is not an update frequency; want 30m, 1h, 3h, 6h, 12h or 1d`
		if _, err := parseFrequency(in); err == nil || err.Error() != want {
			t.Errorf("parseFrequency(%q) error = %v\nwant %s", in, err, want)
		}
	}
}

func TestParseBehavior(t *testing.T) {
	t.Parallel()
	good := map[string]integrationv1.Behavior{
		"register-and-merge": integrationv1.Behavior_BEHAVIOR_REGISTER_AND_MERGE,
		"Register_And_Merge": integrationv1.Behavior_BEHAVIOR_REGISTER_AND_MERGE,
		"register":           integrationv1.Behavior_BEHAVIOR_REGISTER,
		"MERGE":              integrationv1.Behavior_BEHAVIOR_MERGE,
	}
	for in, want := range good {
		if got, err := parseBehavior(in); err != nil || got != want {
			t.Errorf("parseBehavior(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	const want = `"both" is not a behavior; want register-and-merge, register or merge`
	if _, err := parseBehavior("both"); err == nil || err.Error() != want {
		t.Errorf("parseBehavior(both) error = %v\nwant %s", err, want)
	}
}

func TestParseStartDate(t *testing.T) {
	t.Parallel()
	good := map[string]time.Time{
		"2025-01-01":                time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		"2025-01-01T10:00:00+02:00": time.Date(2025, 1, 1, 8, 0, 0, 0, time.UTC),
	}
	for in, want := range good {
		got, err := parseStartDate(in)
		if err != nil || !got.AsTime().Equal(want) {
			t.Errorf("parseStartDate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parseStartDate("none"); got != nil || err != nil {
		t.Errorf("parseStartDate(none) = %v, %v; want nil, nil", got, err)
	}
	for _, in := range []string{"2025-13-01", "01/02/2025", "yesterday"} {
		want := `"` + in + `" is not a date; want YYYY-MM-DD (e.g. 2025-01-01), an RFC 3339 time, or none`
		if _, err := parseStartDate(in); err == nil || err.Error() != want {
			t.Errorf("parseStartDate(%q) error = %v\nwant %s", in, err, want)
		}
	}
}

func TestCheckTokenRef(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"env:BITBUCKET_TOKEN", "file:/etc/idp/token"} {
		if err := checkTokenRef(ok); err != nil {
			t.Errorf("checkTokenRef(%q): %v", ok, err)
		}
	}
	const form = "want env:NAME or file:/absolute/path (the delegate reads the token; it never reaches the control plane)"
	bad := []struct{ in, err string }{
		{"ATCTT3xFfGN0secretvalue", `"ATCT…" is not a token reference; ` + form},
		{"vault:x", `"vault:x" is not a token reference; ` + form},
		{"env:", `"env:" names no variable; ` + form},
		{"file:", `"file:" names no file; ` + form},
		{"file:token.txt", `"file:token.txt" is not an absolute path; ` + form},
	}
	for _, tc := range bad {
		if err := checkTokenRef(tc.in); err == nil || err.Error() != tc.err {
			t.Errorf("checkTokenRef(%q) error = %v\nwant %s", tc.in, err, tc.err)
		}
	}
}

func TestWorkspaceURL(t *testing.T) {
	t.Parallel()
	if got, err := workspaceURL("acme"); err != nil || got != "https://bitbucket.org/acme" {
		t.Errorf("workspaceURL(acme) = %q, %v", got, err)
	}
	const want = `"acme/repo" is not a workspace slug; want the slug as in https://bitbucket.org/SLUG, e.g. acme`
	if _, err := workspaceURL("acme/repo"); err == nil || err.Error() != want {
		t.Errorf("workspaceURL(acme/repo) error = %v\nwant %s", err, want)
	}
}

func TestParseImportActionAndOnOff(t *testing.T) {
	t.Parallel()
	if a, err := parseImportAction("Merge"); err != nil || a != integrationv1.ImportAction_IMPORT_ACTION_MERGE {
		t.Errorf("parseImportAction(Merge) = %v, %v", a, err)
	}
	if _, err := parseImportAction("link"); err == nil || err.Error() != `"link" is not an action; want register or merge` {
		t.Errorf("parseImportAction(link) error = %v", err)
	}
	for in, want := range map[string]bool{"on": true, "true": true, "OFF": false, "no": false} {
		if got, err := parseOnOff(in); err != nil || got != want {
			t.Errorf("parseOnOff(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseOnOff("maybe"); err == nil || err.Error() != `"maybe" is neither on nor off` {
		t.Errorf("parseOnOff(maybe) error = %v", err)
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                             "0s",
		45 * time.Second:              "45s",
		2*time.Minute + 5*time.Second: "2m5s",
		5 * time.Minute:               "5m",
		35 * time.Minute:              "35m",
		2*time.Hour + 15*time.Minute:  "2h15m",
		3 * time.Hour:                 "3h",
		30 * time.Hour:                "30h",
		72 * time.Hour:                "3d",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
