package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/backup"
)

// mustBackup makes a backup by hand: Begin, files in its data directory,
// Finish.
func mustBackup(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "b")
	data, err := backup.Begin(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.ReadManifest(dir); !errors.Is(err, backup.ErrIncomplete) {
		t.Fatalf("a begun backup: %v, want ErrIncomplete", err)
	}
	for name, body := range files {
		p := filepath.Join(data, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := backup.Finish(context.Background(), dir, &truce.BackupManifest{Store: "test", Seq: 7})
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq != 7 || len(m.Files) != len(files) || m.Format != truce.BackupFormat {
		t.Fatalf("manifest %+v", m)
	}
	return dir
}

func TestRestoreCopiesAVerifiedBackup(t *testing.T) {
	dir := mustBackup(t, map[string]string{"000001.sst": "tables", "sub/MANIFEST": "m"})
	if _, err := os.Stat(filepath.Join(dir, backup.IncompleteFile)); err == nil {
		t.Error("a finished backup still has its INCOMPLETE marker")
	}
	to := filepath.Join(t.TempDir(), "restored")
	var last int64
	m, err := backup.Restore(dir, to, func(n int64) { last = n })
	if err != nil {
		t.Fatal(err)
	}
	if last != 2*m.Bytes {
		t.Errorf("progress ended at %d bytes, want %d (verified, then copied)", last, 2*m.Bytes)
	}
	if b, _ := os.ReadFile(filepath.Join(to, "sub", "MANIFEST")); string(b) != "m" {
		t.Errorf("restored sub/MANIFEST holds %q", b)
	}
}

// TestVerifyRefuses: every way a backup can differ from its manifest is
// refused, and Restore writes nothing for it.
func TestVerifyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   error
		says   string
	}{
		{"a changed byte", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "data", "a"), []byte("AAAA"), 0o644)
		}, backup.ErrCorrupt, "data/a"},
		{"a missing file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "data", "a"))
		}, backup.ErrCorrupt, "missing"},
		{"a longer file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "data", "a"), []byte("aaaaa"), 0o644)
		}, backup.ErrCorrupt, "5 bytes"},
		{"no manifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, backup.ManifestFile))
		}, backup.ErrIncomplete, "manifest.json"},
		{"the marker", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, backup.IncompleteFile), nil, 0o644)
		}, backup.ErrIncomplete, "INCOMPLETE"},
		{"a path out of the data directory", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *truce.BackupManifest) { m.Files[0].Path = "data/../../etc/passwd" })
		}, backup.ErrCorrupt, "outside"},
		{"a manifest that is not JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, backup.ManifestFile), []byte("{"), 0o644)
		}, backup.ErrCorrupt, "manifest.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := mustBackup(t, map[string]string{"a": "aaaa", "b": "bb"})
			tc.change(t, dir)
			to := filepath.Join(t.TempDir(), "r")
			_, err := backup.Restore(dir, to, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Restore: %v, want %v saying %q", err, tc.want, tc.says)
			}
			if _, err := os.Stat(to); err == nil {
				t.Errorf("the refused restore created %s", to)
			}
		})
	}
}

func editManifest(t *testing.T, dir string, edit func(*truce.BackupManifest)) {
	t.Helper()
	p := filepath.Join(dir, backup.ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m truce.BackupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	b, _ = json.Marshal(&m)
	os.WriteFile(p, b, 0o644)
}

func TestBeginRefusesAUsedOrRelativeTarget(t *testing.T) {
	used := t.TempDir()
	os.WriteFile(filepath.Join(used, "x"), nil, 0o644)
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	for _, dir := range []string{used, file, "relative/dir"} {
		if _, err := backup.Begin(dir); truce.ErrorCode(err) != truce.CodeInvalidBackupTarget {
			t.Errorf("Begin(%s): %v, want invalid_backup_target", dir, err)
		}
	}
	if ents, _ := os.ReadDir(used); len(ents) != 1 {
		t.Errorf("Begin wrote into a used directory: %v", ents)
	}
}
