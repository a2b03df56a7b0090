package idpctl

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
	"github.com/catalog-discovery/bitbucket/shared/cli"
)

type (
	discovered = *integrationv1.DiscoveredRepository
	imported   = *integrationv1.ImportedRepository
	event      = *integrationv1.Event
)

func (a *app) discoveredCommand() *cobra.Command {
	return group("discovered", "Repositories an integration discovered and did not import yet",
		`The Discovered list: every repository seen in the workspace and not imported,
with the recommended action (Merge when a catalog entity matches, Register
otherwise, within the integration's behavior), the suggested entity, the
kind and type it would be imported as, and for Register the owner its
CODEOWNERS file suggests.

Repositories a user ignored are kept out of it for good (never recommended,
never imported automatically, whatever later syncs bring) and shown with
--ignored; those the integration's filter leaves out are shown with
--excluded.`,
		a.discoveredListCommand(),
		a.discoveredGetCommand(),
		a.discoveredIgnoreCommand(false),
		a.discoveredIgnoreCommand(true))
}

func (a *app) discoveredListCommand() *cobra.Command {
	var (
		o        listOptions
		search   string
		action   string
		unlinked bool
		ignored  bool
		excluded bool
	)
	cmd := &cobra.Command{
		Use:     "list INTEGRATION",
		Aliases: []string{"ls"},
		Short:   "List discovered repositories with their recommended action",
		Long: `List discovered repositories, by name, with the recommended action and the
suggested match. When several catalog entities match, the best is suggested
(exact before contains, then the longest match) and the others are counted;
-o json lists every candidate.

OWNER is the owner proposed for Register: the owners of the CODEOWNERS rule
that covers the whole repository (* and the like; the last one wins) on its
default branch (.bitbucket/CODEOWNERS, CODEOWNERS or docs/CODEOWNERS), mapped
by the integration's owner mapping ('idpctl integration get'). Files are read
by syncs, for repositories recommended for Register, within a per-sync cap of
requests: "-" means not read yet. -o json has the file, its owners and why
nothing is proposed. 'idpctl import --owner' chooses another owner.


--ignored lists the ignored repositories instead (who ignored them and when);
--excluded lists the repositories the integration's filter leaves out, with
the reason.`,
		Example: `  idpctl discovered list acme
  idpctl discovered list acme --action merge
  idpctl discovered list acme --search payments -o json
  idpctl discovered list acme --ignored
  idpctl discovered list acme --excluded`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ignored && excluded {
				return cli.Usagef("give --ignored or --excluded, not both: they are two lists")
			}
			req := &integrationv1.ListDiscoveredRequest{Integration: args[0], Search: search, UnlinkedOnly: unlinked,
				Ignored: ignored, Excluded: excluded}
			if cmd.Flags().Changed("action") {
				act, err := parseImportAction(action)
				if err != nil {
					return cli.Usagef("invalid --action: %v", err)
				}
				req.RecommendedAction = act
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, true, func(ctx context.Context, size int32, token string) ([]discovered, string, int64, error) {
				req.PageSize, req.PageToken = size, token
				resp, err := c.discovery.ListDiscovered(ctx, req)
				return resp.GetRepositories(), resp.GetNextPageToken(), resp.GetTotal(), err
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			empty := fmt.Sprintf("No discovered repositories. Run `%s` to discover, or see `%s` for those already imported.", cmdLine("sync", args[0], "--wait"), cmdLine("imported", "list", args[0]))
			switch {
			case ignored:
				empty = fmt.Sprintf("No ignored repositories. Ignore one with: %s", cmdLine("discovered", "ignore", args[0])+" NAME")
			case excluded:
				empty = fmt.Sprintf("The filter of %q leaves out no repository (see it with: %s).", args[0], cmdLine("integration", "get", args[0]))
			}
			if search != "" || cmd.Flags().Changed("action") || unlinked {
				empty = "No discovered repositories match."
			}
			if ignored {
				return writeList(a, &o, p, []column[discovered]{
					{"NAME", discovered.GetName},
					{"FULL NAME", discovered.GetFullName},
					{"IGNORED", func(r discovered) string { return a.age(r.GetIgnoredAt()) }},
					{"BY", discovered.GetIgnoredBy},
				}, empty)
			}
			if excluded {
				return writeList(a, &o, p, []column[discovered]{
					{"NAME", discovered.GetName},
					{"PROJECT", discovered.GetProjectKey},
					{"LEFT OUT BECAUSE", discovered.GetExcludedReason},
				}, empty)
			}
			return writeList(a, &o, p, []column[discovered]{
				{"NAME", discovered.GetName},
				{"RECOMMENDED", func(r discovered) string { return recommendation(r.GetRecommendedAction()) }},
				{"SUGGESTED MATCH", suggestedMatch},
				{"KIND", discovered.GetKind},
				{"TYPE", discovered.GetType},
				{"OWNER", suggestedOwner},
				{"DETECTED", func(r discovered) string { return a.age(r.GetDetectedAt()) }},
				{"NOTE", func(r discovered) string {
					return notes(note{r.GetUnlinked(), "unlinked"}, note{r.GetDeleted(), "deleted in Bitbucket"},
						note{r.GetRecommendationNote() != "", r.GetRecommendationNote()})
				}},
			}, empty)
		},
	}
	addListFlags(cmd, &o)
	cmd.Flags().StringVar(&search, "search", "", "only names or slugs containing this, ignoring case")
	cmd.Flags().StringVar(&action, "action", "", "only this recommendation: register or merge")
	cmd.Flags().BoolVar(&unlinked, "unlinked", false, "only repositories unlinked before")
	cmd.Flags().BoolVar(&ignored, "ignored", false, "the Ignored view: repositories ignored with 'idpctl discovered ignore'")
	cmd.Flags().BoolVar(&excluded, "excluded", false, "the repositories the integration's filter leaves out, with the reason")
	return cmd
}

// discoveredIgnoreCommand is "discovered ignore", or with undo "discovered
// unignore": the same arguments, the opposite call.
func (a *app) discoveredIgnoreCommand(undo bool) *cobra.Command {
	var (
		pattern string
		output  outputFormat
	)
	cmd := &cobra.Command{
		Use:   "ignore INTEGRATION [NAME...] [--pattern GLOB]",
		Short: "Ignore discovered repositories: never recommended or auto-imported again",
		Long: `Take discovered repositories out of the Discovered list for good: they are
never recommended and never imported automatically again, through every later
sync, until un-ignored. Name them (name, slug, workspace/slug or uuid), or give
--pattern to ignore every discovered repository whose slug or name matches the
glob (*, ?, [a-z]; case ignored). An imported repository cannot be ignored.
To keep future repositories out as well, use the integration's filter
(idpctl integration edit --exclude-name ...).`,
		Example: `  idpctl discovered ignore acme scratch-repo old-poc
  idpctl discovered ignore acme --pattern '*-sandbox'`,
		Args: minArgs("INTEGRATION"),
	}
	verb, done := "ignore", "Ignored"
	if undo {
		verb, done = "unignore", "Un-ignored"
		cmd.Use = "unignore INTEGRATION [NAME...] [--pattern GLOB]"
		cmd.Short = "Return ignored repositories to the Discovered list"
		cmd.Long = `Return ignored repositories to the Discovered list: they are recommended, and
imported automatically when auto-import is on, again. Name them, or give
--pattern to un-ignore every ignored repository whose slug or name matches the
glob. See them with: idpctl discovered list INTEGRATION --ignored.`
		cmd.Example = `  idpctl discovered unignore acme scratch-repo
  idpctl discovered unignore acme --pattern '*'`
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := args[1:]
		if (pattern == "") == (len(names) == 0) {
			return cli.Usagef("give the repositories to %s, or --pattern, not both", verb)
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		var results []*integrationv1.IgnoreResult
		var resp proto.Message
		if undo {
			r, err := call(cmd.Context(), a, c.discovery.UnignoreRepositories, &integrationv1.UnignoreRepositoriesRequest{
				Integration: args[0], Repositories: names, Pattern: pattern})
			if err != nil {
				return about(integrationSubject, err)
			}
			results, resp = r.GetResults(), r
		} else {
			r, err := call(cmd.Context(), a, c.discovery.IgnoreRepositories, &integrationv1.IgnoreRepositoriesRequest{
				Integration: args[0], Repositories: names, Pattern: pattern})
			if err != nil {
				return about(integrationSubject, err)
			}
			results, resp = r.GetResults(), r
		}
		failed := 0
		err = a.writeMessage(output, resp, func(w io.Writer) {
			if len(results) == 0 {
				return
			}
			t := newTable(w, "REPOSITORY", "RESULT", "REASON")
			for _, r := range results {
				result, reason := strings.ToLower(done), ""
				if !r.GetOk() {
					result, reason = "failed", r.GetReason()+suffix(": ", r.GetMessage())
				}
				t.row(r.GetRepository(), result, reason)
			}
			t.flush()
		})
		if err != nil {
			return err
		}
		for _, r := range results {
			if !r.GetOk() {
				failed++
			}
		}
		switch {
		case len(results) == 0:
			a.hint("No repository matches %s.", pattern)
		case failed > 0:
			return fmt.Errorf("%d of %d failed; see the reasons above", failed, len(results))
		case undo:
			a.hint("%s %d. They are back in: %s", done, len(results), cmdLine("discovered", "list", args[0]))
		default:
			a.hint("%s %d. See them with: %s", done, len(results), cmdLine("discovered", "list", args[0], "--ignored"))
		}
		return nil
	}
	cmd.Flags().StringVar(&pattern, "pattern", "", "a glob over slugs and names (*, ?, [a-z]; case ignored): every match")
	addOutputFlag(cmd, &output)
	return cmd
}

func recommendation(act integrationv1.ImportAction) string {
	switch act {
	case integrationv1.ImportAction_IMPORT_ACTION_REGISTER:
		return "Register"
	case integrationv1.ImportAction_IMPORT_ACTION_MERGE:
		return "Merge"
	}
	return "none"
}

// suggestedOwner shows the owner proposed for Register: "-" until the
// CODEOWNERS file was read, "none" when it proposes nobody.
func suggestedOwner(r discovered) string {
	o := r.GetOwner()
	switch {
	case o == nil || r.GetRecommendedAction() == integrationv1.ImportAction_IMPORT_ACTION_MERGE:
		return "-"
	case o.GetOwner() == "":
		return "none"
	}
	return o.GetOwner()
}

func suggestedMatch(r discovered) string {
	e := r.GetSuggestedEntity()
	if e == nil {
		return "-"
	}
	s := e.GetIdentifier()
	if more := len(r.GetCandidates()) - 1; more > 0 {
		s += fmt.Sprintf(" (+%d more)", more)
	}
	return s
}

// note is a label shown when its condition holds.
type note struct {
	on   bool
	text string
}

func notes(ns ...note) string {
	var out []string
	for _, n := range ns {
		if n.on {
			out = append(out, n.text)
		}
	}
	return strings.Join(out, ", ")
}

func (a *app) importCommand() *cobra.Command {
	var (
		all                        bool
		action, typ, target, owner string
		output                     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "import INTEGRATION (NAME... | --all)",
		Short: "Import discovered repositories into the catalog (register or merge)",
		Long: `Import discovered repositories. NAME is the repository's name or slug (its
workspace/slug and Bitbucket uuid work too). Without --action each repository
takes its recommended action, as 'idpctl discovered list' shows it:

  register  create a catalog entity from the repository (type from --type or
            the integration's; owner from --owner, or the one its CODEOWNERS
            file suggests, as 'idpctl discovered list' shows it, or the field
            mapping's, else unknown); fails when the identifier is taken
  merge     link the repository to an existing entity: the suggested one, or
            --target ENTITY (entity id or identifier); the entity keeps its own
            name, owner and spec

--all imports every discovered repository (except unlinked ones) with its
recommended action. Each repository succeeds or fails on its own; one row is
printed per repository, and idpctl exits 1 when any failed.`,
		Example: `  idpctl import acme payments-service billing-api
  idpctl import acme payments-service --action merge --target payments
  idpctl import acme new-tool --action register --type library
  idpctl import acme new-tool --owner group:platform
  idpctl import acme --all`,
		Args: minArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			names := args[1:]
			req := &integrationv1.ImportRepositoriesRequest{Integration: args[0], All: all}
			switch {
			case all && len(names) > 0:
				return cli.Usagef("give repository names or --all, not both")
			case all && (action != "" || typ != "" || target != "" || owner != ""):
				return cli.Usagef("--all imports with the recommended actions; --action, --type, --target and --owner apply to named repositories")
			case !all && len(names) == 0:
				return cli.Usagef("name the repositories to import, or give --all")
			}
			var act integrationv1.ImportAction
			if action != "" {
				var err error
				if act, err = parseImportAction(action); err != nil {
					return cli.Usagef("invalid --action: %v", err)
				}
			}
			if typ != "" && act == integrationv1.ImportAction_IMPORT_ACTION_MERGE {
				return cli.Usagef("--type applies to register; a merged entity keeps its own type")
			}
			if target != "" && act == integrationv1.ImportAction_IMPORT_ACTION_REGISTER {
				return cli.Usagef("--target applies to merge; register creates a new entity")
			}
			if owner != "" && (act == integrationv1.ImportAction_IMPORT_ACTION_MERGE || target != "") {
				return cli.Usagef("--owner applies to register; a merged entity keeps its own owner")
			}
			for _, n := range names {
				req.Items = append(req.Items, &integrationv1.ImportItem{Repository: n, Action: act, Type: typ, TargetEntity: target, Owner: owner})
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.discovery.ImportRepositories, req)
			if err != nil {
				return about(integrationSubject, err)
			}
			results := resp.GetResults()
			err = a.writeMessage(output, resp, func(w io.Writer) {
				if len(results) == 0 {
					return
				}
				t := newTable(w, "REPOSITORY", "RESULT", "ENTITY", "REASON")
				for _, r := range results {
					reason := r.GetNotice() // what was done instead of what was seen
					if !r.GetOk() {
						reason = r.GetReason() + suffix(": ", r.GetMessage())
					}
					t.row(r.GetRepository(), importResult(r), r.GetEntity().GetIdentifier(), reason)
				}
				t.flush()
			})
			if err != nil {
				return err
			}
			failed, refused := 0, 0
			for _, r := range results {
				if !r.GetOk() {
					failed++
				}
				if rejectedValue.reasons[r.GetReason()] {
					refused++
				}
			}
			switch {
			case len(results) == 0:
				a.hint("Nothing to import: the Discovered list is empty.")
			case failed > 0 && refused == failed:
				// Every failure refused a value given (--type, --target,
				// --action): the same exit as any refused value.
				return &cli.UsageError{Err: fmt.Errorf("%d of %d imports failed on the values given; see the reasons above", failed, len(results))}
			case failed > 0:
				return fmt.Errorf("%d of %d imports failed; see the reasons above", failed, len(results))
			default:
				a.hint("Imported %d. See them with: %s", len(results), cmdLine("imported", "list", args[0]))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "import every discovered repository with its recommended action")
	cmd.Flags().StringVar(&action, "action", "", "register or merge (default: each repository's recommended action)")
	cmd.Flags().StringVar(&typ, "type", "", "register: catalog type of the new entities instead of the integration's")
	cmd.Flags().StringVar(&owner, "owner", "", "register: owner of the new entities (e.g. group:payments) instead of the suggested one")
	cmd.Flags().StringVar(&target, "target", "", "merge: entity (id or identifier) to link to instead of the suggested one")
	addOutputFlag(cmd, &output)
	return cmd
}

func importResult(r *integrationv1.ImportResult) string {
	if !r.GetOk() {
		return "failed"
	}
	switch r.GetAction() {
	case integrationv1.ImportAction_IMPORT_ACTION_REGISTER:
		return "registered"
	case integrationv1.ImportAction_IMPORT_ACTION_MERGE:
		return "merged"
	}
	return "imported"
}

func (a *app) autoImportCommand() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "auto-import INTEGRATION on|off",
		Short: "Turn automatic import of future discoveries on or off",
		Long: `With auto-import on, repositories discovered from now on import themselves
with their recommended action, without review. Repositories already in the
Discovered list stay there (import them with 'idpctl import --all'), and a
repository that was unlinked is never imported automatically again.`,
		Example: `  idpctl auto-import acme on
  idpctl auto-import acme off`,
		Args: exactArgs("INTEGRATION", "on|off"),
		RunE: func(cmd *cobra.Command, args []string) error {
			on, err := parseOnOff(args[1])
			if err != nil {
				return cli.Usagef("%v; want on or off", err)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			resp, err := call(cmd.Context(), a, c.discovery.SetAutoImport, &integrationv1.SetAutoImportRequest{Integration: args[0], Enabled: on})
			if err != nil {
				return about(integrationSubject, err)
			}
			in := resp.GetIntegration()
			return a.writeMessage(output, in, func(w io.Writer) {
				if in.GetAutoImport() {
					fmt.Fprintf(w, "Auto-import is on for %q: repositories discovered from now on are imported with their recommended action.\n", in.GetName())
					return
				}
				fmt.Fprintf(w, "Auto-import is off for %q: discovered repositories wait in the Discovered list.\n", in.GetName())
			})
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) importedCommand() *cobra.Command {
	return group("imported", "Repositories linked to catalog entities",
		`The Imported list: every repository an integration brought into the catalog,
registered (a new entity) or merged (linked to an existing one).`,
		a.importedListCommand())
}

func (a *app) importedListCommand() *cobra.Command {
	var (
		o      listOptions
		search string
	)
	cmd := &cobra.Command{
		Use:     "list INTEGRATION",
		Aliases: []string{"ls"},
		Short:   "List imported repositories and their entities",
		Example: `  idpctl imported list acme
  idpctl imported list acme -o json | jq -r '.items[] | "\(.name) \(.entity.identifier)"'`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, true, func(ctx context.Context, size int32, token string) ([]imported, string, int64, error) {
				resp, err := c.discovery.ListImported(ctx, &integrationv1.ListImportedRequest{Integration: args[0], Search: search, PageSize: size, PageToken: token})
				return resp.GetRepositories(), resp.GetNextPageToken(), resp.GetTotal(), err
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			empty := fmt.Sprintf("No imported repositories. Import some: %s, then %s", cmdLine("discovered", "list", args[0]), cmdLine("import", args[0], "NAME..."))
			if search != "" {
				empty = "No imported repositories match."
			}
			return writeList(a, &o, p, []column[imported]{
				{"REPOSITORY", imported.GetName},
				{"STATUS", func(r imported) string { return titleCase(enumName(r.GetStatus(), "IMPORT_STATUS_")) }},
				{"ENTITY", func(r imported) string { return r.GetEntity().GetIdentifier() }},
				{"ENTITY ID", func(r imported) string { return r.GetEntity().GetId() }},
				{"KIND", func(r imported) string { return r.GetEntity().GetKind() }},
				{"TYPE", func(r imported) string { return r.GetEntity().GetType() }},
				{"SCOPE", func(r imported) string { return r.GetEntity().GetScope() }},
				{"IMPORTED", func(r imported) string { return a.age(r.GetImportedAt()) }},
				{"NOTE", func(r imported) string {
					return notes(note{r.GetAutomatic(), "auto-imported"}, note{r.GetDeleted(), "deleted in Bitbucket"},
						note{r.GetExcludedReason() != "", "left out by the filter: " + r.GetExcludedReason()})
				}},
			}, empty)
		},
	}
	addListFlags(cmd, &o)
	cmd.Flags().StringVar(&search, "search", "", "only names containing this, ignoring case")
	return cmd
}

// titleCase turns an enum's REGISTERED into Registered, as the UI shows it.
func titleCase(s string) string {
	if s == "-" || s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

func (a *app) unlinkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unlink INTEGRATION NAME",
		Short: "Stop syncing a repository into its entity; the entity and its data stay",
		Long: `Unlink an imported repository: sync updates into its catalog entity stop, and
the entity keeps what it has. The repository returns to the Discovered list,
marked unlinked, and auto-import never imports it again. NAME is the
repository's name or slug.`,
		Example: `  idpctl unlink acme payments-service`,
		Args:    exactArgs("INTEGRATION", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if _, err := call(cmd.Context(), a, c.discovery.UnlinkRepository, &integrationv1.UnlinkRepositoryRequest{Integration: args[0], Repository: args[1]}); err != nil {
				return about(integrationSubject, err)
			}
			fmt.Fprintf(a.stdout, "Unlinked %s: its catalog entity keeps its data and no longer syncs.\n", args[1])
			a.hint("It is back in the Discovered list: %s", cmdLine("discovered", "list", args[0], "--unlinked"))
			return nil
		},
	}
}

func (a *app) eventsCommand() *cobra.Command {
	var o listOptions
	cmd := &cobra.Command{
		Use:   "events INTEGRATION",
		Short: "Show an integration's event log, newest first",
		Long: `Show an integration's event log, newest first: sync runs, configuration
changes, suspend and resume, manual and automatic imports, failed imports,
unlinks and repositories deleted in Bitbucket, each with who did it and, for
failures, why.`,
		Example: `  idpctl events acme
  idpctl events acme --all-pages -o json | jq -r '.items[] | select(.error != "") | .error'`,
		Args: exactArgs("INTEGRATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := collect(cmd.Context(), a, &o, false, func(ctx context.Context, size int32, token string) ([]event, string, int64, error) {
				resp, err := c.integrations.ListEvents(ctx, &integrationv1.ListEventsRequest{Integration: args[0], PageSize: size, PageToken: token})
				return resp.GetEvents(), resp.GetNextPageToken(), 0, err
			})
			if err != nil {
				return about(integrationSubject, err)
			}
			return writeList(a, &o, p, []column[event]{
				{"TIME", func(e event) string { return a.age(e.GetTime()) }},
				{"TYPE", func(e event) string { return enumName(e.GetType(), "EVENT_TYPE_") }},
				{"ACTOR", event.GetActor},
				{"SUBJECT", func(e event) string {
					if e.GetRepository() != "" {
						return e.GetRepository()
					}
					return suffix("run ", e.GetRunId())
				}},
				{"MESSAGE", func(e event) string { return e.GetMessage() + suffix(": ", e.GetError()) }},
			}, "No events yet.")
		},
	}
	addListFlags(cmd, &o)
	return cmd
}
