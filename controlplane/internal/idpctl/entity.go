package idpctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

// Entity YAML paths in field violations are already what the user wrote,
// so they stay as they are (no flag mapping).
var entitySubject = &subject{noun: "entity", list: "idpctl entity list"}

// entityKeySubject is for the requests that find entities by flags
// (get, list, activity, delete): their fields are the flags'.
var entityKeySubject = &subject{
	noun:     "entity",
	prefixes: []string{"key."},
	flags:    map[string]string{"kind": "--kind", "scope": "--scope", "type": "--type", "search": "--search"},
	list:     "idpctl entity list",
}

type entity = *catalogv1.Entity

func (a *app) entityCommand() *cobra.Command {
	cmd := group("entity", "Manage catalog entities",
		`Catalog entities in the IDP 2.0 YAML shape (apiVersion harness.io/v1, kind,
type, identifier, name, owner, spec, metadata, orgIdentifier/projectIdentifier).
ID is an entity's id or its identifier; when the identifier exists under several
kinds or scopes, add --kind or --scope.

Reads need IDP_CATALOG_VIEW, writes IDP_CATALOG_EDIT, on IDP_CATALOG.`,
		a.entityWriteCommand("create"),
		a.entityWriteCommand("update"),
		a.entityListCommand(),
		a.entityGetCommand(),
		a.entityActivityCommand(),
		a.entityDeleteCommand(),
		a.entityExportCommand(),
		a.entityImportCommand(),
	)
	cmd.Aliases = []string{"entities"}
	return cmd
}

// entityKey holds the flags that find one entity.
type entityKey struct{ kind, scope string }

func (k *entityKey) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.kind, "kind", "", "kind, when the identifier exists under several")
	cmd.Flags().StringVar(&k.scope, "scope", "", `scope ("account", "org/ORG", "org/ORG/project/PROJECT"), when the identifier exists in several`)
}

// flags are the key's flags as given, for a command line shown again.
func (k *entityKey) flags() []string {
	var out []string
	if k.kind != "" {
		out = append(out, "--kind", k.kind)
	}
	if k.scope != "" {
		out = append(out, "--scope", k.scope)
	}
	return out
}

func (k *entityKey) key(id string) *catalogv1.EntityKey {
	return &catalogv1.EntityKey{Entity: id, Kind: k.kind, Scope: k.scope}
}

// readInput reads a file, or stdin for "-".
func (a *app) readInput(path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(a.stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", cli.Usagef("-f: %v", err)
	}
	return string(b), nil
}

