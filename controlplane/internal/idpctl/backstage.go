package idpctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	catalogv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/catalog/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

// entityFormats are the --format values of entity export and import.
var entityFormats = map[string]catalogv1.EntityFormat{"backstage": catalogv1.EntityFormat_ENTITY_FORMAT_BACKSTAGE}

func parseEntityFormat(s string) (catalogv1.EntityFormat, error) {
	if f, ok := entityFormats[strings.ToLower(strings.TrimSpace(s))]; ok {
		return f, nil
	}
	if s == "" {
		return 0, cli.Usagef("--format is required: backstage")
	}
	return 0, cli.Usagef("invalid --format %q: want backstage", s)
}

const backstageMappingHelp = `The mapping: kind (Component, API, Resource, System, Group, User; other kinds
have no Backstage counterpart), identifier as metadata.name, name as
metadata.title, type, owner and lifecycle under spec, the rest of spec and
metadata as they are, org and project as the annotations
harness.io/org-identifier and harness.io/project-identifier. An entity linked
to a Bitbucket repository gets the annotations bitbucket.com/project-slug
(WORKSPACE/SLUG), bitbucket.org/repo-url and backstage.io/source-location
(url:REPO/src/BRANCH/). What the integrations ingested (metadata.integration,
metadata.integration_properties) is not exported. Whatever does not map is
listed, never dropped silently.`

func (a *app) entityExportCommand() *cobra.Command {
	var format, kind string
	cmd := &cobra.Command{
		Use:   "export [ID...] --format backstage",
		Short: "Write catalog entities as Backstage catalog-info.yaml",
		Long: `Write entities as another portal's files: with --format backstage, one YAML
stream of Backstage entities (apiVersion backstage.io/v1alpha1) on stdout, ready
for a catalog-info.yaml. Without ID, every entity (of --kind, when given). What
does not map is listed on stderr, entity by entity.

` + backstageMappingHelp,
		Example: `  idpctl entity export --format backstage > catalog-info.yaml
  idpctl entity export payments_service --format backstage
  idpctl entity export --format backstage --kind Component`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseEntityFormat(format)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.catalog.ExportEntities, &catalogv1.ExportEntitiesRequest{Format: f, Entities: args, Kind: kind})
			if err != nil {
				return about(entityKeySubject, err)
			}
			if _, err := io.WriteString(a.stdout, resp.GetContent()); err != nil {
				return err
			}
			for _, is := range resp.GetIssues() {
				a.hint("%s", issueLine(is))
			}
			a.hint("Exported %d entities; %d notes on what did not map.", resp.GetExported(), len(resp.GetIssues()))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "format to write: backstage")
	cmd.Flags().StringVar(&kind, "kind", "", "only entities of this kind (without ID), or the kind of the IDs given")
	return cmd
}

// issueLine renders a mapping issue on one line.
func issueLine(is *catalogv1.MappingIssue) string {
	where := is.GetEntity()
	if is.GetField() != "" {
		where += " " + is.GetField()
	}
	verb := "note"
	if is.GetSkipped() {
		verb = "left out"
	}
	return fmt.Sprintf("%s: %s: %s", verb, where, is.GetProblem())
}

func (a *app) entityImportCommand() *cobra.Command {
	var (
		format string
		dryRun bool
		output outputFormat
	)
	cmd := &cobra.Command{
		Use:   "import --format backstage FILE",
		Short: "Create catalog entities from Backstage catalog-info.yaml",
		Long: `Create entities from another portal's files: with --format backstage, every
Backstage entity of FILE ('-' for stdin), a YAML stream of documents. Each
document is created on its own; one whose identifier is taken fails alone. A
metadata.name that is not a catalog identifier becomes one (payments-api becomes
payments_api). Documents that cannot map (Location, Template, Domain, other
apiVersions) and fields left out (relations, status, namespaces other than
default, what Backstage sets itself) are listed. --dry-run maps and checks
without creating anything. idpctl exits 1 when a document failed or was left
out.

` + backstageMappingHelp,
		Example: `  idpctl entity import --format backstage catalog-info.yaml
  idpctl entity import --format backstage --dry-run - < catalog-info.yaml`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseEntityFormat(format)
			if err != nil {
				return err
			}
			content, err := a.readInput(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.catalog.ImportEntities, &catalogv1.ImportEntitiesRequest{Format: f, Content: content, DryRun: dryRun})
			if err != nil {
				return about(entitySubject, err)
			}
			err = a.writeMessage(output, resp, func(w io.Writer) {
				if len(resp.GetResults()) > 0 {
					t := newTable(w, "DOCUMENT", "RESULT", "ENTITY", "REASON")
					for _, r := range resp.GetResults() {
						result, reason := "created", ""
						switch {
						case !r.GetOk():
							result, reason = "failed", r.GetReason()+suffix(": ", r.GetMessage())
						case dryRun:
							result = "would be created"
						}
						t.row(r.GetSource(), result, r.GetEntity().GetKind()+"/"+r.GetEntity().GetIdentifier(), reason)
					}
					t.flush()
				}
				if len(resp.GetIssues()) > 0 {
					fmt.Fprintln(w)
					t := newTable(w, "DOCUMENT", "FIELD", "NOT MAPPED")
					for _, is := range resp.GetIssues() {
						problem := is.GetProblem()
						if is.GetSkipped() {
							problem = "document left out: " + problem
						}
						t.row(is.GetEntity(), is.GetField(), problem)
					}
					t.flush()
				}
			})
			if err != nil {
				return err
			}
			failed, skipped := 0, 0
			for _, r := range resp.GetResults() {
				if !r.GetOk() {
					failed++
				}
			}
			for _, is := range resp.GetIssues() {
				if is.GetSkipped() {
					skipped++
				}
			}
			if failed+skipped > 0 {
				return fmt.Errorf("%d documents failed and %d were left out; see above", failed, skipped)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "format of FILE: backstage")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "map and check only; create nothing")
	addOutputFlag(cmd, &output)
	return cmd
}
