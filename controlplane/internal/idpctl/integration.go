package idpctl

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

var integrationSubject = &subject{
	noun:     "integration",
	prefixes: []string{"integration.", "changes."},
	flags:    integrationSettingFlags(),
	list:     "idpctl integration list",
}

// integrationSettings are the settings of create and edit, in the
// Integration message's field order (the order of an update_mask). Each
// entry is the whole of a setting: its flag, its -f file key, the field it
// sets and how its value is read. Settings that set the same field are
// alternatives: at most one of them may be given.
var integrationSettings = []integrationSetting{
	{key: "name", field: "name", kind: textValue,
		help: "display name, unique in the account"},
	{key: "connector", field: "connector", kind: textValue,
		help: "connector (id or name)"},
	{key: "workspace", field: "workspace", kind: textValue, createOnly: true,
		help: "workspace slug (default: the connector's)"},
	{key: "behavior", field: "behavior", kind: textValue,
		help:     "register-and-merge (default), register or merge",
		editHelp: "register-and-merge, register or merge",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.Behavior, err = parseBehavior(v.text)
			return err
		}},
	{key: "kind", field: "kind", kind: textValue,
		help:     "catalog kind of imported entities (default Component)",
		editHelp: "catalog kind of imported entities"},
	{key: "type", field: "type", kind: textValue,
		help:     "catalog type of registered entities (default service); none with --behavior merge",
		editHelp: "catalog type of registered entities; none with --behavior merge"},
	{key: "correlate", field: "correlation", kind: listValue,
		help:     "correlation rule INGESTED_PATH=CATALOG_PATH[:equals|contains]; repeatable, all must hold (default name=name)",
		editHelp: "correlation rule INGESTED_PATH=CATALOG_PATH[:equals|contains]; repeatable, all must hold",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			rules, err := parseCorrelations(v.list)
			in.Correlation = &integrationv1.CorrelationRules{Rules: rules}
			return err
		}},
	{key: "correlate-identifier", field: "correlation", kind: boolValue,
		help: "no correlation rules: match the catalog identifier with the one derived from the slug",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			if !v.on {
				return errors.New("only true makes sense; to go back to the default rule give correlate name=name")
			}
			in.Correlation = &integrationv1.CorrelationRules{}
			return nil
		}},
	{key: "field", field: "field_mappings", kind: listValue,
		help: "field copied into entities, NAME=PATH into the Bitbucket repository JSON; repeatable, replaces the whole set",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			fields, err := parseFields(v.list)
			in.FieldMappings = &integrationv1.FieldMappings{Mappings: fields}
			return err
		}},
	{key: "secondary-kinds", field: "secondary_kinds", kind: commaListValue,
		help:     "pull-requests,commits (default both), or none; fixed once created",
		editHelp: "fixed at creation: the server refuses a change",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			kinds, err := parseSecondaryKinds(v.list)
			in.SecondaryKinds = &integrationv1.SecondaryKinds{Kinds: kinds}
			return err
		}},
	{key: "frequency", field: "update_frequency", kind: textValue,
		help:     "sync every 30m, 1h, 3h (default), 6h, 12h or 1d",
		editHelp: "sync every 30m, 1h, 3h, 6h, 12h or 1d",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.UpdateFrequency, err = parseFrequency(v.text)
			return err
		}},
	{key: "start-date", field: "start_date", kind: textValue,
		help: "fetch nothing older than this date, YYYY-MM-DD (none: no limit)",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.StartDate, err = parseStartDate(v.text)
			return err
		}},
	{key: "auto-import", field: "auto_import", kind: boolValue,
		help: "import future discoveries with their recommended action"},
	{key: "owner-mapping", field: "owner_mapping", kind: listValue,
		help:     "CODEOWNERS owner to catalog owner, FROM=TO (one * in FROM is passed on to TO, e.g. '@acme/*=group:*'); repeatable, tried in order; none turns owner suggestions off (default '@WORKSPACE/*=group:*' '@*=user:*')",
		editHelp: "CODEOWNERS owner to catalog owner, FROM=TO (one * in FROM is passed on to TO); repeatable, replaces the whole list; none turns owner suggestions off",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			rules, err := parseOwnerMapping(v.list)
			in.OwnerMapping = &integrationv1.OwnerMapping{Rules: rules}
			return err
		}},
	{key: "include-project", field: "filter", sub: "include_projects", kind: commaListValue, part: true,
		help: "filter: discover only repositories of these project keys, KEY[,KEY...] (Bitbucket filters them out: no requests)",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			filterOf(in).IncludeProjects = v.list
			return nil
		}},
	{key: "exclude-project", field: "filter", sub: "exclude_projects", kind: commaListValue, part: true,
		help: "filter: leave out repositories of these project keys, KEY[,KEY...] (Bitbucket filters them out: no requests)",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			filterOf(in).ExcludeProjects = v.list
			return nil
		}},
	{key: "include-name", field: "filter", sub: "include_names", kind: listValue, part: true,
		help: "filter: discover only repositories whose slug or name matches this glob (*, ?, [a-z]; case ignored); repeatable",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			filterOf(in).IncludeNames = v.list
			return nil
		}},
	{key: "exclude-name", field: "filter", sub: "exclude_names", kind: listValue, part: true,
		help: "filter: leave out repositories whose slug or name matches this glob; repeatable",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			filterOf(in).ExcludeNames = v.list
			return nil
		}},
	{key: "visibility", field: "filter", sub: "visibility", kind: textValue, part: true,
		help: "filter: private or public repositories only, or any",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			filterOf(in).Visibility, err = parseVisibility(v.text)
			return err
		}},
	{key: "forks", field: "filter", sub: "forks", kind: textValue, part: true,
		help: "filter: include (default), exclude or only forks",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			filterOf(in).Forks, err = parseForks(v.text)
			return err
		}},
	{key: "updated-since", field: "filter", sub: "updated_since", kind: textValue, part: true,
		help: "filter: leave out repositories not updated since this date, YYYY-MM-DD (none: keep them)",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			filterOf(in).UpdatedSince, err = parseStartDate(v.text)
			return err
		}},
	{key: "no-filter", field: "filter", kind: boolValue,
		help: "remove the filter: discover every repository of the workspace",
		apply: func(in *integrationv1.Integration, v settingValue) error {
			if !v.on {
				return errors.New("only true makes sense; to set a filter give its parts, e.g. include-project")
			}
			in.Filter = &integrationv1.RepositoryFilter{} // empty: keeps every repository
			return nil
		}},
	{key: "pr-sweep-window", field: "pull_request_sweep_window", kind: textValue,
		help: "with a working webhook, confirm every repository's pull requests at least this often, e.g. 24h or 2d (default 24h)",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.PullRequestSweepWindow, err = parseSweepDuration(v.text)
			return err
		}},
	{key: "pr-sweep-window-without-webhook", field: "pull_request_sweep_window_without_webhook", kind: textValue,
		help: "the same window while no webhook works, at most --pr-sweep-window (default 6h)",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.PullRequestSweepWindowWithoutWebhook, err = parseSweepDuration(v.text)
			return err
		}},
	{key: "full-listing-interval", field: "full_listing_interval", kind: textValue,
		help: "list every repository (deletions, transfers) this often; syncs in between list only what was updated (default 24h)",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.FullListingInterval, err = parseSweepDuration(v.text)
			return err
		}},
	{key: "watermark-overlap", field: "watermark_overlap", kind: textValue,
		help: "how far back before the last listing the next one starts, for clock differences (default 15m)",
		apply: func(in *integrationv1.Integration, v settingValue) (err error) {
			in.WatermarkOverlap, err = parseSweepDuration(v.text)
			return err
		}},
}

