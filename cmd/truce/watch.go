package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newWatchCmd(o *clientOptions) *cobra.Command {
	var (
		f     client.WatchFilter
		types string
		count int
	)
	cmd := &cobra.Command{
		Use:   "watch [COLLECTION [ID]]",
		Short: "Follow the change feed",
		Long: `Print the change feed's events as they happen: of every collection, of
one collection, or of one document. Each event is one line:

  SEQ  TYPE  COLLECTION/ID  vVERSION  TIME

With --json each line is the event's JSON instead (seq, type, collection,
id, version, etag, time, document, conflictId, and the fields of lock and
transaction events). The watch reconnects by itself and resumes where it
was; it runs until interrupted (exit 0) or until --count events came.
--since SEQ resumes after an event seen before; a SEQ the server no longer
keeps (--event-retention) exits 1 with events_expired: re-read what you
follow, then watch without --since.`,
		Example: `  truce watch
  truce watch notes --types document.updated,document.deleted
  truce watch notes n1 --json --no-document
  truce watch notes --since 1200 --count 10`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 || f.Since < 0 {
				return usageErrorf("--count and --since must not be negative")
			}
			if len(args) > 0 {
				f.Collection = args[0]
			}
			if len(args) > 1 {
				f.ID = args[1]
			}
			if types != "" {
				f.Types = strings.Split(types, ",")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			n := 0
			for e, err := range c.Watch(ctx, f) {
				if err != nil {
					if ctx.Err() != nil && cmd.Context().Err() == nil {
						return nil // interrupted: the normal end of a watch
					}
					return requestFailed(cmd, c, err, "", "", 0)
				}
				if o.json {
					_, err = fmt.Fprintf(out, "%s\n", e.Raw)
				} else {
					_, err = fmt.Fprintln(out, formatEvent(e))
				}
				if err != nil {
					return err
				}
				if n++; n == count {
					return nil
				}
			}
			return context.Cause(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&types, "types", "", "comma-separated event `types` to show (document.created, document.updated, …); default all")
	fl.Int64Var(&f.Since, "since", 0, "resume after the event with this `SEQ` (default: from now)")
	fl.BoolVar(&f.FromStart, "from-start", false, "show every event the server still keeps, then follow")
	fl.BoolVar(&f.NoDocument, "no-document", false, "leave documents out of --json events")
	fl.IntVar(&count, "count", 0, "exit after `N` events (default: run until interrupted)")
	return cmd
}

// formatEvent renders an event on one line for people.
func formatEvent(e *client.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-6d %-22s %s/%s v%d %s", e.Seq, e.Type, e.Collection, e.ID, e.Version,
		e.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	if e.ConflictID != "" {
		fmt.Fprintf(&b, " conflict %s", e.ConflictID)
	}
	return b.String()
}
