package idpctl

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

var integrationSubject = &subject{
	noun:     "integration",
	prefixes: []string{"integration.", "changes."},
	flags: map[string]string{
		"name":             "--name",
		"connector":        "--connector",
		"workspace":        "--workspace",
		"behavior":         "--behavior",
		"kind":             "--kind",
		"type":             "--type",
		"correlation":      "--correlate",
		"field_mappings":   "--field",
		"secondary_kinds":  "--secondary-kinds",
		"update_frequency": "--frequency",
		"start_date":       "--start-date",
		"auto_import":      "--auto-import",
	},
	list: "idpctl integration list",
}

// integrationSpec is an integration's settings in the flags' vocabulary;
// a -f file has the same keys as the flags. nil means not given, which is
// what an edit's update_mask is made from.
type integrationSpec struct {
	Name                *string     `yaml:"name"`
	Connector           *string     `yaml:"connector"`
	Workspace           *string     `yaml:"workspace"`
	Behavior            *string     `yaml:"behavior"`
	Kind                *string     `yaml:"kind"`
	Type                *string     `yaml:"type"`
	Correlate           *[]string   `yaml:"correlate"`
	CorrelateIdentifier *bool       `yaml:"correlate-identifier"`
	Field               *[]string   `yaml:"field"`
	SecondaryKinds      *stringList `yaml:"secondary-kinds"`
	Frequency           *string     `yaml:"frequency"`
	StartDate           *string     `yaml:"start-date"`
	AutoImport          *bool       `yaml:"auto-import"`

	// origin says where each key's value came from, for error messages.
	origin map[string]string
}

const specKeys = "name, connector, workspace, behavior, kind, type, correlate, correlate-identifier, field, secondary-kinds, frequency, start-date, auto-import"

// stringList is a YAML list of strings that may also be written as one
// comma-separated string, like the flag.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = splitList(n.Value)
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
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

// loadIntegrationSpec reads a -f file ("-" is stdin). Unknown keys are
// errors: a misspelt key silently ignored would change nothing.
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
	spec := &integrationSpec{origin: map[string]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(spec); err != nil && err != io.EOF {
		msg := strings.ReplaceAll(err.Error(), "not found in type idpctl.integrationSpec", "is not a setting (the keys are "+specKeys+")")
		return nil, cli.Usagef("%s: %s", path, strings.TrimPrefix(msg, "yaml: "))
	}
	for _, key := range spec.keys() {
		spec.origin[key] = key + " in " + path
	}
	if spec.Correlate != nil && spec.CorrelateIdentifier != nil {
		return nil, cli.Usagef("%s: give correlate or correlate-identifier, not both", path)
	}
	return spec, nil
}

// keys lists the settings given, in the file's key names.
func (s *integrationSpec) keys() []string {
	var keys []string
	add := func(given bool, key string) {
		if given {
			keys = append(keys, key)
		}
	}
	add(s.Name != nil, "name")
	add(s.Connector != nil, "connector")
	add(s.Workspace != nil, "workspace")
	add(s.Behavior != nil, "behavior")
	add(s.Kind != nil, "kind")
	add(s.Type != nil, "type")
	add(s.Correlate != nil, "correlate")
	add(s.CorrelateIdentifier != nil, "correlate-identifier")
	add(s.Field != nil, "field")
	add(s.SecondaryKinds != nil, "secondary-kinds")
	add(s.Frequency != nil, "frequency")
	add(s.StartDate != nil, "start-date")
	add(s.AutoImport != nil, "auto-import")
	return keys
}

// integrationFlags are the settings flags of create and edit.
type integrationFlags struct {
	file                                                       string
	name, connector, workspace, behavior, kind, typ, frequency string
	startDate, secondaryKinds                                  string
	correlate, fields                                          []string
	correlateIdentifier, autoImport                            bool
	output                                                     outputFormat
}

