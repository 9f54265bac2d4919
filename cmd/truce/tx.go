package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newTxCmd(o *clientOptions) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "tx [-f FILE|-]",
		Short: "Apply several document operations atomically",
		Long: `Send a batch of operations read from FILE, or from stdin when FILE is - or
not given, as one atomic transaction (POST /v1/tx): the server applies all
of them in one commit, or none.

The batch is {"ops": [...]} or a bare array of ops. Each op has "op"
(create, put, patch, delete or check), "collection", "id" (optional for
create), preconditions ("ifMatch", "ifNoneMatch" or "version"), and
"document" (create, put), "mergePatch" or "jsonPatch" (patch), or
"lockToken". A document may be written by at most one op.

The results are printed as {"results": [...]}, one per op. When an op
fails, nothing is applied: truce says which op failed and why, and exits 1.`,
		Example: `  truce tx -f transfer.json
  echo '[{"op":"patch","collection":"accounts","id":"a","version":3,"mergePatch":{"balance":70}},
        {"op":"create","collection":"ledger","document":{"from":"a","amount":30}}]' | truce tx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := readBody(cmd, file)
			if err != nil {
				return err
			}
			b, err := client.ParseBatch(body)
			if err != nil {
				return &usageError{err: err}
			}
			if b.Len() == 0 {
				return usageErrorf("the batch has no ops")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			res, err := c.Batch(cmd.Context(), b)
			if err != nil {
				ferr := requestFailed(cmd, c, err, "", "", 0)
				if i, ok := client.FailedOp(err); ok {
					return fmt.Errorf("op %d failed, so nothing was applied: %w", i, ferr)
				}
				return ferr
			}
			return o.printTxResults(cmd, res)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "read the batch from `FILE` (- for stdin, the default)")
	return cmd
}

// printTxResults prints {"results": [...]} on stdout and, for people, a
// line per op on stderr.
func (o *clientOptions) printTxResults(cmd *cobra.Command, res []client.OpResult) error {
	type result struct {
		Status   int             `json:"status"`
		ETag     string          `json:"etag,omitempty"`
		Document json.RawMessage `json:"document,omitempty"`
	}
	out := struct {
		Results []result `json:"results"`
	}{Results: make([]result, len(res))}
	for i, r := range res {
		out.Results[i] = result{Status: r.Status}
		line := fmt.Sprintf("op %d: %d", i, r.Status)
		if d := r.Doc; d != nil {
			out.Results[i].ETag, out.Results[i].Document = d.ETag, d.Raw
			line += fmt.Sprintf("  %s/%s  version %d  ETag %s", d.Collection, d.ID, d.Version, d.ETag)
		}
		if !o.json {
			fmt.Fprintln(cmd.ErrOrStderr(), line)
		}
	}
	return o.printJSON(cmd, out)
}
