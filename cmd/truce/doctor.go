package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/pebble"
)

// newDoctorCmd checks a Pebble data directory offline (pebble.Store.Check).
func newDoctorCmd(stdout io.Writer) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "doctor --data DIR",
		Short: "Check a stopped server's data directory for inconsistencies",
		Long: `Check a Pebble data directory offline, as bbolt's check does: that every
record decodes; that every document's stored versions end with its current
version, lack none that the change log shows written, and are trimmed to
its collection's historyLimit; that the
unique, reference, secondary and expiry indexes hold exactly the entries
the live documents imply; and that the change log's seqs are strictly
increasing and agree with the documents' versions.

Each problem found is printed on its own line, then a summary. The exit
status is 0 when there is none, 1 when there is any (or the directory
cannot be read). The directory must not be in use: a running 'truce serve'
holds its lock, and doctor refuses to run beside it; stop the server, or
check a copy made by 'truce backup'. Doctor reads everything, and keeps
the seq of every version in memory.`,
		Example: `  truce doctor --data ./truce-data`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := isPebbleDir(dir); err != nil {
				return err
			}
			store, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				if lockHeld(err) {
					return fmt.Errorf("data directory %s is in use by another process (a running truce serve holds its LOCK file): stop it first, or check a backup", dir)
				}
				return fmt.Errorf("open the store in %s: %w", dir, err)
			}
			defer store.Close()
			st, err := store.Check(cmd.Context(), func(p string) { fmt.Fprintf(stdout, "problem: %s\n", p) })
			if err != nil {
				return fmt.Errorf("check %s: %w", dir, err)
			}
			fmt.Fprintf(stdout, "checked %d collections, %d documents, %d versions, %d index entries and %d events in %s: ",
				st.Collections, st.Documents, st.Versions, st.IndexEntries, st.Events, dir)
			if st.Problems == 0 {
				fmt.Fprintln(stdout, "no problems")
				return nil
			}
			fmt.Fprintf(stdout, "%d problems\n", st.Problems)
			return fmt.Errorf("%s has %d problems (listed on stdout)", dir, st.Problems)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "./truce-data", "the Pebble data `DIR` to check")
	return cmd
}

// isPebbleDir reports an error unless dir holds a Pebble database, so that
// doctor never creates an empty one where there was none.
func isPebbleDir(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no data directory at %s: %w", dir, err)
	}
	m, err := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if err != nil {
		return err
	}
	if len(m) == 0 {
		return errors.New(dir + " holds no truce data (no Pebble MANIFEST file); name the directory that 'truce serve --data' uses")
	}
	return nil
}
