package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newListCmd(o *clientOptions) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "list COLLECTION",
		Short: "List the documents of a collection",
		Long: `List the live documents of a collection, ordered by id, as a table: the
id, the version and when it was last written. All pages are read unless
--limit says how many documents to show.

With --json, stdout gets each document as one line of JSON (JSON lines),
ready for jq or a loop.`,
		Example: `  truce list notes
  truce list notes --limit 10
  truce list notes --json | jq -r .title`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usageErrorf("--limit must be 0 (all) or positive, not %d", limit)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			var opts []client.CallOption
			if limit > 0 && limit <= 1000 {
				opts = append(opts, client.PageSize(limit))
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !o.json {
				fmt.Fprintln(tw, "ID\tVERSION\tUPDATED")
			}
			n := 0
			for d, err := range c.List(cmd.Context(), args[0], opts...) {
				if err != nil {
					return requestFailed(cmd, c, err, args[0], "", 0)
				}
				if o.json {
					if err := writeDocLine(out, d.Raw); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", d.ID, d.Version, d.UpdatedAt.UTC().Format(time.RFC3339))
				}
				if n++; n == limit {
					break
				}
			}
			if o.json {
				return nil
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "list only the first `N` documents (0: all)")
	return cmd
}

// writeDocLine writes a document the server sent as one line of compact
// JSON: the --json output of the commands that list documents.
func writeDocLine(out io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return fmt.Errorf("the server sent a document that is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}
