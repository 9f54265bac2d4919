package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/client"
)

// newConflictsCmd returns 'truce conflicts' and its 'show' subcommand,
// which share o: the client flags are persistent flags of the parent.
func newConflictsCmd(o *clientOptions) *cobra.Command {
	var (
		collection string
		docID      string
		status     = newEnumValue("open", "open", "resolved", "dismissed", "all")
	)
	cmd := &cobra.Command{
		Use:   "conflicts",
		Short: "List recorded conflicts",
		Long: `List the conflicts that collections with the manual conflict policy
recorded (docs/api.md section 5), oldest first, as a table: the conflict id,
the document, the version the refused write was based on and the version
it met, its status, and the paths that both sides changed differently.

Only open conflicts are listed unless --status says otherwise. With
--json, stdout gets one JSON object per line, as the server sends them.

'truce conflicts show ID' shows one conflict three ways; 'truce resolve'
and 'truce dismiss' close it.`,
		Example: `  truce conflicts
  truce conflicts --collection notes --status all
  truce conflicts show 01JD3…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			f := client.ConflictFilter{Collection: collection, DocID: docID, Status: status.value}
			if f.Status == "all" {
				f.Status = ""
			}
			out := cmd.OutOrStdout()
			var tw *tabwriter.Writer
			if !o.json {
				tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tDOCUMENT\tBASE\tCURRENT\tSTATUS\tCREATED\tPATHS")
			}
			for cf, err := range c.Conflicts(cmd.Context(), f) {
				if err != nil {
					return requestFailed(cmd, c, err, "", "", 0)
				}
				if o.json {
					b, err := json.Marshal(conflictJSON(cf))
					if err != nil {
						return err
					}
					if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
						return err
					}
					continue
				}
				paths := make([]string, len(cf.Paths))
				for i, p := range cf.Paths {
					paths[i] = p.Path
				}
				fmt.Fprintf(tw, "%s\t%s/%s\t%d\t%d\t%s\t%s\t%s\n", cf.ID, cf.Collection, cf.DocID, cf.BaseVersion,
					cf.CurrentVersion, cf.Status, cf.CreatedAt.UTC().Format(time.RFC3339), strings.Join(paths, " "))
			}
			if tw != nil {
				return tw.Flush()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&collection, "collection", "", "list only the conflicts of collection `NAME`")
	f.StringVar(&docID, "id", "", "list only the conflicts of document `ID`")
	f.Var(status, "status", "list the conflicts in `STATUS`: open, resolved, dismissed or all")
	cmd.AddCommand(newConflictShowCmd(o))
	return cmd
}

func newConflictShowCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a conflict: base, current and proposed value of each path",
		Long: `Show a recorded conflict: the document, the version the refused write was
based on and the version it met, and for each path that both sides
changed differently its value in the base version, in the current version
and in the refused write ("absent" where a side has no value there).

With --json, stdout gets the conflict as the server sends it, with the
whole base, current and proposed documents.`,
		Example: `  truce conflicts show 01JD3…`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			cf, err := c.Conflict(cmd.Context(), args[0])
			if err != nil {
				return requestFailed(cmd, c, err, "", "", 0)
			}
			if o.json {
				return o.printJSON(cmd, conflictJSON(cf))
			}
			// The ETag of the version the conflict met is what a
			// resolution should be conditional on. A version that
			// history no longer keeps has none to show.
			etag := ""
			if d, err := c.Version(cmd.Context(), cf.Collection, cf.DocID, cf.CurrentVersion); err == nil {
				etag = d.ETag
			}
			return showConflict(cmd.OutOrStdout(), cf, etag)
		},
	}
}

// conflictJSON returns cf for --json as the server sent it: its times in
// truce.TimeLayout, with milliseconds, where encoding/json would cut the
// trailing zeros (.120 as .12).
func conflictJSON(cf *client.Conflict) any {
	out := struct {
		*client.Conflict
		CreatedAt string `json:"createdAt"`
		ClosedAt  string `json:"closedAt,omitempty"`
	}{Conflict: cf, CreatedAt: cf.CreatedAt.UTC().Format(truce.TimeLayout)}
	if !cf.ClosedAt.IsZero() {
		out.ClosedAt = cf.ClosedAt.UTC().Format(truce.TimeLayout)
	}
	return out
}

// showConflict prints the three-way view of a conflict. etag is the ETag
// of the version the conflict met, or "" if unknown.
func showConflict(w io.Writer, cf *client.Conflict, etag string) error {
	fmt.Fprintf(w, "conflict %s  %s/%s  %s\n", cf.ID, cf.Collection, cf.DocID, cf.Status)
	met := fmt.Sprintf("version %d", cf.CurrentVersion)
	if etag != "" {
		met += " (ETag " + etag + ")"
	}
	fmt.Fprintf(w, "a write based on version %d met %s, %s\n", cf.BaseVersion, met,
		cf.CreatedAt.UTC().Format(time.RFC3339))
	if string(cf.Proposed) == "null" || len(cf.Proposed) == 0 {
		fmt.Fprintln(w, "the refused write deletes the document")
	}
	if r := cf.Resolution; r != nil {
		fmt.Fprintf(w, "resolved with %s as version %d, %s\n", r.Strategy, r.Version, cf.ClosedAt.UTC().Format(time.RFC3339))
	} else if !cf.ClosedAt.IsZero() {
		fmt.Fprintf(w, "closed %s\n", cf.ClosedAt.UTC().Format(time.RFC3339))
	}
	for _, p := range cf.Paths {
		fmt.Fprintf(w, "\n%s\n", p.Path)
		tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
		fmt.Fprintf(tw, "  base (v%d):\t%s\n", cf.BaseVersion, showValue(p.Base))
		fmt.Fprintf(tw, "  current (v%d):\t%s\n", cf.CurrentVersion, showValue(p.Current))
		fmt.Fprintf(tw, "  proposed:\t%s\n", showValue(p.Proposed))
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if cf.Status == client.ConflictOpen {
		precondition := "--force"
		if etag != "" {
			precondition = "--if-match '" + etag + "'"
		}
		fmt.Fprintf(w, "\nresolve with: truce resolve %s --strategy keep-current|take-proposed|merge|custom %s\n", cf.ID, precondition)
	}
	return nil
}

// showValue renders a JSON value on one line, or "absent".
func showValue(v json.RawMessage) string {
	if len(v) == 0 {
		return "absent"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return string(v)
	}
	return b.String()
}

func newResolveCmd(o *clientOptions) *cobra.Command {
	var (
		strategy = newEnumValue("", client.StrategyKeepCurrent, client.StrategyTakeProposed, client.StrategyMerge, client.StrategyCustom)
		file     string
		ifMatch  string
		force    bool
	)
	cmd := &cobra.Command{
		Use:   "resolve ID --strategy keep-current|take-proposed|merge|custom",
		Short: "Resolve a recorded conflict",
		Long: `Resolve a recorded conflict: the server writes the resolution as a new
version of the document and marks the conflict resolved.

Strategies: keep-current writes the current content again (so that the
history shows the decision); take-proposed writes the refused write's
result; merge merges the three versions, taking the proposed value on
every conflicting path; custom writes the document read from -f FILE (or
stdin).

The write is conditional on the document's ETag (--if-match): give the
ETag of the version the conflict met, which 'truce conflicts show ID'
prints, so that the resolution is refused (412) if someone wrote the
document since you looked at the conflict. Without --if-match, resolve
refuses to run (exit 2) unless --force is given: then truce reads the
document's current ETag and resolves against whatever the document is
now, and says so on stderr. The resolved document is printed as
'truce get' prints one.`,
		Example: `  truce resolve 01JD3… --strategy take-proposed --if-match '"2-9"'
  truce resolve 01JD3… --strategy custom -f fixed.json --if-match '"3-17"'
  truce resolve 01JD3… --strategy keep-current --force`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strategy.value == "" {
				return usageErrorf("give --strategy: keep-current, take-proposed, merge or custom")
			}
			var body any
			if strategy.value == client.StrategyCustom {
				b, err := readBody(cmd, file)
				if err != nil {
					return err
				}
				if !json.Valid(b) {
					return usageErrorf("the document is not valid JSON")
				}
				body = json.RawMessage(b)
			} else if file != "" {
				return usageErrorf("-f goes only with --strategy custom")
			}
			if ifMatch == "" && !force {
				return usageErrorf("give --if-match with the ETag of the version the conflict met ('truce conflicts show %s' prints it), "+
					"or --force to resolve against whatever the document is now", args[0])
			}
			if ifMatch != "" && force {
				return usageErrorf("give --if-match or --force, not both")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cf, err := c.Conflict(ctx, args[0])
			if err != nil {
				return requestFailed(cmd, c, err, "", "", 0)
			}
			var opts []client.CallOption
			if ifMatch == "" {
				cur, err := c.Get(ctx, cf.Collection, cf.DocID)
				switch {
				case client.IsNotFound(err):
					fmt.Fprintf(cmd.ErrOrStderr(), "truce: --force: %s/%s does not exist now; resolving without --if-match\n", cf.Collection, cf.DocID)
				case err != nil:
					return requestFailed(cmd, c, err, cf.Collection, cf.DocID, 0)
				default:
					ifMatch = cur.ETag
					fmt.Fprintf(cmd.ErrOrStderr(), "truce: --force: using the current ETag of %s/%s, %s (version %d)\n",
						cf.Collection, cf.DocID, cur.ETag, cur.Version)
				}
			}
			if ifMatch != "" {
				opts = append(opts, client.IfMatch(ifMatch))
			}
			d, err := c.Resolve(ctx, args[0], strategy.value, body, append(opts, lockTokenOption(cmd)...)...)
			if err != nil {
				return requestFailed(cmd, c, err, cf.Collection, cf.DocID, 0)
			}
			if d == nil {
				if !o.json {
					fmt.Fprintf(cmd.OutOrStdout(), "resolved conflict %s: deleted %s/%s\n", cf.ID, cf.Collection, cf.DocID)
				}
				return nil
			}
			d.Collection = cf.Collection
			return o.printDoc(cmd, "resolved conflict "+cf.ID+": ", d)
		},
	}
	f := cmd.Flags()
	f.Var(strategy, "strategy", "how to resolve: `keep-current`, take-proposed, merge or custom")
	f.StringVarP(&file, "file", "f", "", "read the custom resolution from `FILE` (default stdin)")
	f.StringVar(&ifMatch, "if-match", "", "resolve only if the document's ETag is `ETAG`, the one 'truce conflicts show' prints (412 otherwise)")
	f.BoolVar(&force, "force", false, "without --if-match: resolve against the document's current version, whatever it is")
	return cmd
}

func newDismissCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "dismiss ID",
		Short: "Close a recorded conflict without writing",
		Long: `Close a recorded conflict without writing anything: the document stays as
it is. With --json, stdout gets the closed conflict.`,
		Example: `  truce dismiss 01JD3…`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			cf, err := c.Dismiss(cmd.Context(), args[0])
			if err != nil {
				return requestFailed(cmd, c, err, "", "", 0)
			}
			if o.json {
				return o.printJSON(cmd, cf)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dismissed conflict %s (%s/%s)\n", cf.ID, cf.Collection, cf.DocID)
			return nil
		},
	}
}
