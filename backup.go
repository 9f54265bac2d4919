package truce

import (
	"context"
	"path/filepath"
	"time"
)

// BackupStore is an optional capability of a Store that can copy itself,
// while it serves, into a directory of the machine it runs on: an online,
// consistent backup (Service.Backup). The Pebble store has it; a store
// kept by a database server (PostgreSQL) has not, as that server has its
// own backups.
type BackupStore interface {
	// Backup writes a consistent copy of the store into dir, which must
	// be an absolute path to a directory that does not exist or is
	// empty (CodeInvalidBackupTarget otherwise), and returns its
	// manifest. Writes continue meanwhile; the copy holds every commit up
	// to the manifest's Seq and none after it. The manifest is written
	// last: a directory without one is not a backup.
	Backup(ctx context.Context, dir string) (*BackupManifest, error)
}

// BackupManifest describes a complete backup: the change-log position it
// is consistent at, and every file with its size and SHA-256, so that a
// restore can refuse a copy that changed since.
type BackupManifest struct {
	// Format is the manifest's format, BackupFormat.
	Format int `json:"format"`
	// Store names the kind of store the files belong to ("pebble").
	Store string `json:"store"`
	// Seq is the store-wide seq of the last commit the backup holds.
	Seq int64 `json:"seq"`
	// Created is when the backup was complete.
	Created time.Time `json:"created"`
	// Dir is where the backup is, as the server named it.
	Dir string `json:"dir"`
	// Files lists every file of the backup, paths relative to Dir with
	// forward slashes, in lexical order.
	Files []BackupFile `json:"files"`
	// Bytes is the sum of the files' sizes.
	Bytes int64 `json:"bytes"`
}

// BackupFormat is the format of the manifests this build writes and reads.
const BackupFormat = 1

// BackupFile is one file of a backup.
type BackupFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Backup writes an online, consistent backup of the store into dir, on the
// file system of the machine the Service runs on, and returns its manifest.
// It returns CodeInvalidBackupTarget for a dir that is not absolute (or,
// from the store, one that exists and is not empty), and
// CodeBackupUnsupported when the store cannot copy itself.
func (s *Service) Backup(ctx context.Context, dir string) (*BackupManifest, error) {
	if dir == "" || !filepath.IsAbs(dir) {
		return nil, Errorf(CodeInvalidBackupTarget, "the backup directory must be an absolute path on the server's file system, not %q", dir)
	}
	bs, ok := s.store.(BackupStore)
	if !ok {
		return nil, Errorf(CodeBackupUnsupported, "this server's store cannot copy itself: back up its PostgreSQL database with pg_dump or your PostgreSQL backups; truce export copies the documents and their history from any store")
	}
	return bs.Backup(ctx, filepath.Clean(dir))
}
