package main

import (
	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newPutCmd(o *clientOptions) *cobra.Command {
	var (
		file        string
		ifMatch     string
		ifNoneMatch string
		version     int64
	)
	cmd := &cobra.Command{
		Use:   "put COLLECTION ID [-f FILE|-]",
		Short: "Create or replace a document",
		Long: `Create a document, or replace the whole of one, with the JSON object read
from FILE, or from stdin when FILE is - or not given.

Say which version you are replacing, so that a change someone else made
in the meantime is not lost: --if-match with the ETag you read (a stale
one fails with 412), --version with the version you read (409), or
--if-none-match '*' to create only. A document printed by 'truce get
--json' carries its _version, so writing it back is conditional too. When
the write fails because the document moved on, truce shows its current
version and how to retry.

The stored document is printed as by 'truce get'.`,
		Example: `  truce put notes n1 -f note.json --if-none-match '*'
  echo '{"title":"Groceries"}' | truce put notes n1 --if-match '"1-3"'
  truce get notes n1 --json | jq '.title = "Shopping"' | truce put notes n1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := preconditionFlags(cmd, version, ifMatch)
			if err != nil {
				return err
			}
			if ifNoneMatch != "" {
				opts = append(opts, client.IfNoneMatch(ifNoneMatch))
			}
			body, err := readBody(cmd, file)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.Put(cmd.Context(), args[0], args[1], body, opts...)
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], version)
			}
			return o.printDoc(cmd, "stored ", d)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read the document from `FILE` (- for stdin, the default)")
	f.StringVar(&ifMatch, "if-match", "", "write only if the document's ETag is `ETAG` (412 otherwise)")
	f.StringVar(&ifNoneMatch, "if-none-match", "", "write only if the document's ETag is not `ETAG`; '*' creates only")
	f.Int64Var(&version, "version", 0, "write only if the document is at version `N` (409 otherwise)")
	return cmd
}
