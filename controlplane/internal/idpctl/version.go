package idpctl

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/catalog-discovery/bitbucket/shared/buildinfo"
)

func (a *app) versionCommand() *cobra.Command {
	var output outputFormat
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print idpctl's version",
		Example: "  idpctl version\n  idpctl version -o json",
		Args:    exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			info := buildinfo.Get()
			if output == formatTable {
				fmt.Fprintln(a.stdout, "idpctl "+info.String())
				return nil
			}
			return writeDocument(a.stdout, output, info)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
