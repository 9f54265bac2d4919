package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

func newCollectionsCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "collections",
		Short: "List the collections, with their document counts",
		Long: `List the collections, ordered by name, as a table: the name, the number
of live and of deleted documents, the conflict policy and when the
settings last changed. With --json, stdout gets a JSON array of the
collections as 'truce collection get --json' prints them.`,
		Example: `  truce collections`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			cols, err := c.ListCollections(cmd.Context())
			if err != nil {
				return requestFailed(cmd, c, err, "", "", 0)
			}
			out := cmd.OutOrStdout()
			if o.json {
				if cols == nil {
					cols = []*client.Collection{}
				}
				b, err := json.Marshal(cols)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDOCUMENTS\tDELETED\tPOLICY\tUPDATED")
			for _, col := range cols {
				policy := col.Settings.ConflictPolicy
				if policy == "" {
					policy = "reject"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", col.Name, col.Counts.Documents, col.Counts.Deleted,
					policy, col.UpdatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

// newCollectionCmd returns 'truce collection' with its subcommands, which
// share o: the client flags are persistent flags of the parent.
func newCollectionCmd(o *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collection get|put|delete NAME",
		Short: "Show, create, change or delete a collection",
		Long: `Show, create, change or delete a collection and its settings: the conflict
policy, required preconditions, unique fields, references, a JSON Schema
and how much history to keep (docs/api.md section 3).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("give a subcommand: get, put or delete")
		},
	}
	cmd.AddCommand(newCollectionGetCmd(o), newCollectionPutCmd(o), newCollectionDeleteCmd(o))
	return cmd
}

func newCollectionGetCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Short:   "Print a collection's settings and counts",
		Example: `  truce collection get notes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			col, err := c.GetCollection(cmd.Context(), args[0])
			if err != nil {
				return requestFailed(cmd, c, err, args[0], "", 0)
			}
			return o.printJSON(cmd, col)
		},
	}
}

func newCollectionPutCmd(o *clientOptions) *cobra.Command {
	var (
		file       string
		unique     []string
		indexes    []string
		references map[string]string
		require    bool
		history    int
		policy     = newEnumValue("", "reject", "merge", "manual", "last-write-wins")
	)
	cmd := &cobra.Command{
		Use:   "put NAME [-f FILE|-] [--unique FIELD]... [--policy P] ...",
		Short: "Create a collection or replace its settings",
		Long: `Create a collection, or replace the settings of an existing one, and print
it as 'truce collection get' does.

The settings are a JSON object read from FILE (-f), or built from the
flags; flags given with -f override what FILE says. With neither, the
settings are read from stdin. The settings replace the old ones whole:
a field left out goes back to its default. For example:

  {"conflictPolicy": "merge", "requirePreconditions": true,
   "unique": ["email"], "references": {"owner": "users"},
   "schema": {...}, "historyLimit": 10, "indexes": [["status", "total"]]}`,
		Example: `  truce collection put users --unique email --require-preconditions
  truce collection put notes --policy merge --history-limit 20
  truce collection put orders --index status,total --index email
  truce collection put orders -f orders-settings.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var s client.Settings
			flagsGiven := fl.Changed("unique") || fl.Changed("reference") || fl.Changed("require-preconditions") ||
				fl.Changed("history-limit") || fl.Changed("policy") || fl.Changed("index")
			if file != "" || !flagsGiven {
				body, err := readBody(cmd, file)
				if err != nil {
					return err
				}
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&s); err != nil {
					return usageErrorf("the settings are not a settings object: %v", err)
				}
			}
			if fl.Changed("unique") {
				s.Unique = unique
			}
			if fl.Changed("reference") {
				s.References = references
			}
			if fl.Changed("index") {
				s.Indexes = nil
				for _, ix := range indexes {
					s.Indexes = append(s.Indexes, strings.Split(ix, ","))
				}
			}
			if fl.Changed("require-preconditions") {
				s.RequirePreconditions = require
			}
			if fl.Changed("history-limit") {
				if history < 0 {
					return usageErrorf("--history-limit must be 0 (keep all) or positive, not %d", history)
				}
				s.HistoryLimit = history
			}
			if fl.Changed("policy") {
				s.ConflictPolicy = policy.value
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			col, err := c.PutCollection(cmd.Context(), args[0], s)
			if err != nil {
				return requestFailed(cmd, c, err, args[0], "", 0)
			}
			return o.printJSON(cmd, col)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "read the settings from `FILE` (- for stdin)")
	f.StringSliceVar(&unique, "unique", nil, "a top-level `FIELD` whose values must be unique (repeat or comma-separate)")
	f.StringArrayVar(&indexes, "index", nil, "a secondary index for queries: its dotted `PATHS`, comma-separated (repeat for more indexes)")
	f.StringToStringVar(&references, "reference", nil, "FIELD holds ids of documents in COLLECTION (`FIELD=COLLECTION`, repeatable)")
	f.BoolVar(&require, "require-preconditions", false, "refuse writes to existing documents without --if-match or --version (428)")
	f.IntVar(&history, "history-limit", 0, "keep `N` versions of each document (0: all)")
	f.Var(policy, "policy", "what a write with a stale version does: `POLICY` is reject, merge, manual or last-write-wins")
	return cmd
}

func newCollectionDeleteCmd(o *clientOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a collection",
		Long: `Delete a collection. One that still holds documents is refused (409
not_empty) unless --force is given, which drops it with all its documents
and their history.`,
		Example: `  truce collection delete scratch --force`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var opts []client.CallOption
			if force {
				opts = append(opts, client.Force())
			}
			if err := c.DeleteCollection(cmd.Context(), args[0], opts...); err != nil {
				notEmpty := client.Code(err) == "not_empty"
				err = requestFailed(cmd, c, err, args[0], "", 0)
				if notEmpty && !force {
					return fmt.Errorf("%w\n  To delete it with all its documents, add --force", err)
				}
				return err
			}
			if !o.json {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted collection %s\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete the collection even if it holds documents, with all of them")
	return cmd
}

// printJSON prints v as JSON: indented (and coloured on a terminal) for
// people, one line with --json.
func (o *clientOptions) printJSON(cmd *cobra.Command, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return o.writeJSON(cmd, b)
}
