package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// versionArg parses a version number given as an argument.
func versionArg(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, usageErrorf("the version must be a positive number, not %q", s)
	}
	return n, nil
}

func newVersionCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version [COLLECTION ID N]",
		Short: "Print this build of truce, or an old version of a document",
		Long: `Without arguments, print this build of truce, as 'truce --version' does:
its module version, the VCS commit it was built from (and whether the
work tree was modified), the Go version and the commit's time.

With arguments, print version N of a document, as 'truce get' prints the
current one. A version that deleted the document prints as
{"_deleted": true, ...}. A version that history no longer keeps exits 1
(version_trimmed).`,
		Example: `  truce version
  truce version notes n1 2
  truce version notes n1 2 --json | truce put notes n1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 3 {
				return usageErrorf("give no arguments (this build) or COLLECTION ID N (a document's version), not %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				_, err := fmt.Fprint(cmd.OutOrStdout(), buildInfo())
				return err
			}
			n, err := versionArg(args[2])
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.Version(cmd.Context(), args[0], args[1], n)
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], 0)
			}
			verb := ""
			if d.Deleted {
				verb = "(deleted) "
			}
			return o.printDoc(cmd, verb, d)
		},
	}
}

func newRestoreCmd(o *clientOptions) *cobra.Command {
	var (
		ifMatch    string
		version    int64
		from, data string
	)
	cmd := &cobra.Command{
		Use:   "restore COLLECTION ID N | restore --from BACKUP_DIR --data NEW_DIR",
		Short: "Write an old version of a document as its newest, or restore a backup",
		Long: `With --from, restore a backup that 'truce backup' made into a new data
directory, on this machine and with no server running on it: every file
is checked against the backup's manifest (size and SHA-256) first, and a
backup that does not match, or whose manifest is missing (an interrupted
backup), is refused before anything is written. NEW_DIR must not exist
or be empty. 'truce serve --data NEW_DIR' then answers as the original
did at the backup's seq.

Otherwise, write the content of version N of a document as a new version, and print
the stored document as 'truce put' does. Restoring a version that deleted
the document deletes it; restoring a version of a deleted document brings
it back.

--if-match and --version apply to the current version, as for 'truce put':
restore only if nobody wrote the document since you looked.`,
		Example: `  truce restore notes n1 2 --version 5
  truce restore --from /var/backups/truce/2026-12-03 --data ./truce-data-restored`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("from") || cmd.Flags().Changed("data") {
				if len(args) != 0 {
					return usageErrorf("restore --from BACKUP_DIR --data NEW_DIR takes no arguments, not %d", len(args))
				}
				return nil
			}
			return cobra.ExactArgs(3)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if from != "" || data != "" {
				if from == "" {
					return usageErrorf("--data goes with --from BACKUP_DIR: the backup to restore")
				}
				return restoreBackup(cmd, o, from, data)
			}
			n, err := versionArg(args[2])
			if err != nil {
				return err
			}
			opts, err := preconditionFlags(cmd, version, ifMatch)
			if err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			d, err := c.Restore(cmd.Context(), args[0], args[1], n, opts...)
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], version)
			}
			if d == nil {
				if !o.json {
					fmt.Fprintf(cmd.OutOrStdout(), "restored %s/%s to version %d, which deleted it\n", args[0], args[1], n)
				}
				return nil
			}
			return o.printDoc(cmd, "restored ", d)
		},
	}
	f := cmd.Flags()
	f.StringVar(&ifMatch, "if-match", "", "restore only if the document's ETag is `ETAG` (412 otherwise)")
	f.Int64Var(&version, "version", 0, "restore only if the document is at version `N` (409 otherwise)")
	f.StringVar(&from, "from", "", "restore the backup in `BACKUP_DIR` (made by truce backup) instead of a document's version")
	f.StringVar(&data, "data", "", "with --from: the new data `DIR` to restore into (must not exist or be empty)")
	return cmd
}