// entityWriteCommand builds create and update, which both send a YAML file.
func (a *app) entityWriteCommand(verb string) *cobra.Command {
	var (
		file   string
		output outputFormat
	)
	short := "Create a catalog entity from a YAML file"
	long := `Create a catalog entity from its YAML. Invalid YAML is refused with every
problem named by its field and line.`
	example := `  idpctl entity create -f payments.yaml
  cat payments.yaml | idpctl entity create -f -

  # payments.yaml
  apiVersion: harness.io/v1
  kind: Component
  type: service
  identifier: payments_service
  name: Payments Service
  owner: group:payments
  spec:
    lifecycle: production
  metadata:
    description: Takes the money
    tags: [payments]`
	if verb == "update" {
		short = "Replace a catalog entity's own YAML"
		long = `Replace an entity's own YAML; the entity is found by the file's kind,
identifier and scope. The sections integrations write (metadata.integration and
metadata.integration_properties) are kept as they are.`
		example = `  idpctl entity get payments_service -o yaml > payments.yaml
  # edit payments.yaml
  idpctl entity update -f payments.yaml`
	}
	cmd := &cobra.Command{
		Use:     verb + " -f FILE",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "filename"); err != nil {
				return err
			}
			doc, err := a.readInput(file)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var e entity
			if verb == "create" {
				resp, err := call(cmd.Context(), a, c.catalog.CreateEntity, &catalogv1.CreateEntityRequest{Yaml: doc})
				if err != nil {
					return about(entitySubject, err)
				}
				e = resp.GetEntity()
			} else {
				resp, err := call(cmd.Context(), a, c.catalog.UpdateEntity, &catalogv1.UpdateEntityRequest{Yaml: doc})
				if err != nil {
					return about(entitySubject, err)
				}
				e = resp.GetEntity()
			}
			return a.writeMessage(output, e, func(w io.Writer) {
				fmt.Fprintf(w, "Entity %s/%s %sd (id %s).\n", e.GetKind(), e.GetIdentifier(), verb, e.GetId())
			})
		},
	}
	cmd.Flags().StringVarP(&file, "filename", "f", "", "entity YAML file ('-' for stdin)")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) entityListCommand() *cobra.Command {
	var (
		o                        listOptions
		kind, typ, scope, search string
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List catalog entities by kind and identifier",
		Example: `  idpctl entity list
  idpctl entity list --kind Component --search payments
  idpctl entity list --all-pages -o json | jq -r '.items[].identifier'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, true, func(ctx context.Context, size int32, token string) ([]entity, string, int64, error) {
				resp, err := c.catalog.ListEntities(ctx, &catalogv1.ListEntitiesRequest{Kind: kind, Type: typ, Scope: scope, Search: search, PageSize: size, PageToken: token})
				return resp.GetEntities(), resp.GetNextPageToken(), resp.GetTotal(), err
			})
			if err != nil {
				return about(entityKeySubject, err)
			}
			empty := "No catalog entities. Create one with: " + cmdLine("entity", "create", "-f", "FILE") + ", or import repositories with: " + cmdLine("import", "INTEGRATION", "NAME...")
			if kind != "" || typ != "" || scope != "" || search != "" {
				empty = "No catalog entities match."
			}
			return writeList(a, &o, p, []column[entity]{
				{"KIND", entity.GetKind},
				{"IDENTIFIER", entity.GetIdentifier},
				{"NAME", entity.GetName},
				{"TYPE", entity.GetType},
				{"OWNER", entity.GetOwner},
				{"SCOPE", entity.GetScope},
				{"LINKED", func(e entity) string { return linked(e) }},
				{"UPDATED", func(e entity) string { return a.age(e.GetUpdatedAt()) }},
			}, empty)
		},
	}
	addListFlags(cmd, &o)
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind (ignoring case)")
	cmd.Flags().StringVar(&typ, "type", "", "only this type")
	cmd.Flags().StringVar(&scope, "scope", "", `only this scope ("account", "org/ORG", "org/ORG/project/PROJECT")`)
	cmd.Flags().StringVar(&search, "search", "", "only names or identifiers containing this, ignoring case")
	return cmd
}

func linked(e entity) string {
	s := strings.Join(e.GetLinkedIntegrations(), ",")
	if e.GetSourceDeleted() {
		s += " (source deleted)"
	}
	return s
}

func (a *app) entityGetCommand() *cobra.Command {
	var (
		k      entityKey
		output outputFormat
	)
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show a catalog entity; -o yaml prints its YAML",
		Long: `Show a catalog entity. The table is a summary; -o yaml prints the entity's own
YAML, ingested sections included (metadata.integration with each linked
repository's entity_uuid, entity_action and imported_at, and
metadata.integration_properties.BitbucketCloud with the mapped fields), ready
to edit and pass to 'idpctl entity update -f'. -o json prints the API's
Entity, whose yaml field holds the same YAML.`,
		Example: `  idpctl entity get payments_service
  idpctl entity get payments_service -o yaml
  idpctl entity get payments --kind API --scope org/finance`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.catalog.GetEntity, &catalogv1.GetEntityRequest{Key: k.key(args[0])})
			if err != nil {
				return about(entityKeySubject, err)
			}
			e := resp.GetEntity()
			if output == formatYAML {
				y := e.GetYaml()
				if y != "" && !strings.HasSuffix(y, "\n") {
					y += "\n"
				}
				_, err := io.WriteString(a.stdout, y)
				return err
			}
			return a.writeMessage(output, e, func(w io.Writer) {
				d := newDetails(w)
				d.add("Identifier", e.GetIdentifier())
				d.add("Name", e.GetName())
				d.add("Kind", e.GetKind())
				d.add("Type", e.GetType())
				d.add("Owner", e.GetOwner())
				d.add("Lifecycle", e.GetLifecycle())
				d.add("Scope", e.GetScope())
				d.add("Description", e.GetDescription())
				d.add("Tags", strings.Join(e.GetTags(), ", "))
				d.add("Linked integrations", linked(e))
				d.add("ID", e.GetId())
				d.add("Created", a.when(e.GetCreatedAt()))
				d.add("Updated", a.when(e.GetUpdatedAt()))
				d.flush()
				a.hint("Full YAML: %s", cmdLine(append(append([]string{"entity", "get", args[0]}, k.flags()...), "-o", "yaml")...))
			})
		},
	}
	k.register(cmd)
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) entityActivityCommand() *cobra.Command {
	var (
		k      entityKey
		limit  int32
		output outputFormat
	)
	cmd := &cobra.Command{
		Use:   "activity ID",
		Short: "Show an entity's development activity: pull requests and commits",
		Long: `Show the development activity of an entity linked to Bitbucket repositories:
pull request counts, the most recently updated pull requests with their
titles, and the most recent main-branch commits with their hashes.`,
		Example: `  idpctl entity activity payments_service
  idpctl entity activity payments_service --limit 50 -o json`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return cli.Usagef("--limit must be positive")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.catalog.GetEntityActivity, &catalogv1.GetEntityActivityRequest{Key: k.key(args[0]), Limit: limit})
			if err != nil {
				return about(entityKeySubject, err)
			}
			return a.writeMessage(output, resp, func(w io.Writer) { a.activityTable(w, resp) })
		},
	}
	k.register(cmd)
	cmd.Flags().Int32Var(&limit, "limit", 0, "how many recent pull requests and commits (default 10, max 100)")
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) activityTable(w io.Writer, r *catalogv1.GetEntityActivityResponse) {
	e := r.GetEntity()
	d := newDetails(w)
	d.add("Entity", fmt.Sprintf("%s/%s (%s)", e.GetKind(), e.GetIdentifier(), e.GetName()))
	d.add("Pull requests", fmt.Sprintf("%d open, %d merged, %d declined", r.GetOpenPullRequests(), r.GetMergedPullRequests(), r.GetDeclinedPullRequests()))
	d.add("Commits", fmt.Sprint(r.GetCommits()))
	d.flush()

	fmt.Fprintln(w, "\nRECENT PULL REQUESTS")
	if len(r.GetRecentPullRequests()) == 0 {
		fmt.Fprintln(w, "None synced yet.")
	} else {
		t := newTable(w, "REPOSITORY", "#", "STATE", "TITLE", "AUTHOR", "UPDATED")
		for _, pr := range r.GetRecentPullRequests() {
			t.row(pr.GetRepository(), fmt.Sprint(pr.GetId()), pr.GetState(), pr.GetTitle(), pr.GetAuthor(), a.age(pr.GetUpdatedOn()))
		}
		t.flush()
	}

	fmt.Fprintln(w, "\nRECENT COMMITS")
	if len(r.GetRecentCommits()) == 0 {
		fmt.Fprintln(w, "None synced yet.")
		return
	}
	t := newTable(w, "REPOSITORY", "HASH", "AUTHOR", "DATE", "SUMMARY")
	for _, cm := range r.GetRecentCommits() {
		t.row(cm.GetRepository(), shortHash(cm.GetHash()), cm.GetAuthor(), a.age(cm.GetDate()), cm.GetSummary())
	}
	t.flush()
}

// shortHash is the 12-character prefix, unique in practice and what
// Bitbucket's web pages show.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (a *app) entityDeleteCommand() *cobra.Command {
	var k entityKey
	cmd := &cobra.Command{
		Use:     "delete ID",
		Aliases: []string{"rm"},
		Short:   "Delete a catalog entity; its linked repositories return to the Discovered list",
		Example: `  idpctl entity delete payments_service
  idpctl entity delete payments --kind API`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(cmd.Context(), a, c.catalog.DeleteEntity, &catalogv1.DeleteEntityRequest{Key: k.key(args[0])}); err != nil {
				return about(entityKeySubject, err)
			}
			fmt.Fprintf(a.stdout, "Entity %s deleted.\n", args[0])
			return nil
		},
	}
	k.register(cmd)
	return cmd
}
