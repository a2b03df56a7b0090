package idpctl

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

func (a *app) discoveredGetCommand() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:   "get INTEGRATION REPOSITORY",
		Short: "Show one discovered repository: recommendation, candidates and suggested owner",
		Long: `Show one discovered repository (its name, slug, workspace/slug or Bitbucket
uuid): the recommended action and why, every candidate entity, the kind and type
it would be imported as, and the owner its CODEOWNERS file suggests for
Register: the file read, the owners of its rule for the whole repository, the
owner they map to and from which, or why nothing is suggested.`,
		Example: `  idpctl discovered get acme billing-api
  idpctl discovered get acme billing-api -o json`,
		Args: exactArgs("INTEGRATION", "REPOSITORY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ref := args[1]
			search := ref
			if strings.HasPrefix(ref, "{") {
				search = "" // a uuid is no name; look through every page
			} else if _, slug, ok := strings.Cut(ref, "/"); ok {
				search = slug
			}
			req := &integrationv1.ListDiscoveredRequest{Integration: args[0], Search: search, PageSize: 1000}
			var found discovered
			for found == nil {
				resp, err := call(cmd.Context(), a, c.discovery.ListDiscovered, req)
				if err != nil {
					return about(integrationSubject, err)
				}
				for _, r := range resp.GetRepositories() {
					if r.GetRepositoryUuid() == ref || strings.EqualFold(r.GetSlug(), ref) || r.GetName() == ref || strings.EqualFold(r.GetFullName(), ref) {
						found = r
						break
					}
				}
				if resp.GetNextPageToken() == "" {
					break
				}
				req.PageToken = resp.GetNextPageToken()
			}
			if found == nil {
				return fmt.Errorf("no discovered repository %q in integration %q; see %s (imported ones are in %s)",
					ref, args[0], cmdLine("discovered", "list", args[0]), cmdLine("imported", "list", args[0]))
			}
			return a.writeMessage(output, found, func(w io.Writer) { a.discoveredDetails(w, found) })
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (a *app) discoveredDetails(w io.Writer, r discovered) {
	d := newDetails(w)
	d.add("Name", r.GetName())
	d.add("Repository", r.GetFullName())
	d.add("UUID", r.GetRepositoryUuid())
	d.add("Project", r.GetProjectKey())
	d.add("Recommended", recommendation(r.GetRecommendedAction()))
	if r.GetRecommendationNote() != "" {
		d.add("Why", r.GetRecommendationNote())
	}
	d.add("Suggested match", suggestedMatch(r))
	for _, c := range r.GetCandidates() {
		how := "contains " + c.GetMatchedValue()
		if c.GetExact() {
			how = "equals " + c.GetMatchedValue()
		}
		d.add("Candidate", c.GetEntity().GetIdentifier()+" ("+how+")")
	}
	d.add("Kind", r.GetKind())
	d.add("Type", r.GetType())
	switch o := r.GetOwner(); {
	case o == nil:
		d.add("Suggested owner", "- (CODEOWNERS not read yet: the next sync reads it)")
	case o.GetOwner() == "":
		d.add("Suggested owner", "none: "+o.GetNote())
	default:
		d.add("Suggested owner", o.GetOwner()+" (from "+o.GetFrom()+")")
	}
	if o := r.GetOwner(); o != nil && o.GetPath() != "" {
		d.add("CODEOWNERS", o.GetPath()+": * "+strings.Join(o.GetCodeOwners(), " "))
	}
	if o := r.GetOwner(); o != nil {
		d.add("Read", a.when(o.GetCheckedAt()))
	}
	d.add("Detected", a.when(r.GetDetectedAt()))
	d.add("Unlinked", onOff(r.GetUnlinked()))
	d.add("Deleted", onOff(r.GetDeleted()))
	d.flush()
}