func (f *integrationFlags) register(cmd *cobra.Command, create bool) {
	// Defaults are the server's on create; an edit changes only what is given.
	dflt := func(s string) string {
		if create {
			return s
		}
		return ""
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.file, "filename", "f", "", "YAML file of settings, keys named like the flags ('-' for stdin); flags override it")
	fs.StringVar(&f.name, "name", "", "display name, unique in the account")
	fs.StringVar(&f.connector, "connector", "", "connector (id or name)")
	if create {
		fs.StringVar(&f.workspace, "workspace", "", "workspace slug (default: the connector's)")
	}
	fs.StringVar(&f.behavior, "behavior", "", "register-and-merge"+dflt(" (default)")+", register or merge")
	fs.StringVar(&f.kind, "kind", "", "catalog kind of imported entities"+dflt(" (default Component)"))
	fs.StringVar(&f.typ, "type", "", "catalog type of registered entities"+dflt(" (default service)")+"; none with --behavior merge")
	fs.StringArrayVar(&f.correlate, "correlate", nil, "correlation rule INGESTED_PATH=CATALOG_PATH[:equals|contains]; repeatable, all must hold"+dflt(" (default name=name)"))
	fs.BoolVar(&f.correlateIdentifier, "correlate-identifier", false, "no correlation rules: match the catalog identifier with the one derived from the slug")
	fs.StringArrayVar(&f.fields, "field", nil, "field copied into entities, NAME=PATH into the Bitbucket repository JSON; repeatable, replaces the whole set")
	if create {
		fs.StringVar(&f.secondaryKinds, "secondary-kinds", "", "pull-requests,commits (default both), or none; fixed once created")
	} else {
		fs.StringVar(&f.secondaryKinds, "secondary-kinds", "", "fixed at creation: the server refuses a change")
	}
	fs.StringVar(&f.frequency, "frequency", "", "sync every 30m, 1h, 3h"+dflt(" (default)")+", 6h, 12h or 1d")
	fs.StringVar(&f.startDate, "start-date", "", "fetch nothing older than this date, YYYY-MM-DD (none: no limit)")
	fs.BoolVar(&f.autoImport, "auto-import", false, "import future discoveries with their recommended action")
	addOutputFlag(cmd, &f.output)
}

// spec merges the -f file and the flags; a flag given replaces the file's
// value of the same key.
func (a *app) integrationSpec(cmd *cobra.Command, f *integrationFlags) (*integrationSpec, error) {
	spec := &integrationSpec{origin: map[string]string{}}
	if f.file != "" {
		var err error
		if spec, err = a.loadIntegrationSpec(f.file); err != nil {
			return nil, err
		}
	}
	fs := cmd.Flags()
	str := func(flag string, dst **string, v string) {
		if fs.Changed(flag) {
			*dst = &v
			spec.origin[flag] = "--" + flag
		}
	}
	str("name", &spec.Name, f.name)
	str("connector", &spec.Connector, f.connector)
	str("workspace", &spec.Workspace, f.workspace)
	str("behavior", &spec.Behavior, f.behavior)
	str("kind", &spec.Kind, f.kind)
	str("type", &spec.Type, f.typ)
	str("frequency", &spec.Frequency, f.frequency)
	str("start-date", &spec.StartDate, f.startDate)
	if fs.Changed("correlate") && fs.Changed("correlate-identifier") {
		return nil, cli.Usagef("give --correlate or --correlate-identifier, not both")
	}
	if fs.Changed("correlate") {
		spec.Correlate, spec.CorrelateIdentifier = &f.correlate, nil
		spec.origin["correlate"] = "--correlate"
	}
	if fs.Changed("correlate-identifier") {
		spec.Correlate, spec.CorrelateIdentifier = nil, &f.correlateIdentifier
		spec.origin["correlate-identifier"] = "--correlate-identifier"
	}
	if fs.Changed("field") {
		spec.Field = &f.fields
		spec.origin["field"] = "--field"
	}
	if fs.Changed("secondary-kinds") {
		l := stringList(splitList(f.secondaryKinds))
		spec.SecondaryKinds = &l
		spec.origin["secondary-kinds"] = "--secondary-kinds"
	}
	if fs.Changed("auto-import") {
		spec.AutoImport = &f.autoImport
		spec.origin["auto-import"] = "--auto-import"
	}
	return spec, nil
}

