package pebble_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/backup"
	"github.com/trucedb/truce/pebble"
)

// TestBackupUnderWritesRestoresTheStateAtItsSeq backs a store up while
// writers change it, restores the backup into a new directory, and
// compares the restored store with the original as it was at the
// backup's seq: every event, every stored version of every document, every
// current document, every recorded conflict.
func TestBackupUnderWritesRestoresTheStateAtItsSeq(t *testing.T) {
	ctx := context.Background()
	orig := mustOpen(t, t.TempDir())
	defer orig.Close()
	svc := truce.NewService(orig, truce.Options{})
	if _, _, err := svc.PutCollection(ctx, "manual", truce.Settings{ConflictPolicy: truce.PolicyManual}); err != nil {
		t.Fatal(err)
	}
	// Two recorded conflicts before the load: both writes change the
	// same field from version 1.
	for i := range 2 {
		id := fmt.Sprintf("m%d", i)
		mustPut(t, svc, "manual", id, `{"title":"a"}`, 0)
		mustPut(t, svc, "manual", id, `{"title":"b"}`, 1)
		if _, err := svc.Put(ctx, "manual", id, []byte(`{"title":"c"}`), truce.Precondition{Version: 1}, nil); truce.ErrorCode(err) != truce.CodeMergeConflict {
			t.Fatalf("a conflicting write: %v, want merge_conflict", err)
		}
	}

	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				c := []string{"notes", "tasks"}[rng.IntN(2)]
				id := fmt.Sprintf("w%d-%d", w, rng.IntN(40))
				var err error
				if rng.IntN(8) == 0 {
					_, err = svc.Delete(ctx, c, id, truce.Precondition{}, nil)
				} else {
					_, err = svc.Put(ctx, c, id, []byte(fmt.Sprintf(`{"n":%d,"pad":"%0100d"}`, rng.IntN(1000), 0)), truce.Precondition{}, nil)
				}
				if err != nil && truce.ErrorCode(err) != truce.CodeNotFound {
					t.Errorf("write %s/%s: %v", c, id, err)
					return
				}
				writes.Add(1)
			}
		})
	}
	for writes.Load() < 300 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	m, err := svc.Backup(ctx, dir)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("Backup: %v", err)
	}
	during := writes.Load()
	for writes.Load() < during+200 && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	last := lastSeq(t, orig)
	t.Logf("backup at seq %d of %d, %d files, %d bytes", m.Seq, last, len(m.Files), m.Bytes)
	if m.Seq <= 0 || m.Seq >= last {
		t.Fatalf("the backup's seq is %d; the store went from before it to %d: writes went on", m.Seq, last)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(dir, restored, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	copyStore := mustOpen(t, restored)
	defer copyStore.Close()
	compareAtSeq(t, orig, copyStore, m.Seq)
}

// mustPut puts body with the body version v (0: none).
func mustPut(t *testing.T, svc *truce.Service, c, id, body string, v int64) {
	t.Helper()
	if _, err := svc.Put(context.Background(), c, id, []byte(body), truce.Precondition{Version: v}, nil); err != nil {
		t.Fatalf("put %s/%s: %v", c, id, err)
	}
}

func lastSeq(t *testing.T, s truce.Store) (seq int64) {
	t.Helper()
	if err := s.View(context.Background(), func(tx truce.ReadTx) (err error) {
		seq, err = tx.LastSeq()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

// compareAtSeq checks that got holds exactly what orig held at seq.
func compareAtSeq(t *testing.T, orig, got truce.Store, seq int64) {
	t.Helper()
	ctx := context.Background()
	if g := lastSeq(t, got); g != seq {
		t.Errorf("the restored store's last seq is %d, want the backup's %d", g, seq)
	}
	var want, have []*truce.Event
	read := func(s truce.Store, out *[]*truce.Event) {
		if err := s.View(ctx, func(tx truce.ReadTx) error {
			evs, err := tx.Events(0, 1<<30)
			*out = evs
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	read(orig, &want)
	read(got, &have)
	for len(want) > 0 && want[len(want)-1].Seq > seq {
		want = want[:len(want)-1]
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("events up to seq %d differ (-original +restored):\n%s", seq, diff)
	}
	// Every document any event up to seq names.
	docs := map[truce.DocRef]bool{}
	for _, e := range want {
		if e.ID != "" {
			docs[truce.DocRef{Collection: e.Collection, ID: e.ID}] = true
		}
	}
	if len(docs) < 10 {
		t.Fatalf("only %d documents to compare", len(docs))
	}
	for ref := range docs {
		var wv, hv []*truce.Document
		var hcur *truce.Document
		versions := func(tx truce.ReadTx) ([]*truce.Document, error) {
			return tx.Versions(ref.Collection, ref.ID, 0, 1<<30)
		}
		if err := orig.View(ctx, func(tx truce.ReadTx) (err error) { wv, err = versions(tx); return err }); err != nil {
			t.Fatal(err)
		}
		if err := got.View(ctx, func(tx truce.ReadTx) (err error) {
			if hv, err = versions(tx); err != nil {
				return err
			}
			hcur, err = tx.Document(ref.Collection, ref.ID)
			return err
		}); err != nil {
			t.Fatalf("%v: %v", ref, err)
		}
		for len(wv) > 0 && wv[0].Seq > seq { // newest first
			wv = wv[1:]
		}
		if diff := cmp.Diff(wv, hv); diff != "" {
			t.Errorf("%v: versions differ (-original at seq +restored):\n%s", ref, diff)
		}
		if len(wv) > 0 {
			if diff := cmp.Diff(wv[0], hcur); diff != "" {
				t.Errorf("%v: current document differs (-original at seq +restored):\n%s", ref, diff)
			}
		}
	}
	var wc, hc []*truce.Conflict
	conflicts := func(s truce.Store, out *[]*truce.Conflict) {
		if err := s.View(ctx, func(tx truce.ReadTx) (err error) {
			*out, err = tx.Conflicts(truce.ConflictFilter{}, "", 1000)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	conflicts(orig, &wc)
	conflicts(got, &hc)
	if len(wc) != 2 {
		t.Errorf("the original has %d conflicts, want 2", len(wc))
	}
	if diff := cmp.Diff(wc, hc, cmp.AllowUnexported(truce.Conflict{})); diff != "" {
		t.Errorf("conflicts differ (-original +restored):\n%s", diff)
	}
}

// TestRestoreRefusesACorruptBackup changes one byte of one file of a
// backup: the restore refuses it, names the file, and writes nothing.
func TestRestoreRefusesACorruptBackup(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	svc := truce.NewService(s, truce.Options{})
	for i := range 50 {
		mustPut(t, svc, "notes", fmt.Sprintf("n%d", i), `{"title":"hello"}`, 0)
	}
	dir := filepath.Join(t.TempDir(), "b")
	m, err := s.Backup(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(dir, nil); err != nil {
		t.Fatalf("Verify of a fresh backup: %v", err)
	}
	// The largest file: a table or a log with documents in it.
	f := m.Files[0]
	for _, g := range m.Files {
		if g.Size > f.Size {
			f = g
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(f.Path))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	// A hard link shares its bytes with the live store: write a new file.
	os.Remove(p)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "restored")
	_, err = backup.Restore(dir, to, nil)
	if !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("Restore of a corrupt backup: %v, want ErrCorrupt", err)
	}
	t.Logf("refused: %v", err)
	if _, serr := os.Stat(to); !os.IsNotExist(serr) {
		t.Errorf("the refused restore left %s behind (%v)", to, serr)
	}
}

// TestBackupRefusesATargetInUse: a directory that holds anything is not
// a backup target, and the refusal writes nothing into it.
func TestBackupRefusesATargetInUse(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	defer s.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Backup(context.Background(), dir)
	if truce.ErrorCode(err) != truce.CodeInvalidBackupTarget {
		t.Fatalf("Backup into a non-empty directory: %v, want invalid_backup_target", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("the refused backup wrote into the directory: %v", ents)
	}
	if _, err := backup.Restore(dir, filepath.Join(t.TempDir(), "r"), nil); !errors.Is(err, backup.ErrIncomplete) {
		t.Errorf("Restore from a directory without a manifest: %v, want ErrIncomplete", err)
	}
}

var _ truce.BackupStore = (*pebble.Store)(nil)
