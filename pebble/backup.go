package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/backup"
)

var _ truce.BackupStore = (*Store)(nil)

// backupMu lets one backup run at a time per process: each one already
// holds Pebble's obsolete files back, and two at once only compete for
// the disk.
var backupMu sync.Mutex

// Backup implements truce.BackupStore with a Pebble checkpoint, in dir's
// data directory (package backup has the layout): the tables and blob
// files are hard-linked where dir is on the same file system as the store
// (they are immutable), copied otherwise; the manifest, options and
// write-ahead logs are copied. Writers are not held back: the checkpoint
// takes Pebble's current version and copies the logs while commits go on.
//
// Which seq the backup holds is read from the checkpoint itself, once it
// is made, by opening it read-only: a checkpoint copies the write-ahead
// logs as they are when it copies them, so it may hold commits made after
// it started, up to some point, and no commit in part (each commit is one
// batch, which holds its own seq record, and a torn last record of a log
// is dropped when it is replayed). Taking the seq under the write lock
// instead would hold every writer back for the whole checkpoint, and still
// not name the state the logs were copied at. The last commit in the copy
// may be one whose fsync had not completed when it was copied; it was
// applied, so its writer is acknowledged once that fsync completes.
func (s *Store) Backup(ctx context.Context, dir string) (*truce.BackupManifest, error) {
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()
	backupMu.Lock()
	defer backupMu.Unlock()
	data, err := backup.Begin(dir)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.db.Checkpoint(data, pebble.WithFlushedWAL()); err != nil {
		return nil, fmt.Errorf("pebble: backup: checkpoint: %w", err)
	}
	seq, err := checkpointSeq(data)
	if err != nil {
		return nil, err
	}
	return backup.Finish(ctx, dir, &truce.BackupManifest{Store: "pebble", Seq: seq})
}

// checkpointSeq opens the checkpoint in dir read-only and returns the seq
// of the last commit it holds.
func checkpointSeq(dir string) (int64, error) {
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: logger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		return 0, fmt.Errorf("pebble: backup: open the checkpoint: %w", err)
	}
	defer db.Close()
	v, closer, err := db.Get(metaSeqKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pebble: backup: read the checkpoint's seq: %w", err)
	}
	defer closer.Close()
	return decodeSeq(v)
}
