package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newQueryCmd(o *clientOptions) *cobra.Command {
	var (
		where   string
		orderBy []string
		fields  []string
		limit   int
		page    int
		scan    bool
	)
	cmd := &cobra.Command{
		Use:   "query COLLECTION [WHERE]",
		Short: "Query the documents of a collection",
		Long: `Query the live documents of a collection: WHERE (or --where) is the JSON
object of the query's where, such as '{"status":"open","total":{"$gte":10}}'
(docs/api.md section 3 and the README's Queries section list the operators).
--order-by sorts by a path, descending with a leading -; give it again to
sort by more paths. All pages are read unless --limit says how many
documents to show.

The table shows the id, the version and when the document was last
written, then the --fields. With --json, stdout gets each document as one
line of JSON (JSON lines), ready for jq or a loop.

A query that no index of the collection serves is refused (index_required,
naming an index that would); --scan lets the server examine the documents
instead, up to its --max-scan-docs per page.`,
		Example: `  truce query orders '{"status":"open"}' --order-by -total --limit 20
  truce query orders --where '{"email":{"$prefix":"ann"}}' --fields email,total
  truce query orders '{"tags":{"$in":["a","b"]}}' --scan --json | jq -r ._id`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if where != "" {
					return usageErrorf("give the where as an argument or as --where, not both")
				}
				where = args[1]
			}
			if limit < 0 || page < 0 || page > 1000 {
				return usageErrorf("--limit must be 0 (all) or positive, and --page-size 1-1000")
			}
			q := client.Query{Fields: fields, Scan: scan, Limit: page}
			if limit > 0 && (page == 0 || limit < page) && limit <= 1000 {
				q.Limit = limit
			}
			if where != "" {
				if !json.Valid([]byte(where)) {
					return usageErrorf("the where is not JSON: %s", where)
				}
				q.Where = json.RawMessage(where)
			}
			for _, spec := range orderBy {
				for _, f := range strings.Split(spec, ",") {
					name, desc := strings.CutPrefix(strings.TrimSpace(f), "-")
					if name == "" {
						return usageErrorf("--order-by takes paths, such as total or -total")
					}
					q.OrderBy = append(q.OrderBy, client.OrderBy{Field: name, Desc: desc})
				}
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !o.json {
				head := "ID\tVERSION\tUPDATED"
				for _, f := range fields {
					head += "\t" + strings.ToUpper(f)
				}
				fmt.Fprintln(tw, head)
			}
			n := 0
			for d, err := range c.Query(cmd.Context(), args[0], q) {
				if err != nil {
					return requestFailed(cmd, c, err, args[0], "", 0)
				}
				if o.json {
					if err := writeDocLine(out, d.Raw); err != nil {
						return err
					}
				} else {
					row := fmt.Sprintf("%s\t%d\t%s", d.ID, d.Version, d.UpdatedAt.UTC().Format(time.RFC3339))
					if d.UpdatedAt.IsZero() {
						row = fmt.Sprintf("%s\t%d\t-", d.ID, d.Version)
					}
					for _, f := range fields {
						row += "\t" + fieldText(d.Raw, f)
					}
					fmt.Fprintln(tw, row)
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
	f := cmd.Flags()
	f.StringVar(&where, "where", "", "the query's where, a JSON `object`")
	f.StringSliceVar(&orderBy, "order-by", nil, "sort by `path` (-path: descending); repeat or separate with commas")
	f.StringSliceVar(&fields, "fields", nil, "show only these `paths` (and _id, _version)")
	f.IntVarP(&limit, "limit", "n", 0, "show only the first `N` documents (0: all)")
	f.IntVar(&page, "page-size", 0, "documents per request (`n`, 1-1000; 0: the server's default)")
	f.BoolVar(&scan, "scan", false, "let the server examine documents when no index serves the query")
	return cmd
}

// fieldText returns the value at a dotted path of a document as compact
// JSON (a string without its quotes), or "-" when it has none.
func fieldText(raw json.RawMessage, path string) string {
	var cur any
	if err := json.Unmarshal(raw, &cur); err != nil {
		return "-"
	}
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "-"
		}
		if cur, ok = m[seg]; !ok {
			return "-"
		}
	}
	if s, ok := cur.(string); ok {
		return s
	}
	b, _ := json.Marshal(cur)
	return string(b)
}
