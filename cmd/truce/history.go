package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newHistoryCmd(o *clientOptions) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history COLLECTION ID",
		Short: "List the versions of a document",
		Long: `List the kept versions of a document, newest first, as a table: the
version, when it was written, its ETag, and its state: the newest version
is "live" or "deleted" (the document as it is now); an older version is
"deleted" if that write deleted the document, and "-" otherwise. A
deleted document's history is listed too.

With --json, stdout gets a JSON array of {"version", "etag", "updatedAt",
"deleted"} objects. 'truce diff' shows what changed between two versions.`,
		Example: `  truce history notes n1
  truce history notes n1 --limit 5`,
		Args: cobra.ExactArgs(2),
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
			versions := []client.VersionInfo{}
			for v, err := range c.Versions(cmd.Context(), args[0], args[1], opts...) {
				if err != nil {
					return requestFailed(cmd, c, err, args[0], args[1], 0)
				}
				versions = append(versions, v)
				if len(versions) == limit {
					break
				}
			}
			out := cmd.OutOrStdout()
			if o.json {
				b, err := json.Marshal(versions)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tUPDATED\tETAG\tSTATE")
			for i, v := range versions {
				state := versionState(v, i == 0)

				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", v.Version, v.UpdatedAt.UTC().Format(time.RFC3339), v.ETag, state)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "list only the `N` newest versions (0: all)")
	return cmd
}

// versionState is the STATE column of one version: only the newest
// version says what the document is now (live or deleted); an older one
// says only whether its write deleted the document.
func versionState(v client.VersionInfo, newest bool) string {
	switch {
	case v.Deleted:
		return "deleted"
	case newest:
		return "live"
	default:
		return "-"
	}
}