// filterOf is in's filter, created on first use by a filter setting.
func filterOf(in *integrationv1.Integration) *integrationv1.RepositoryFilter {
	if in.Filter == nil {
		in.Filter = &integrationv1.RepositoryFilter{}
	}
	return in.Filter
}

// parseOwnerMapping reads --owner-mapping values; "none" alone is the
// empty list.
func parseOwnerMapping(list []string) ([]*integrationv1.OwnerMappingRule, error) {
	if len(list) == 1 && strings.EqualFold(strings.TrimSpace(list[0]), "none") {
		return nil, nil
	}
	out := make([]*integrationv1.OwnerMappingRule, 0, len(list))
	for _, item := range list {
		from, to, ok := strings.Cut(item, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("%q: want FROM=TO, e.g. @acme/payments=group:payments, or none", item)
		}
		out = append(out, &integrationv1.OwnerMappingRule{From: from, To: to})
	}
	return out, nil
}

// integrationSetting is one setting of create and edit.
type integrationSetting struct {
	key        string // the flag's name and the -f file's key
	field      string // the Integration field set: update_mask path and BadRequest field
	kind       valueKind
	help       string // the flag's help on create
	editHelp   string // the flag's help on edit, when it differs
	createOnly bool   // no flag on edit
	// part marks the settings that together make one field (the filter):
	// they may be given together, and together they replace the field.
	// sub is the part's field within it, for errors about it.
	part bool
	sub  string
	// apply sets the field from a value given; its error names the rule
	// broken, and the caller names the flag or key. Without apply, the
	// value is the field's, as given (a string or a bool).
	apply func(in *integrationv1.Integration, v settingValue) error
}

// set applies the setting's value to in.
func (st *integrationSetting) set(in *integrationv1.Integration, v settingValue) error {
	if st.apply != nil {
		return st.apply(in, v)
	}
	m := in.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(st.field))
	switch st.kind {
	case textValue:
		m.Set(fd, protoreflect.ValueOfString(v.text))
	case boolValue:
		m.Set(fd, protoreflect.ValueOfBool(v.on))
	default:
		return fmt.Errorf("setting %s has no apply", st.key)
	}
	return nil
}

