package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newDeleteCmd(o *clientOptions) *cobra.Command {
	var (
		ifMatch string
		version int64
	)
	cmd := &cobra.Command{
		Use:   "delete COLLECTION ID",
		Short: "Delete a document",
		Long: `Delete a document. Its history stays readable ('truce history'), and a
document created later with the same id continues its versions.

--if-match and --version make the delete conditional, as for 'truce put'.
With --json nothing is printed.`,
		Example: `  truce delete notes n1 --version 3`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := preconditionFlags(cmd, version, ifMatch)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), args[0], args[1], opts...); err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], version)
			}
			if !o.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s/%s\n", args[0], args[1])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ifMatch, "if-match", "", "delete only if the document's ETag is `ETAG` (412 otherwise)")
	f.Int64Var(&version, "version", 0, "delete only if the document is at version `N` (409 otherwise)")
	return cmd
}