// build turns the spec into an Integration and the update_mask paths of
// the settings given, in the message's field order.
func (s *integrationSpec) build() (*integrationv1.Integration, []string, error) {
	in := &integrationv1.Integration{}
	var mask []string
	bad := func(key string, err error) error {
		return cli.Usagef("invalid %s: %v", s.origin[key], err)
	}
	if s.Name != nil {
		in.Name = *s.Name
		mask = append(mask, "name")
	}
	if s.Connector != nil {
		in.Connector = *s.Connector
		mask = append(mask, "connector")
	}
	if s.Workspace != nil {
		in.Workspace = *s.Workspace
		mask = append(mask, "workspace")
	}
	if s.Behavior != nil {
		b, err := parseBehavior(*s.Behavior)
		if err != nil {
			return nil, nil, bad("behavior", err)
		}
		in.Behavior = b
		mask = append(mask, "behavior")
	}
	if s.Kind != nil {
		in.Kind = *s.Kind
		mask = append(mask, "kind")
	}
	if s.Type != nil {
		in.Type = *s.Type
		mask = append(mask, "type")
	}
	switch {
	case s.Correlate != nil:
		rules, err := parseCorrelations(*s.Correlate)
		if err != nil {
			return nil, nil, bad("correlate", err)
		}
		in.Correlation = &integrationv1.CorrelationRules{Rules: rules}
		mask = append(mask, "correlation")
	case s.CorrelateIdentifier != nil:
		if !*s.CorrelateIdentifier {
			return nil, nil, cli.Usagef("invalid %s: only true makes sense; to go back to the default rule give correlate name=name", s.origin["correlate-identifier"])
		}
		in.Correlation = &integrationv1.CorrelationRules{}
		mask = append(mask, "correlation")
	}
	if s.Field != nil {
		fields, err := parseFields(*s.Field)
		if err != nil {
			return nil, nil, bad("field", err)
		}
		in.FieldMappings = &integrationv1.FieldMappings{Mappings: fields}
		mask = append(mask, "field_mappings")
	}
	if s.SecondaryKinds != nil {
		kinds, err := parseSecondaryKinds(*s.SecondaryKinds)
		if err != nil {
			return nil, nil, bad("secondary-kinds", err)
		}
		in.SecondaryKinds = &integrationv1.SecondaryKinds{Kinds: kinds}
		mask = append(mask, "secondary_kinds")
	}
	if s.Frequency != nil {
		fr, err := parseFrequency(*s.Frequency)
		if err != nil {
			return nil, nil, bad("frequency", err)
		}
		in.UpdateFrequency = fr
		mask = append(mask, "update_frequency")
	}
	if s.StartDate != nil {
		ts, err := parseStartDate(*s.StartDate)
		if err != nil {
			return nil, nil, bad("start-date", err)
		}
		in.StartDate = ts
		mask = append(mask, "start_date")
	}
	if s.AutoImport != nil {
		in.AutoImport = *s.AutoImport
		mask = append(mask, "auto_import")
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
		a.integrationStateCommand("suspend"),
		a.integrationStateCommand("resume"),
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

Correlation: INGESTED_PATH is a path into the ingested properties or the raw
Bitbucket repository JSON, CATALOG_PATH a path into the entity YAML; equals is
exact, contains means the ingested value contains the catalog value, ignoring
case. Field mappings: NAME is the property under
metadata.integration_properties.BitbucketCloud (dots nest, e.g. project.key),
PATH a path into the repository JSON; a bare NAME means NAME=NAME. Without
field mappings the server's defaults apply (name, url, description,
default_branch, project.key, project.name, is_private, uuid, full_name,
language, created_on, updated_on). Field mappings replace the whole set: to add
one, list the current ones ('idpctl integration get NAME') plus the new one.`

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
			if spec.Name == nil || *spec.Name == "" {
				return cli.Usagef("--name is required (or name: in the -f file)")
			}
			if spec.Connector == nil || *spec.Connector == "" {
				return cli.Usagef("--connector is required (or connector: in the -f file)")
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
				a.hint("Follow the sync: idpctl sync %s --wait\nThen: idpctl discovered list %s", quoteArg(got.GetName()), quoteArg(got.GetName()))
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func (a *app) integrationEditCommand() *cobra.Command {
	var f integrationFlags
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

` + integrationFileHelp,
		Example: `  idpctl integration edit acme --name "Bitbucket Acme" --frequency 1h
  idpctl integration edit acme --behavior merge --type ""
  idpctl integration edit acme --correlate name=name --correlate 'project.key=metadata.tags:contains'
  idpctl integration edit acme -f changes.yaml`,
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
				Integration: args[0],
				Changes:     changes,
				UpdateMask:  &fieldmaskpb.FieldMask{Paths: mask},
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			got := resp.GetIntegration()
			return a.writeMessage(f.output, got, func(w io.Writer) {
				fmt.Fprintf(w, "Integration %q updated: %s.\n", got.GetName(), strings.Join(mask, ", "))
				if spec.Correlate != nil || spec.CorrelateIdentifier != nil {
					a.hint("Recommendations of repositories not yet imported are recomputed: idpctl discovered list %s", quoteArg(got.GetName()))
				}
			})
		},
	}
	f.register(cmd, false)
	return cmd
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
			p, err := collect(cmd.Context(), a, &o, false, func(ctx context.Context, size int32, token string) ([]*integrationv1.Integration, string, int64, error) {
				resp, err := c.integrations.ListIntegrations(ctx, &integrationv1.ListIntegrationsRequest{PageSize: size, PageToken: token})
				return resp.GetIntegrations(), resp.GetNextPageToken(), 0, err
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
			}, "No integrations. Create one with: idpctl integration create --name NAME --connector CONNECTOR")
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
	d.add("Connector", in.GetConnector())
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
	d.add("Created", a.when(in.GetCreatedAt()))
	d.add("Updated", a.when(in.GetUpdatedAt()))
	d.add("Next sync", a.when(in.GetNextSyncAt()))
	d.add("Last run", a.runSummaryLong(in.GetLastRun()))
	d.flush()
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

