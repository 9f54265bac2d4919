package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/backup"
)

func newBackupCmd(o *clientOptions) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Back a running server's store up, online and consistent",
		Long: `Ask the server for an online, consistent backup of its store (POST
/v1/admin/backup, admin scope) while it keeps serving writes. The server
writes it into DIR on its own file system: a Pebble checkpoint (tables
hard-linked when DIR is on the same file system as the data, copied
otherwise) and manifest.json, written last, with the change-log seq the
backup is consistent at and each file's size and SHA-256. DIR must not
exist or be empty. A relative DIR is made absolute against the current
directory: the server and this command usually share the machine.

A server over PostgreSQL cannot copy itself (backup_unsupported): back
the database up with pg_dump, or copy the documents with 'truce export'.
Restore with 'truce restore --from DIR --data NEW_DIR'.`,
		Example: `  truce backup --to /var/backups/truce/$(date +%F)
  truce backup --to /var/backups/truce/now --json | jq .seq`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageErrorf("--to DIR is required: the directory, on the server's machine, to write the backup into")
			}
			dir, err := filepath.Abs(to)
			if err != nil {
				return usageErrorf("--to: %v", err)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			p := newProgress(cmd.ErrOrStderr(), "backup", o.json)
			stop := make(chan struct{})
			go func() { // the server reports nothing until it is done
				t := time.NewTicker(200 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						p.add(0, 0)
					}
				}
			}()
			m, err := c.Backup(cmd.Context(), dir)
			close(stop)
			if err != nil {
				return requestFailed(cmd, c, err, "", "", 0)
			}
			p.set(m.Bytes)
			p.done()
			if o.json {
				b, err := json.Marshal(m)
				if err != nil {
					return err
				}
				return o.writeJSON(cmd, b)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "backed up to %s at seq %d: %d files, %s, in %s\n",
				m.Dir, m.Seq, len(m.Files), formatBytes(m.Bytes), time.Since(p.start).Round(time.Millisecond))
			return err
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "`DIR` to write the backup into, on the server's file system (must not exist or be empty)")
	return cmd
}

// restoreBackup is 'truce restore --from DIR --data NEW_DIR': it runs on
// the machine of the files, with no server.
func restoreBackup(cmd *cobra.Command, o *clientOptions, from, data string) error {
	if data == "" {
		return usageErrorf("--data NEW_DIR is required with --from: the new data directory to restore into")
	}
	p := newProgress(cmd.ErrOrStderr(), "restore", o.json)
	if m, err := backup.ReadManifest(from); err == nil {
		p.total(0, 2*m.Bytes) // read to verify, then copied
	}
	start := time.Now()
	m, err := backup.Restore(from, data, p.set)
	if err != nil {
		if errors.Is(err, backup.ErrCorrupt) {
			return fmt.Errorf("refusing to restore %s: %w; nothing was written to %s", from, err, data)
		}
		return fmt.Errorf("refusing to restore %s: %w", from, err)
	}
	p.done()
	if o.json {
		b, err := json.Marshal(map[string]any{"from": from, "data": data, "seq": m.Seq, "files": len(m.Files), "bytes": m.Bytes,
			"seconds": time.Since(start).Seconds()})
		if err != nil {
			return err
		}
		return o.writeJSON(cmd, b)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "restored %s (seq %d, %d files, %s, every checksum verified) into %s\nstart it with: truce serve --data %s\n",
		from, m.Seq, len(m.Files), formatBytes(m.Bytes), data, data)
	return err
}
