package main

import (
	"github.com/spf13/cobra"
)

func newGetCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get COLLECTION ID",
		Short: "Print a document",
		Long: `Print the current version of a document.

The document goes to stdout as indented JSON, and a line with its version
and ETag goes to stderr; with --json, stdout gets the document as one line
of JSON and stderr nothing. A document that does not exist exits 1.`,
		Example: `  truce get notes n1
  truce get notes n1 --json | jq .title`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.Get(cmd.Context(), args[0], args[1])
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], 0)
			}
			return o.printDoc(cmd, "", d)
		},
	}
}
