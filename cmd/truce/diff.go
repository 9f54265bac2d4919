package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newDiffCmd(o *clientOptions) *cobra.Command {
	var from, to int64
	cmd := &cobra.Command{
		Use:   "diff COLLECTION ID [--from N] [--to M]",
		Short: "Show what changed between two versions of a document",
		Long: `Show what changed between version N and version M of a document, as the
operations of a JSON Patch (RFC 6902) that turn N into M, one a line.

--to defaults to the latest version and --from to the version before --to,
so 'truce diff C ID' shows the last change. With --json, stdout gets the
JSON Patch itself.`,
		Example: `  truce diff notes n1 --from 1 --to 3
  truce diff notes n1 --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if fl.Changed("from") && from < 1 {
				return usageErrorf("--from must be a positive version number, not %d", from)
			}
			if fl.Changed("to") && to < 1 {
				return usageErrorf("--to must be a positive version number, not %d", to)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !fl.Changed("to") {
				for v, err := range c.Versions(ctx, args[0], args[1], client.PageSize(1)) {
					if err != nil {
						return requestFailed(cmd, c, err, args[0], args[1], 0)
					}
					to = v.Version
					break
				}
			}
			if !fl.Changed("from") {
				from = max(to-1, 1)
			}
			ops, err := c.Diff(ctx, args[0], args[1], from, to)
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], 0)
			}
			out := cmd.OutOrStdout()
			if o.json {
				b, err := json.Marshal(ops)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s/%s from version %d to %d\n", args[0], args[1], from, to)
			if len(ops) == 0 {
				fmt.Fprintln(out, "no changes")
			}
			for _, op := range ops {
				fmt.Fprintln(out, formatOp(op))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&from, "from", 0, "the older version `N` (default: the one before --to)")
	f.Int64Var(&to, "to", 0, "the newer version `M` (default: the latest)")
	return cmd
}
