// Package backup owns the on-disk form of a truce backup, whichever store
// made it: a directory that holds the store's files under data/, the
// marker file INCOMPLETE while they are written, and manifest.json,
// written last and atomically (a rename), that lists each file with its
// size and SHA-256 and the change-log seq the copy is consistent at. A
// directory without a manifest, or still marked INCOMPLETE, is not a
// backup (a server killed while it wrote one leaves it so). Verify checks
// a backup against its manifest and Restore copies a verified backup into
// a new data directory.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/trucedb/truce"
)

// Names inside a backup directory.
const (
	// DataDir is the directory that holds the store's files.
	DataDir = "data"
	// ManifestFile is the manifest, written last.
	ManifestFile = "manifest.json"
	// IncompleteFile marks a backup that is being written, or whose
	// writing was interrupted.
	IncompleteFile = "INCOMPLETE"
)

// Begin prepares dir to receive a backup: it must be absolute, and not
// exist or be an empty directory (CodeInvalidBackupTarget otherwise). Begin
// creates it with its parents and the INCOMPLETE marker, durably, and
// returns the path of the data directory for the store's files, which
// does not exist yet.
func Begin(dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", truce.Errorf(truce.CodeInvalidBackupTarget, "the backup directory must be an absolute path, not %q", dir)
	}
	if err := checkEmpty(dir); err != nil {
		return "", truce.Errorf(truce.CodeInvalidBackupTarget, "%v; name a new directory for the backup", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", truce.Errorf(truce.CodeInvalidBackupTarget, "cannot create the backup directory: %v", err)
	}
	marker := "this backup is incomplete: it is being written, or its writing was interrupted; it cannot be restored\n"
	if err := writeFileSync(filepath.Join(dir, IncompleteFile), []byte(marker)); err != nil {
		return "", truce.Errorf(truce.CodeInvalidBackupTarget, "cannot write into the backup directory: %v", err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, DataDir), nil
}

// checkEmpty returns an error unless dir does not exist or is an empty
// directory.
func checkEmpty(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s is not empty (it holds %s)", dir, ents[0].Name())
	}
	return nil
}

// Finish completes the backup in dir whose store files are in its data
// directory: it checksums every file, writes the manifest (to a temporary
// file, synced, then renamed), and removes the INCOMPLETE marker. m
// carries Store and Seq; Finish fills in the rest and returns it.
func Finish(ctx context.Context, dir string, m *truce.BackupManifest) (*truce.BackupManifest, error) {
	m.Format, m.Dir, m.Files, m.Bytes = truce.BackupFormat, dir, nil, 0
	root := filepath.Join(dir, DataDir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("backup: %s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		size, sum, err := hashFile(p, nil)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, truce.BackupFile{Path: filepath.ToSlash(rel), Size: size, SHA256: sum})
		m.Bytes += size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("backup: checksum the files: %w", err)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	m.Created = time.Now().UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := writeFileSync(tmp, append(b, '\n')); err != nil {
		return nil, fmt.Errorf("backup: write the manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return nil, fmt.Errorf("backup: write the manifest: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, IncompleteFile)); err != nil {
		return nil, fmt.Errorf("backup: remove the INCOMPLETE marker: %w", err)
	}
	return m, syncDir(dir)
}

// ErrIncomplete is the error Verify returns, wrapped, for a directory
// that is not a complete backup.
var ErrIncomplete = errors.New("the backup is incomplete")

// ErrCorrupt is the error Verify returns, wrapped, for a backup whose
// files do not match its manifest.
var ErrCorrupt = errors.New("the backup does not match its manifest")

// Verify reads the manifest of the backup in dir and checks every file
// against it, reading each whole: size and SHA-256. progress, if not nil,
// is called with the bytes read so far. It returns the manifest, or an
// error that wraps ErrIncomplete (no manifest, or the INCOMPLETE marker)
// or ErrCorrupt (a file missing, of another size or checksum).
func Verify(dir string, progress func(bytes int64)) (*truce.BackupManifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	var done int64
	for _, f := range m.Files {
		p, err := filePath(dir, f.Path)
		if err != nil {
			return nil, err
		}
		size, sum, err := hashFile(p, func(n int64) {
			if progress != nil {
				progress(done + n)
			}
		})
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s is missing", ErrCorrupt, f.Path)
		}
		if err != nil {
			return nil, err
		}
		if size != f.Size || sum != f.SHA256 {
			return nil, fmt.Errorf("%w: %s has %d bytes with SHA-256 %s; the manifest says %d bytes with SHA-256 %s", ErrCorrupt, f.Path, size, sum, f.Size, f.SHA256)
		}
		done += size
	}
	return m, nil
}

// ReadManifest reads the manifest of the backup in dir without checking
// the files: an error that wraps ErrIncomplete when dir has none or is
// marked INCOMPLETE.
func ReadManifest(dir string) (*truce.BackupManifest, error) {
	if _, err := os.Stat(filepath.Join(dir, IncompleteFile)); err == nil {
		return nil, fmt.Errorf("%w: %s holds the %s marker (the backup was interrupted before it was finished); take a new backup", ErrIncomplete, dir, IncompleteFile)
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, serr
		}
		return nil, fmt.Errorf("%w: %s has no %s (a backup's manifest is written last: this one was interrupted, or is not a truce backup); take a new backup", ErrIncomplete, dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m truce.BackupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, ManifestFile, err)
	}
	if m.Format != truce.BackupFormat {
		return nil, fmt.Errorf("%s is a backup of format %d; this build of truce reads format %d", dir, m.Format, truce.BackupFormat)
	}
	return &m, nil
}

