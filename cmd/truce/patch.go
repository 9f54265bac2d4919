package main

import (
	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newPatchCmd(o *clientOptions) *cobra.Command {
	var (
		file      string
		merge     bool
		jsonPatch bool
		ifMatch   string
		version   int64
	)
	cmd := &cobra.Command{
		Use:   "patch COLLECTION ID [-f FILE|-]",
		Short: "Change part of a document",
		Long: `Change part of a document with a patch read from FILE, or from stdin when
FILE is - or not given: a JSON Merge Patch (RFC 7396, the default, --merge),
an object whose members replace the document's and whose nulls remove
them, or a JSON Patch (RFC 6902, --json-patch), an array of operations.

--if-match and --version make the patch conditional, as for 'truce put'.
The stored document is printed as by 'truce get'.`,
		Example: `  echo '{"done":true}' | truce patch tasks t1
  echo '[{"op":"test","path":"/done","value":false},{"op":"replace","path":"/done","value":true}]' |
    truce patch tasks t1 --json-patch`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if merge && jsonPatch {
				return usageErrorf("give --merge or --json-patch, not both")
			}
			opts, err := preconditionFlags(cmd, version, ifMatch)
			if err != nil {
				return err
			}
			body, err := readBody(cmd, file)
			if err != nil {
				return err
			}
			patch := client.MergePatch(body)
			if jsonPatch {
				patch = client.JSONPatch(body)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.Patch(cmd.Context(), args[0], args[1], patch, opts...)
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], version)
			}
			return o.printDoc(cmd, "stored ", d)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read the patch from `FILE` (- for stdin, the default)")
	f.BoolVar(&merge, "merge", false, "the patch is a JSON Merge Patch (RFC 7396); the default")
	f.BoolVar(&jsonPatch, "json-patch", false, "the patch is a JSON Patch (RFC 6902)")
	f.StringVar(&ifMatch, "if-match", "", "patch only if the document's ETag is `ETAG` (412 otherwise)")
	f.Int64Var(&version, "version", 0, "patch only if the document is at version `N` (409 otherwise)")
	return cmd
}