// integrationStateCommand builds suspend and resume, which differ only in
// the RPC and the words.
func (a *app) integrationStateCommand(verb string) *cobra.Command {
	var output outputFormat
	short, example := "Suspend discovery and sync updates; imported entities stay", "  idpctl integration suspend acme"
	if verb == "resume" {
		short, example = "Resume a suspended integration; a sync starts at once", "  idpctl integration resume acme"
	}
	cmd := &cobra.Command{
		Use:     verb + " INTEGRATION",
		Short:   short,
		Example: example,
		Args:    exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var in *integrationv1.Integration
			if verb == "suspend" {
				resp, err := call(cmd.Context(), a, c.integrations.SuspendIntegration, &integrationv1.SuspendIntegrationRequest{Integration: args[0]})
				if err != nil {
					return about(integrationSubject, err)
				}
				in = resp.GetIntegration()
			} else {
				resp, err := call(cmd.Context(), a, c.integrations.ResumeIntegration, &integrationv1.ResumeIntegrationRequest{Integration: args[0]})
				if err != nil {
					return about(integrationSubject, err)
				}
				in = resp.GetIntegration()
			}
			return a.writeMessage(output, in, func(w io.Writer) {
				if verb == "suspend" {
					fmt.Fprintf(w, "Integration %q suspended: no discovery and no sync updates; imported entities stay as they are.\n", in.GetName())
					a.hint("Resume it with: idpctl integration resume %s", quoteArg(in.GetName()))
					return
				}
				fmt.Fprintf(w, "Integration %q resumed; a sync is queued.\n", in.GetName())
				a.hint("Follow it: idpctl sync %s --wait", quoteArg(in.GetName()))
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// quoteArg quotes a name for a command line shown to the user when the
// shell would split it.
func quoteArg(s string) string {
	if s == "" || strings.ContainsAny(s, " \t'\"$`\\!*?&|;<>()") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