// settingValue is a setting's value as given; kind says which part is set.
type settingValue struct {
	text string   // textValue
	list []string // listValue and commaListValue
	on   bool     // boolValue
}

// valueKind is how a setting is written as a flag and in a -f file.
type valueKind int

const (
	textValue      valueKind = iota // --flag TEXT; key: text
	listValue                       // --flag A --flag B; key: [A, B]
	commaListValue                  // --flag A,B; key: [A, B] or key: A, B
	boolValue                       // --flag[=false]; key: true|false
)

func (k valueKind) addFlag(fs *pflag.FlagSet, name, help string) {
	switch k {
	case textValue, commaListValue:
		fs.String(name, "", help)
	case listValue:
		fs.StringArray(name, nil, help)
	case boolValue:
		fs.Bool(name, false, help)
	}
}

func (k valueKind) fromFlag(fs *pflag.FlagSet, name string) (settingValue, error) {
	var v settingValue
	var err error
	switch k {
	case textValue:
		v.text, err = fs.GetString(name)
	case commaListValue:
		var s string
		s, err = fs.GetString(name)
		v.list = splitList(s)
	case listValue:
		v.list, err = fs.GetStringArray(name)
	case boolValue:
		v.on, err = fs.GetBool(name)
	}
	return v, err
}

