package idpctl

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

// The parsers below turn the flag vocabulary (also used in -f files) into
// wire values. Their errors start with the offending value and end with the
// accepted forms; callers prefix where the value came from ("invalid
// --behavior: ..."), so one message serves flags and files alike.

// behaviorNames is the flag vocabulary of Behavior, in help order.
var behaviorNames = []struct {
	name string
	b    integrationv1.Behavior
}{
	{"register-and-merge", integrationv1.Behavior_BEHAVIOR_REGISTER_AND_MERGE},
	{"register", integrationv1.Behavior_BEHAVIOR_REGISTER},
	{"merge", integrationv1.Behavior_BEHAVIOR_MERGE},
}

func parseBehavior(s string) (integrationv1.Behavior, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")
	for _, n := range behaviorNames {
		if norm == n.name {
			return n.b, nil
		}
	}
	return 0, fmt.Errorf("%q is not a behavior; want register-and-merge, register or merge", s)
}

func behaviorName(b integrationv1.Behavior) string {
	for _, n := range behaviorNames {
		if n.b == b {
			return n.name
		}
	}
	return "-"
}

// frequencies maps each allowed sync interval to its enum value.
var frequencies = []struct {
	d    time.Duration
	name string
	f    integrationv1.UpdateFrequency
}{
	{30 * time.Minute, "30m", integrationv1.UpdateFrequency_UPDATE_FREQUENCY_30_MINUTES},
	{time.Hour, "1h", integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_HOUR},
	{3 * time.Hour, "3h", integrationv1.UpdateFrequency_UPDATE_FREQUENCY_3_HOURS},
	{6 * time.Hour, "6h", integrationv1.UpdateFrequency_UPDATE_FREQUENCY_6_HOURS},
	{12 * time.Hour, "12h", integrationv1.UpdateFrequency_UPDATE_FREQUENCY_12_HOURS},
	{24 * time.Hour, "1d", integrationv1.UpdateFrequency_UPDATE_FREQUENCY_1_DAY},
}

// parseFrequency accepts any spelling of an allowed interval that Go's
// duration syntax or a day count gives (30m, 60m, 1h, 24h, 1d).
// parseSweepDuration reads a sweep setting: a Go duration (90m, 6h) or
// whole days (2d). The server checks the ranges.
func parseSweepDuration(s string) (*durationpb.Duration, error) {
	norm := strings.ToLower(strings.TrimSpace(s))
	if days, ok := strings.CutSuffix(norm, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a duration; want e.g. 15m, 6h or 2d", s)
		}
		return durationpb.New(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(norm)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("%q is not a duration; want e.g. 15m, 6h or 2d", s)
	}
	return durationpb.New(d), nil
}

func parseFrequency(s string) (integrationv1.UpdateFrequency, error) {
	bad := fmt.Errorf("%q is not an update frequency; want 30m, 1h, 3h, 6h, 12h or 1d", s)
	norm := strings.ToLower(strings.TrimSpace(s))
	var d time.Duration
	if days, ok := strings.CutSuffix(norm, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(norm); err != nil {
			return 0, bad
		}
	}
	for _, f := range frequencies {
		if f.d == d {
			return f.f, nil
		}
	}
	return 0, bad
}

func frequencyName(f integrationv1.UpdateFrequency) string {
	for _, x := range frequencies {
		if x.f == f {
			return x.name
		}
	}
	return "-"
}

