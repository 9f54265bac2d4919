package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newGetCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get COLLECTION ID [ID...]",
		Short: "Print a document, or several read in one snapshot",
		Long: `Print the current version of a document.

The document goes to stdout as indented JSON, and a line with its version
and ETag goes to stderr; with --json, stdout gets the document as one line
of JSON and stderr nothing. A document that does not exist exits 1.

With several ids, the documents are read in one request and one snapshot
of the store (POST /v1/collections/{c}/docs:get, at most 1000 ids): stdout
gets a JSON array of them in the order given, null for an id without a
live document, and stderr a line per id with its version and ETag (or
"not found"). Any id without a live document exits 1, after the array.`,
		Example: `  truce get notes n1
  truce get notes n1 --json | jq .title
  truce get notes n1 n2 n3 --json | jq -c '.[] | select(. != null) | ._version'`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if len(args) > 2 {
				return o.getMany(cmd, args[0], args[1:])
			}
			d, err := c.Get(cmd.Context(), args[0], args[1])
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], 0)
			}
			return o.printDoc(cmd, "", d)
		},
	}
}

// getMany is `truce get` with several ids: one bulk read.
func (o *clientOptions) getMany(cmd *cobra.Command, collection string, ids []string) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	l, err := c.GetMany(cmd.Context(), collection, ids)
	if err != nil {
		return requestFailed(cmd, c, err, collection, "", 0)
	}
	docs := make([]json.RawMessage, len(l.Items))
	var missing []string
	for i, it := range l.Items {
		if it.Doc == nil {
			docs[i] = json.RawMessage("null")
			missing = append(missing, it.ID)
			if !o.json {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s/%s  not found\n", collection, it.ID)
			}
			continue
		}
		docs[i] = it.Doc.Raw
		if !o.json {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s/%s  version %d  ETag %s\n", collection, it.ID, it.Doc.Version, it.Doc.ETag)
		}
	}
	if err := o.printJSON(cmd, docs); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d of %d ids have no live document in %s: %s", len(missing), len(ids), collection, strings.Join(missing, ", "))
	}
	return nil
}