func (k valueKind) fromYAML(n *yaml.Node) (settingValue, error) {
	var v settingValue
	switch k {
	case textValue:
		return v, n.Decode(&v.text)
	case commaListValue:
		if n.Kind == yaml.ScalarNode {
			v.list = splitList(n.Value)
			return v, nil
		}
		return v, n.Decode(&v.list)
	case listValue:
		return v, n.Decode(&v.list)
	default:
		return v, n.Decode(&v.on)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func settingByKey(key string) *integrationSetting {
	for i := range integrationSettings {
		if integrationSettings[i].key == key {
			return &integrationSettings[i]
		}
	}
	return nil
}

// integrationSettingFlags maps each field to the flag that sets it, for
// errors about fields; of alternatives, the first.
func integrationSettingFlags() map[string]string {
	flags := map[string]string{}
	for _, st := range integrationSettings {
		if _, ok := flags[st.field]; !ok {
			flags[st.field] = "--" + st.key
		}
		if st.sub != "" {
			flags[st.field+"."+st.sub] = "--" + st.key
		}
	}
	return flags
}

// specKeys lists the -f file's keys for error messages.
var specKeys = func() string {
	keys := make([]string, len(integrationSettings))
	for i, st := range integrationSettings {
		keys[i] = st.key
	}
	return strings.Join(keys, ", ")
}()

// integrationSpec is the settings given, from a -f file and the flags.
// A setting not given is absent, which is what an edit's update_mask is
// made from.
type integrationSpec struct {
	values map[string]settingValue // by setting key
	origin map[string]string       // by setting key: where the value came from, for errors
}

func newIntegrationSpec() *integrationSpec {
	return &integrationSpec{values: map[string]settingValue{}, origin: map[string]string{}}
}

// given reports whether the setting for field was given, under any key.
func (s *integrationSpec) given(field string) bool {
	for key := range s.values {
		if settingByKey(key).field == field {
			return true
		}
	}
	return false
}

// UnmarshalYAML reads a -f file: a mapping of setting keys. Unknown keys
// are errors, since a misspelt key silently ignored would change nothing.
func (s *integrationSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a mapping of settings (the keys are %s)", n.Line, specKeys)}}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		st := settingByKey(k.Value)
		switch {
		case st == nil:
			errs = append(errs, fmt.Sprintf("line %d: field %s is not a setting (the keys are %s)", k.Line, k.Value, specKeys))
			continue
		case s.origin[st.key] != "":
			errs = append(errs, fmt.Sprintf("line %d: %s is given twice", k.Line, k.Value))
			continue
		}
		value, err := st.kind.fromYAML(v)
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs = append(errs, te.Errors...)
			continue
		} else if err != nil {
			return err
		}
		s.values[st.key] = value
		s.origin[st.key] = st.key
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// loadIntegrationSpec reads a -f file ("-" is stdin).
func (a *app) loadIntegrationSpec(path string) (*integrationSpec, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(a.stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, cli.Usagef("-f: %v", err)
	}
	spec := newIntegrationSpec()
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(spec); err != nil && err != io.EOF {
		return nil, cli.Usagef("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for key := range spec.origin {
		spec.origin[key] = key + " in " + path
	}
	if first, second, ok := spec.alternatives(); ok {
		return nil, cli.Usagef("%s: give %s or %s, not both", path, first, second)
	}
	return spec, nil
}

// alternatives reports two settings given that set the same field, in
// the table's order.
func (s *integrationSpec) alternatives() (first, second string, ok bool) {
	byField := map[string]string{}
	for _, st := range integrationSettings {
		if _, given := s.values[st.key]; !given {
			continue
		}
		if other, ok := byField[st.field]; ok && !(st.part && settingByKey(other).part) {
			return other, st.key, true
		}
		if _, ok := byField[st.field]; !ok {
			byField[st.field] = st.key
		}
	}
	return "", "", false
}

// replaces reports whether a flag for setting a replaces the -f file's
// value of setting b: the same setting, or an alternative of it.
func replaces(a, b *integrationSetting) bool {
	return a.key == b.key || a.field == b.field && !(a.part && b.part)
}

// integrationFlags are the flags of create and edit besides the settings,
// which are read from the command's flag set by name.
type integrationFlags struct {
	file   string
	output outputFormat
}

func (f *integrationFlags) register(cmd *cobra.Command, create bool) {
	fs := cmd.Flags()
	fs.StringVarP(&f.file, "filename", "f", "", "YAML file of settings, keys named like the flags ('-' for stdin); flags override it")
	for _, st := range integrationSettings {
		switch {
		case create:
			st.kind.addFlag(fs, st.key, st.help)
		case !st.createOnly:
			st.kind.addFlag(fs, st.key, cmp.Or(st.editHelp, st.help))
		}
	}
	addOutputFlag(cmd, &f.output)
}

// integrationSpec merges the -f file and the flags; a flag given replaces
// the file's value of the same setting and of its alternatives.
func (a *app) integrationSpec(cmd *cobra.Command, f *integrationFlags) (*integrationSpec, error) {
	spec := newIntegrationSpec()
	if f.file != "" {
		var err error
		if spec, err = a.loadIntegrationSpec(f.file); err != nil {
			return nil, err
		}
	}
	fs := cmd.Flags()
	flags := newIntegrationSpec()
	for _, st := range integrationSettings {
		if !fs.Changed(st.key) {
			continue
		}
		v, err := st.kind.fromFlag(fs, st.key)
		if err != nil {
			return nil, err
		}
		flags.values[st.key] = v
	}
	if first, second, ok := flags.alternatives(); ok {
		return nil, cli.Usagef("give --%s or --%s, not both", first, second)
	}
	for key, v := range flags.values {
		for k := range spec.values {
			if replaces(settingByKey(key), settingByKey(k)) {
				delete(spec.values, k)
				delete(spec.origin, k)
			}
		}
		spec.values[key] = v
		spec.origin[key] = "--" + key
	}
	return spec, nil
}

// build turns the spec into an Integration and the update_mask paths of
// the settings given, in the message's field order.
func (s *integrationSpec) build() (*integrationv1.Integration, []string, error) {
	in := &integrationv1.Integration{}
	var mask []string
	for _, st := range integrationSettings {
		v, ok := s.values[st.key]
		if !ok {
			continue
		}
		if err := st.set(in, v); err != nil {
			return nil, nil, cli.Usagef("invalid %s: %v", s.origin[st.key], err)
		}
		if !slices.Contains(mask, st.field) {
			mask = append(mask, st.field)
		}
	}
	return in, mask, nil
}

func (a *app) integrationCommand() *cobra.Command {
	cmd := group("integration", "Manage Bitbucket Cloud integrations",
		`An integration connects one Bitbucket Cloud workspace to the catalog: which
connector to use, how discovered repositories enter the catalog (behavior,
kind, type), how they are matched with existing entities (correlation), which
fields are copied, which secondary kinds are synced, and how often.

Every integration operation needs the account's feature flag
IDP_CATALOG_CD_AUTO_DISCOVERY and the permission IDP_INTEGRATION_EDIT on
IDP_INTEGRATION.`,
		a.integrationCreateCommand(),
		a.integrationListCommand(),
		a.integrationGetCommand(),
		a.integrationEditCommand(),
		a.integrationSuspendCommand(),
		a.integrationResumeCommand(),
		a.syncCommand(), // also at the top level; here for those who look for it
	)
	cmd.Aliases = []string{"integrations"}
	return cmd
}

const integrationFileHelp = `Settings may come from a YAML file (-f FILE, '-' for stdin) whose keys are the
flag names; flags given on the command line override the file:

  name: Bitbucket PreQA Workspace
  connector: bb-preqa
  workspace: acme                    # default: the connector's workspace
  behavior: register-and-merge       # register-and-merge | register | merge
  kind: Component
  type: service                      # leave out with behavior: merge
  correlate:                         # every rule must hold; default name=name
    - name=name
    - project.key=metadata.tags:contains
  # correlate-identifier: true       # instead of correlate: match identifiers
  field:                             # replaces the default set of fields
    - name=name
    - default_branch=mainbranch.name
    - language
  secondary-kinds: [pull-requests, commits]   # or none; fixed after creation
  frequency: 3h                      # 30m | 1h | 3h | 6h | 12h | 1d
  start-date: 2025-01-01
  auto-import: false
  owner-mapping:                     # CODEOWNERS owner -> catalog owner, first match wins
    - '@acme/payments=group:payments-team'
    - '@acme/*=group:*'
    - '@*=user:*'
  include-project: [PAY, OPS]        # filter: only these projects' repositories
  exclude-project: LEGACY            # filter: not these projects'
  include-name: ['payments-*']       # filter: slug or name globs to keep
  exclude-name: ['*-sandbox']        # filter: slug or name globs to leave out
  visibility: private                # filter: private | public | any
  forks: exclude                     # filter: include | exclude | only
  updated-since: 2025-01-01          # filter: leave out repositories idle since
  # no-filter: true                  # instead of the filter keys: no filter
  pr-sweep-window: 24h                # sweeps: see "Freshness" in the README
  pr-sweep-window-without-webhook: 6h
  full-listing-interval: 24h
  watermark-overlap: 15m

Correlation: INGESTED_PATH is a path into the ingested properties or the raw
Bitbucket repository JSON, CATALOG_PATH a path into the entity YAML; equals is
exact, contains means the ingested value contains the catalog value, ignoring
case. Field mappings: NAME is the property under
metadata.integration_properties.BitbucketCloud (dots nest, e.g. project.key),
PATH a path into the repository JSON; a bare NAME means NAME=NAME. Without
field mappings the server's defaults apply (name, url, description,
default_branch, project.key, project.name, is_private, uuid, full_name,
language, created_on, updated_on). Field mappings replace the whole set: to add
one, list the current ones ('idpctl integration get NAME') plus the new one.

Filter: a repository is discovered when it passes every part given. Bitbucket
applies the project, visibility and updated-since parts to the listing itself,
so the repositories they leave out cost no request at all; the delegate
applies the name and fork parts, and fetches no pull requests or commits of
the repositories they leave out.`

func (a *app) integrationCreateCommand() *cobra.Command {
	var f integrationFlags
	cmd := &cobra.Command{
		Use:   "create --name NAME --connector CONNECTOR [flags] | -f FILE",
		Short: "Create and enable an integration; its first sync starts at once",
		Long: `Create an integration for a connector's workspace and enable it: this is the
"Confirm & Enable" step, and the first sync is queued at once. A workspace has
one integration per account. Secondary kinds cannot be changed afterwards.

` + integrationFileHelp,
		Example: `  # Defaults: register and merge, Component/service, name=name, every 3h
  idpctl integration create --name "Bitbucket PreQA" --connector bb-preqa

  # Merge only, matching repositories to entities tagged with the project key
  idpctl integration create --name acme --connector bb-acme --behavior merge \
      --correlate 'project.key=metadata.tags:contains' --secondary-kinds commits

  # From a file, with the name overridden
  idpctl integration create -f integration.yaml --name "Bitbucket QA"`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := a.integrationSpec(cmd, &f)
			if err != nil {
				return err
			}
			for _, key := range []string{"name", "connector"} {
				if spec.values[key].text == "" {
					return cli.Usagef("--%s is required (or %s: in the -f file)", key, key)
				}
			}
			in, _, err := spec.build()
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.integrations.CreateIntegration, &integrationv1.CreateIntegrationRequest{Integration: in})
			if err != nil {
				return about(integrationSubject, err)
			}
			got := resp.GetIntegration()
			return a.writeMessage(f.output, got, func(w io.Writer) {
				fmt.Fprintf(w, "Integration %q created and enabled for workspace %s (id %s).\n", got.GetName(), got.GetWorkspace(), got.GetId())
				if run := resp.GetFirstRun(); run != nil {
					fmt.Fprintf(w, "First sync queued: run %s.\n", run.GetId())
				}
				a.hint("Follow the sync: %s\nThen: %s", cmdLine("sync", got.GetName(), "--wait"), cmdLine("discovered", "list", got.GetName()))
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func (a *app) integrationEditCommand() *cobra.Command {
	var f integrationFlags
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "edit INTEGRATION [flags] | -f FILE",
		Short: "Change an integration's settings",
		Long: `Change the settings given, and only those (the update_mask holds exactly the
flags and file keys given). Name, connector, behavior, kind, type,
correlation, fields, frequency, start date and auto-import can change; a
correlation change recomputes the recommendations of repositories not yet
imported. The workspace and the secondary kinds are fixed at creation.

--correlate and --field replace the whole list. A behavior change never
changes the type by itself: switching to --behavior merge needs --type ""
(which clears the type), switching away from merge needs a --type.
--start-date none removes the start date; --auto-import=false turns
auto-import off.

The filter settings (--include-project, --exclude-project, --include-name,
--exclude-name, --visibility, --forks, --updated-since) together replace the
whole filter: give every part to keep ('idpctl integration get' shows them in
this syntax); --no-filter removes it. Repositories the filter leaves out leave
the Discovered list at once; imported ones stay imported and are flagged in
'idpctl imported list'.

--dry-run checks the change and shows what it would do to the Discovered list
without applying it: how many repositories would go from Register to Merge and
back, or to another entity, which the filter would take out or bring in, with
examples. Nothing is stored.

` + integrationFileHelp,
		Example: `  idpctl integration edit acme --name "Bitbucket Acme" --frequency 1h
  idpctl integration edit acme --behavior merge --type ""
  idpctl integration edit acme --correlate name=name --correlate 'project.key=metadata.tags:contains'
  idpctl integration edit acme -f changes.yaml
  idpctl integration edit acme --correlate 'name=name:contains' --dry-run
  idpctl integration edit acme --exclude-project LEGACY --exclude-name '*-sandbox' --forks exclude`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := a.integrationSpec(cmd, &f)
			if err != nil {
				return err
			}
			changes, mask, err := spec.build()
			if err != nil {
				return err
			}
			if len(mask) == 0 {
				return cli.Usagef("nothing to change: give the settings to change as flags (e.g. --frequency 1h) or in -f FILE")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.integrations.UpdateIntegration, &integrationv1.UpdateIntegrationRequest{
				Integration:  args[0],
				Changes:      changes,
				UpdateMask:   &fieldmaskpb.FieldMask{Paths: mask},
				ValidateOnly: dryRun,
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			got := resp.GetIntegration()
			if dryRun {
				return a.writeMessage(f.output, resp, func(w io.Writer) {
					fmt.Fprintf(w, "Dry run: integration %q was not changed. The change of %s is valid.\n", got.GetName(), strings.Join(mask, ", "))
					writePreview(w, resp.GetPreview())
					a.hint("Apply it: run the same command without --dry-run")
				})
			}
			return a.writeMessage(f.output, got, func(w io.Writer) {
				fmt.Fprintf(w, "Integration %q updated: %s.\n", got.GetName(), strings.Join(mask, ", "))
				if spec.given("correlation") {
					a.hint("Recommendations of repositories not yet imported are recomputed: %s", cmdLine("discovered", "list", got.GetName()))
				}
			})
		},
	}
	f.register(cmd, false)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the change and show what it would do to the Discovered list, without applying it")
	return cmd
}

// writePreview shows what a change would do to the Discovered list.
func writePreview(w io.Writer, p *integrationv1.DiscoveredPreview) {
	if p == nil {
		fmt.Fprintln(w, "It does not change the Discovered list (only the behavior, kind, type, correlation, fields and filter do).")
		return
	}
	fmt.Fprintf(w, "In the Discovered list (%d repositories compared):\n", p.GetRepositories())
	d := newDetails(w)
	d.add("  Register -> Merge", fmt.Sprint(p.GetRegisterToMerge()))
	d.add("  Merge -> Register", fmt.Sprint(p.GetMergeToRegister()))
	d.add("  Merge into another entity", fmt.Sprint(p.GetMergeTargetChanged()))
	d.add("  Nothing recommended any more", fmt.Sprint(p.GetToNone()))
	d.add("  Recommended, none before", fmt.Sprint(p.GetFromNone()))
	d.add("  Leaving (filter)", fmt.Sprint(p.GetLeaving()))
	d.add("  Entering (filter)", fmt.Sprint(p.GetEntering()))
	d.add("  Imported, left out by the filter", fmt.Sprintf("%d (they stay imported, flagged)", p.GetImportedExcluded()))
	d.flush()
	if len(p.GetExamples()) == 0 {
		return
	}
	fmt.Fprintln(w, "Examples:")
	t := newTable(w, "  REPOSITORY", "NOW", "AFTER")
	for _, e := range p.GetExamples() {
		t.row("  "+e.GetRepository(), actionWithEntity(e.GetFromAction(), e.GetFromEntity()), actionWithEntity(e.GetToAction(), e.GetToEntity()))
	}
	t.flush()
}

func actionWithEntity(action, entity string) string {
	switch {
	case action == "":
		return "none"
	case entity != "":
		return action + " " + entity
	}
	return action
}

func (a *app) integrationListCommand() *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List integrations",
		Example: `  idpctl integration list
  idpctl integration list -o json | jq -r '.items[] | select(.state == "INTEGRATION_STATE_SUSPENDED") | .name'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, true, func(ctx context.Context, size int32, token string) ([]*integrationv1.Integration, string, int64, error) {
				resp, err := c.integrations.ListIntegrations(ctx, &integrationv1.ListIntegrationsRequest{PageSize: size, PageToken: token})
				return resp.GetIntegrations(), resp.GetNextPageToken(), resp.GetTotal(), err
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			type in = *integrationv1.Integration
			return writeList(a, &o, p, []column[in]{
				{"NAME", in.GetName},
				{"WORKSPACE", in.GetWorkspace},
				{"STATE", func(i in) string { return enumName(i.GetState(), "INTEGRATION_STATE_") }},
				{"BEHAVIOR", func(i in) string { return behaviorName(i.GetBehavior()) }},
				{"FREQUENCY", func(i in) string { return frequencyName(i.GetUpdateFrequency()) }},
				{"AUTO-IMPORT", func(i in) string { return onOff(i.GetAutoImport()) }},
				{"LAST RUN", func(i in) string { return a.runSummaryShort(i.GetLastRun()) }},
				{"NEXT SYNC", func(i in) string { return a.age(i.GetNextSyncAt()) }},
			}, "No integrations. Create one with: "+cmdLine("integration", "create", "--name", "NAME", "--connector", "CONNECTOR"))
		},
	}
	addListFlags(cmd, &o)
	return cmd
}

func (a *app) integrationGetCommand() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "get INTEGRATION",
		Short: "Show an integration (by id or name) with its last run",
		Example: `  idpctl integration get acme
  idpctl integration get acme -o yaml`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.integrations.GetIntegration, &integrationv1.GetIntegrationRequest{Integration: args[0]})
			if err != nil {
				return about(integrationSubject, err)
			}
			in := resp.GetIntegration()
			return a.writeMessage(output, in, func(w io.Writer) { a.integrationDetails(w, in) })
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) integrationDetails(w io.Writer, in *integrationv1.Integration) {
	d := newDetails(w)
	d.add("Name", in.GetName())
	d.add("ID", in.GetId())
	d.add("State", enumName(in.GetState(), "INTEGRATION_STATE_"))
	d.add("Connector", connectorLabel(in))
	d.add("Workspace", in.GetWorkspace())
	d.add("Behavior", behaviorName(in.GetBehavior()))
	d.add("Kind", in.GetKind())
	d.add("Type", in.GetType())
	switch rules := in.GetCorrelation().GetRules(); {
	case in.GetCorrelation() == nil:
		d.add("Correlate", "")
	case len(rules) == 0:
		d.add("Correlate", "identifier (no rules)")
	default:
		for _, r := range rules {
			d.add("Correlate", correlationString(r))
		}
	}
	// One line per rule and field, in the flags' syntax, so they can be
	// copied into --correlate and --field.
	if len(in.GetFieldMappings().GetMappings()) == 0 {
		d.add("Field", "")
	}
	for _, m := range in.GetFieldMappings().GetMappings() {
		d.add("Field", m.GetName()+"="+m.GetPath())
	}
	d.add("Secondary kinds", secondaryKindsName(in.GetSecondaryKinds().GetKinds()))
	d.add("Frequency", frequencyName(in.GetUpdateFrequency()))
	d.add("Start date", startDateString(in.GetStartDate()))
	d.add("Auto-import", onOff(in.GetAutoImport()))
	// One line per rule, in the flag's syntax.
	if len(in.GetOwnerMapping().GetRules()) == 0 {
		d.add("Owner mapping", "none (owner suggestions off)")
	}
	for _, r := range in.GetOwnerMapping().GetRules() {
		d.add("Owner mapping", r.GetFrom()+"="+r.GetTo())
	}
	for _, line := range filterLines(in.GetFilter()) {
		d.add("Filter", line)
	}
	if in.GetPullRequestSweepWindow() != nil {
		d.add("PR sweep window", durationString(in.GetPullRequestSweepWindow())+" with a webhook, "+
			durationString(in.GetPullRequestSweepWindowWithoutWebhook())+" without")
		d.add("Full listing", "every "+durationString(in.GetFullListingInterval())+
			"; in between, what was updated since the last listing, less "+durationString(in.GetWatermarkOverlap()))
	}
	if f := in.GetFreshness(); f != nil {
		a.freshnessDetails(d, f)
	}
	d.add("Created", a.when(in.GetCreatedAt()))
	d.add("Updated", a.when(in.GetUpdatedAt()))
	d.add("Next sync", a.when(in.GetNextSyncAt()))
	d.add("Last run", a.runSummaryLong(in.GetLastRun()))
	if h := in.GetWebhook(); h != nil {
		d.add("Webhook", strings.ToLower(enumName(h.GetState(), "INTEGRATION_WEBHOOK_STATE_")))
		if h.GetUrl() != "" {
			d.add("Webhook URL", h.GetUrl())
		}
		if h.GetMessage() != "" {
			d.add("Webhook report", h.GetMessage()+" ("+a.when(h.GetCheckedAt())+")")
		}
		if h.GetDeliveries() > 0 {
			d.add("Webhook deliveries", fmt.Sprintf("%d, last %s", h.GetDeliveries(), a.when(h.GetLastDeliveryAt())))
		}
		if h.GetHint() != "" {
			d.add("Webhook hint", h.GetHint())
		}
	}
	d.flush()
}

// connectorLabel names an integration's connector as people know it, by
// name, with the id that the API returns beside it.
func connectorLabel(in *integrationv1.Integration) string {
	if in.GetConnectorName() == "" {
		return in.GetConnector()
	}
	return in.GetConnectorName() + " (" + in.GetConnector() + ")"
}

// filterLines shows a filter one part a line, in the flags' syntax.
func filterLines(f *integrationv1.RepositoryFilter) []string {
	var out []string
	if len(f.GetIncludeProjects()) > 0 {
		out = append(out, "include-project "+strings.Join(f.GetIncludeProjects(), ","))
	}
	if len(f.GetExcludeProjects()) > 0 {
		out = append(out, "exclude-project "+strings.Join(f.GetExcludeProjects(), ","))
	}
	for _, g := range f.GetIncludeNames() {
		out = append(out, "include-name "+cli.Quote(g))
	}
	for _, g := range f.GetExcludeNames() {
		out = append(out, "exclude-name "+cli.Quote(g))
	}
	if v := f.GetVisibility(); v != integrationv1.RepositoryVisibility_REPOSITORY_VISIBILITY_UNSPECIFIED {
		out = append(out, "visibility "+visibilityName(v))
	}
	if p := f.GetForks(); p != integrationv1.ForkPolicy_FORK_POLICY_UNSPECIFIED && p != integrationv1.ForkPolicy_FORK_POLICY_INCLUDE {
		out = append(out, "forks "+forksName(p))
	}
	if f.GetUpdatedSince() != nil {
		out = append(out, "updated-since "+startDateString(f.GetUpdatedSince()))
	}
	if len(out) == 0 {
		return []string{"none: every repository of the workspace"}
	}
	return out
}

// freshnessDetails shows how recently the integration's data was confirmed.
func (a *app) freshnessDetails(d *details, f *integrationv1.Freshness) {
	sweeping := "at the shorter window: no webhook delivers changes"
	if f.GetWebhook() {
		sweeping = "at the longer window: the webhook delivers changes"
	}
	d.add("Sweeping", sweeping)
	oldest := "never (some repositories not yet)"
	if f.GetPullRequestsOldestConfirmedAt() != nil {
		oldest = a.when(f.GetPullRequestsOldestConfirmedAt())
	} else if f.GetRepositories() == 0 {
		oldest = "no repositories"
	}
	d.add("PRs confirmed", fmt.Sprintf("oldest %s; %d of %d repositories overdue (window %s)", oldest,
		f.GetPullRequestsOverdue(), f.GetRepositories(), durationString(f.GetPullRequestWindow())))
	d.add("Last full listing", a.when(f.GetLastFullListingAt()))
	d.add("Listed as of", a.when(f.GetListedAsOf()))
}

// durationString shows a duration the way the flags take it: 24h, 90m, 2d.
func durationString(d *durationpb.Duration) string {
	v := d.AsDuration()
	switch {
	case d == nil:
		return ""
	case v >= 24*time.Hour && v%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	case v >= time.Hour && v%time.Hour == 0:
		return fmt.Sprintf("%dh", v/time.Hour)
	default:
		return fmt.Sprintf("%dm", v/time.Minute)
	}
}

// startDateString shows a midnight-UTC start date as the date it was given as.
func startDateString(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "none"
	}
	t := ts.AsTime()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

func (a *app) integrationSuspendCommand() *cobra.Command {
	return a.integrationStateCommand("suspend INTEGRATION",
		"Suspend discovery and sync updates; imported entities stay",
		"  idpctl integration suspend acme",
		func(ctx context.Context, c *clients, ref string) (*integrationv1.Integration, error) {
			resp, err := call(ctx, a, c.integrations.SuspendIntegration, &integrationv1.SuspendIntegrationRequest{Integration: ref})
			return resp.GetIntegration(), err
		},
		func(w io.Writer, in *integrationv1.Integration) {
			fmt.Fprintf(w, "Integration %q suspended: no discovery and no sync updates; imported entities stay as they are.\n", in.GetName())
			a.hint("Resume it with: %s", cmdLine("integration", "resume", in.GetName()))
		})
}

func (a *app) integrationResumeCommand() *cobra.Command {
	return a.integrationStateCommand("resume INTEGRATION",
		"Resume a suspended integration; a sync starts at once",
		"  idpctl integration resume acme",
		func(ctx context.Context, c *clients, ref string) (*integrationv1.Integration, error) {
			resp, err := call(ctx, a, c.integrations.ResumeIntegration, &integrationv1.ResumeIntegrationRequest{Integration: ref})
			return resp.GetIntegration(), err
		},
		func(w io.Writer, in *integrationv1.Integration) {
			fmt.Fprintf(w, "Integration %q resumed; a sync is queued.\n", in.GetName())
			a.hint("Follow it: %s", cmdLine("sync", in.GetName(), "--wait"))
		})
}

// integrationStateCommand is what suspend and resume share: one
// integration argument, one call that returns it, and a report of it.
func (a *app) integrationStateCommand(use, short, example string,
	change func(ctx context.Context, c *clients, ref string) (*integrationv1.Integration, error),
	report func(w io.Writer, in *integrationv1.Integration),
) *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			in, err := change(cmd.Context(), c, args[0])
			if err != nil {
				return about(integrationSubject, err)
			}
			return a.writeMessage(output, in, func(w io.Writer) { report(w, in) })
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// cmdLine is an idpctl command line for the user to paste: every hint
// and message that shows a command builds it here, so that names with
// spaces or quotes come out quoted (cli.Command) whichever command prints
// them.
func cmdLine(words ...string) string {
	return cli.Command(append([]string{"idpctl"}, words...)...)
}