// filePath returns the path of a manifest entry inside dir, refusing one
// that would lead out of its data directory.
func filePath(dir, rel string) (string, error) {
	clean := path.Clean(rel)
	if clean != rel || !strings.HasPrefix(clean, DataDir+"/") {
		return "", fmt.Errorf("%w: the manifest names the file %q, outside %s/", ErrCorrupt, rel, DataDir)
	}
	return filepath.Join(dir, filepath.FromSlash(clean)), nil
}

// Restore verifies the backup in from (Verify), then copies its store
// files into to, which must not exist or be empty, checking each file's
// checksum again as it copies, and syncs them. progress, if not nil, is
// called with the bytes verified and then copied so far (twice the
// manifest's Bytes in all). It returns the manifest. On failure it leaves
// to without a usable store: a partial copy is removed.
func Restore(from, to string, progress func(bytes int64)) (*truce.BackupManifest, error) {
	if err := checkEmpty(to); err != nil {
		return nil, fmt.Errorf("%v; restore into a new directory", err)
	}
	m, err := Verify(from, progress)
	if err != nil {
		return nil, err
	}
	created := false
	if _, err := os.Stat(to); errors.Is(err, fs.ErrNotExist) {
		created = true
	}
	fail := func(err error) (*truce.BackupManifest, error) {
		if created {
			os.RemoveAll(to)
		} else if ents, _ := os.ReadDir(to); ents != nil {
			for _, e := range ents {
				os.RemoveAll(filepath.Join(to, e.Name()))
			}
		}
		return nil, err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return nil, err
	}
	dirs := map[string]bool{to: true}
	done := m.Bytes
	for _, f := range m.Files {
		src, err := filePath(from, f.Path)
		if err != nil {
			return fail(err)
		}
		dst := filepath.Join(to, filepath.FromSlash(strings.TrimPrefix(f.Path, DataDir+"/")))
		if d := filepath.Dir(dst); !dirs[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fail(err)
			}
			dirs[d] = true
		}
		if err := copyFile(src, dst, f, func(n int64) {
			if progress != nil {
				progress(done + n)
			}
		}); err != nil {
			return fail(err)
		}
		done += f.Size
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return fail(err)
		}
	}
	return m, nil
}

// copyFile copies src to dst, synced, and checks what it copied against f.
func copyFile(src, dst string, f truce.BackupFile, progress func(int64)) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	var w io.Writer = io.MultiWriter(out, h)
	if progress != nil {
		w = &countWriter{w: w, fn: progress}
	}
	n, err := io.Copy(w, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: copy %s: %w", f.Path, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
		return fmt.Errorf("%w: %s changed while it was copied (%d bytes, SHA-256 %s)", ErrCorrupt, f.Path, n, sum)
	}
	return nil
}

// hashFile returns the size and SHA-256 (hex) of the file at p, calling
// progress, if not nil, with the bytes read so far.
func hashFile(p string, progress func(int64)) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	var w io.Writer = h
	if progress != nil {
		w = &countWriter{w: h, fn: progress}
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// countWriter passes writes to w and reports the running total to fn.
type countWriter struct {
	w  io.Writer
	n  int64
	fn func(int64)
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}

// writeFileSync writes b to a new file at p and syncs it.
func writeFileSync(p string, b []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir syncs a directory, so that the entries made in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