// parseSecondaryKinds reads a list of kinds (a flag value split at commas,
// or a YAML list). "none" or an empty list means repositories only.
func parseSecondaryKinds(values []string) ([]integrationv1.SecondaryKind, error) {
	kinds := []integrationv1.SecondaryKind{}
	seen := map[integrationv1.SecondaryKind]bool{}
	for _, v := range values {
		var k integrationv1.SecondaryKind
		switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "_", "-") {
		case "pull-requests", "pullrequests", "prs":
			k = integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS
		case "commits":
			k = integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS
		case "none", "":
			if len(values) > 1 {
				return nil, fmt.Errorf("%q cannot be combined with other kinds; want pull-requests, commits, or none for repositories only", strings.Join(values, ","))
			}
			continue
		default:
			return nil, fmt.Errorf("%q is not a secondary kind; want pull-requests, commits, or none for repositories only", v)
		}
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

func secondaryKindsName(kinds []integrationv1.SecondaryKind) string {
	if len(kinds) == 0 {
		return "none"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		switch k {
		case integrationv1.SecondaryKind_SECONDARY_KIND_PULL_REQUESTS:
			names[i] = "pull-requests"
		case integrationv1.SecondaryKind_SECONDARY_KIND_COMMITS:
			names[i] = "commits"
		default:
			names[i] = k.String()
		}
	}
	return strings.Join(names, ",")
}

const correlateForm = "want INGESTED_PATH=CATALOG_PATH[:equals|contains], e.g. name=name or project.key=metadata.tags:contains"

// parseCorrelation reads one rule, INGESTED_PATH=CATALOG_PATH[:equals|contains].
// The operator is the text after the last colon when that text is a bare
// word, so catalog paths such as annotation keys with a colon and a dot
// still parse.
func parseCorrelation(s string) (*integrationv1.CorrelationRule, error) {
	ingested, catalog, ok := strings.Cut(s, "=")
	if !ok {
		return nil, fmt.Errorf("rule %q has no '='; %s", s, correlateForm)
	}
	ingested = strings.TrimSpace(ingested)
	op := integrationv1.Operator_OPERATOR_EQUALS
	if i := strings.LastIndexByte(catalog, ':'); i >= 0 && isWord(catalog[i+1:]) {
		switch word := strings.ToLower(catalog[i+1:]); word {
		case "equals":
		case "contains":
			op = integrationv1.Operator_OPERATOR_CONTAINS
		default:
			return nil, fmt.Errorf("rule %q has unknown operator %q; want equals or contains", s, catalog[i+1:])
		}
		catalog = catalog[:i]
	}
	catalog = strings.TrimSpace(catalog)
	if ingested == "" {
		return nil, fmt.Errorf("rule %q has an empty ingested path (before '='); %s", s, correlateForm)
	}
	if catalog == "" {
		return nil, fmt.Errorf("rule %q has an empty catalog path (after '='); %s", s, correlateForm)
	}
	return &integrationv1.CorrelationRule{IngestedPath: ingested, CatalogPath: catalog, Operator: op}, nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func parseCorrelations(values []string) ([]*integrationv1.CorrelationRule, error) {
	rules := []*integrationv1.CorrelationRule{}
	for _, v := range values {
		r, err := parseCorrelation(v)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// correlationString renders a rule in the flag's syntax, so what `get`
// shows can be pasted back into --correlate.
func correlationString(r *integrationv1.CorrelationRule) string {
	op := "equals"
	if r.GetOperator() == integrationv1.Operator_OPERATOR_CONTAINS {
		op = "contains"
	}
	return r.GetIngestedPath() + "=" + r.GetCatalogPath() + ":" + op
}

const fieldForm = "want NAME=PATH, e.g. default_branch=mainbranch.name"

// parseField reads one field mapping, NAME=PATH; a bare NAME maps the
// Bitbucket field of the same name (language means language=language).
func parseField(s string) (*integrationv1.FieldMapping, error) {
	name, path, ok := strings.Cut(s, "=")
	name, path = strings.TrimSpace(name), strings.TrimSpace(path)
	if !ok {
		path = name
	}
	if name == "" {
		return nil, fmt.Errorf("%q has an empty NAME; %s", s, fieldForm)
	}
	if path == "" {
		return nil, fmt.Errorf("%q has an empty PATH; %s", s, fieldForm)
	}
	return &integrationv1.FieldMapping{Name: name, Path: path}, nil
}

func parseFields(values []string) ([]*integrationv1.FieldMapping, error) {
	fields := []*integrationv1.FieldMapping{}
	seen := map[string]bool{}
	for _, v := range values {
		f, err := parseField(v)
		if err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("field %q is given twice; each NAME once", f.Name)
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	return fields, nil
}

// parseStartDate reads a date (midnight UTC) or an RFC 3339 time. "none"
// returns nil: no start date.
func parseStartDate(s string) (*timestamppb.Timestamp, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return timestamppb.New(t), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return timestamppb.New(t), nil
	}
	return nil, fmt.Errorf("%q is not a date; want YYYY-MM-DD (e.g. 2025-01-01), an RFC 3339 time, or none", s)
}

// checkTokenRef rejects what is obviously not a reference, most of all a
// pasted token: the token must stay on the delegate's machine.
func checkTokenRef(s string) error {
	const form = "want env:NAME or file:/absolute/path (the delegate reads the token; it never reaches the control plane)"
	kind, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok || (kind != "env" && kind != "file"):
		return fmt.Errorf("%q is not a token reference; %s", redactToken(s), form)
	case rest == "":
		return fmt.Errorf("%q names no %s; %s", s, map[string]string{"env": "variable", "file": "file"}[kind], form)
	case kind == "file" && !strings.HasPrefix(rest, "/"):
		return fmt.Errorf("%q is not an absolute path; %s", s, form)
	}
	return nil
}

// redactToken keeps an error message from echoing a secret that was
// pasted where a reference belongs.
func redactToken(s string) string {
	if len(s) > 8 {
		return s[:4] + "…"
	}
	return s
}

func parseImportAction(s string) (integrationv1.ImportAction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "register":
		return integrationv1.ImportAction_IMPORT_ACTION_REGISTER, nil
	case "merge":
		return integrationv1.ImportAction_IMPORT_ACTION_MERGE, nil
	}
	return 0, fmt.Errorf("%q is not an action; want register or merge", s)
}

func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes":
		return true, nil
	case "off", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither on nor off", s)
}

// workspaceURL builds the HTTPS workspace URL a connector needs from a slug.
func workspaceURL(slug string) (string, error) {
	slug = strings.TrimSpace(slug)
	if slug == "" || strings.ContainsAny(slug, "/:@ ") {
		return "", fmt.Errorf("%q is not a workspace slug; want the slug as in https://bitbucket.org/SLUG, e.g. acme", slug)
	}
	return "https://bitbucket.org/" + url.PathEscape(slug), nil
}

func parseVisibility(s string) (integrationv1.RepositoryVisibility, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "private":
		return integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_PRIVATE, nil
	case "public":
		return integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_PUBLIC, nil
	case "any", "":
		return integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_UNSPECIFIED, nil
	}
	return 0, fmt.Errorf("%q is not a visibility; want private, public or any", s)
}

func visibilityName(v integrationv1.RepositoryVisibility) string {
	switch v {
	case integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_PRIVATE:
		return "private"
	case integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_PUBLIC:
		return "public"
	}
	return "any"
}

func parseForks(s string) (integrationv1.ForkPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "include", "":
		return integrationv1.ForkPolicy_FORK_POLICY_UNSPECIFIED, nil
	case "exclude":
		return integrationv1.ForkPolicy_FORK_POLICY_EXCLUDE, nil
	case "only":
		return integrationv1.ForkPolicy_FORK_POLICY_ONLY, nil
	}
	return 0, fmt.Errorf("%q is not a fork policy; want include, exclude or only", s)
}

func forksName(f integrationv1.ForkPolicy) string {
	switch f {
	case integrationv1.ForkPolicy_FORK_POLICY_EXCLUDE:
		return "exclude"
	case integrationv1.ForkPolicy_FORK_POLICY_ONLY:
		return "only"
	}
	return "include"
}
