package pebble

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/trucedb/truce"
)

// gatedFS holds back every sync of a WAL file while its gate is closed, so
// that a test can keep a commit visible but not durable.
type gatedFS struct {
	vfs.FS
	mu     sync.Mutex
	closed bool
	open   chan struct{} // closed when the gate opens
}

func newGatedFS() *gatedFS { return &gatedFS{FS: vfs.Default} }

func (fs *gatedFS) close() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.closed, fs.open = true, make(chan struct{})
}

func (fs *gatedFS) release() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		fs.closed = false
		close(fs.open)
	}
}

func (fs *gatedFS) pass() {
	fs.mu.Lock()
	closed, open := fs.closed, fs.open
	fs.mu.Unlock()
	if closed {
		<-open
	}
}

func (fs *gatedFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return gatedFile{File: f, fs: fs}, nil
}

func (fs *gatedFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs *gatedFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

type gatedFile struct {
	vfs.File
	fs *gatedFS
}

func (f gatedFile) Sync() error     { f.fs.pass(); return f.File.Sync() }
func (f gatedFile) SyncData() error { f.fs.pass(); return f.File.SyncData() }
func (f gatedFile) SyncTo(n int64) (bool, error) {
	f.fs.pass()
	return f.File.SyncTo(n)
}

func testDoc(id string, version, seq int64) *truce.Document {
	return &truce.Document{Collection: "c", ID: id, Version: version, Seq: seq, Body: []byte(`{}`)}
}

// put commits d with a fresh seq, as the Service does.
func put(ctx context.Context, s *Store, d *truce.Document) error {
	return s.Update(ctx, func(tx truce.Tx) error {
		seq, err := tx.NextSeq()
		if err != nil {
			return err
		}
		d.Seq = seq
		return tx.PutDocument(d)
	})
}

// returnsWithin reports whether f returns within d, and its error.
func returnsWithin(d time.Duration, f func() error) (bool, error) {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// TestNothingUndurableIsReported keeps a commit visible but unsynced and
// checks which reads wait for it.
func TestNothingUndurableIsReported(t *testing.T) {
	fs := newGatedFS()
	s, err := open(t.TempDir(), Options{}, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := put(ctx, s, testDoc("old", 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx truce.Tx) error { return tx.PutCollection(&truce.Collection{Name: "gone"}) }); err != nil {
		t.Fatal(err)
	}

	fs.close()
	defer fs.release()
	committed := make(chan error, 2)
	go func() { committed <- put(ctx, s, testDoc("new", 1, 0)) }()
	// Wait until the commit is visible: the Update is then in its fsync.
	for {
		if _, closer, err := s.db.Get(docKey(nil, "c", "new")); err == nil {
			closer.Close()
			break
		}
		time.Sleep(time.Millisecond)
	}
	// A second writer is not held up by the first one's fsync.
	go func() {
		committed <- s.Update(ctx, func(tx truce.Tx) error { return tx.DropCollection("gone") })
	}()
	for {
		_, closer, err := s.db.Get(collectionKey(nil, "gone"))
		if err != nil {
			break
		}
		closer.Close()
		time.Sleep(time.Millisecond)
	}

	read := func(fn func(truce.ReadTx) error) func() error {
		return func() error { return s.View(ctx, fn) }
	}
	readDoc := func(id string) func(truce.ReadTx) error {
		return func(tx truce.ReadTx) error { _, err := tx.Document("c", id); return err }
	}
	fast := []struct {
		name string
		fn   func(truce.ReadTx) error
	}{
		{"a durable document", readDoc("old")},
		{"nothing", func(truce.ReadTx) error { return nil }},
	}
	for _, c := range fast {
		if ok, err := returnsWithin(5*time.Second, read(c.fn)); !ok || err != nil {
			t.Errorf("reading %s while a commit syncs: returned %v, err %v", c.name, ok, err)
		}
	}
	slow := []struct {
		name string
		fn   func(truce.ReadTx) error
	}{
		{"an unsynced document", readDoc("new")},
		{"an absence", readDoc("never")},
		{"a scan", func(tx truce.ReadTx) error { _, err := tx.Documents("c", "", 10); return err }},
		{"an unsynced drop", func(tx truce.ReadTx) error { _, err := tx.Collection("gone"); return err }},
		{"the unsynced seq", func(tx truce.ReadTx) error { _, err := tx.LastSeq(); return err }},
	}
	for _, c := range slow {
		if ok, _ := returnsWithin(50*time.Millisecond, read(c.fn)); ok {
			t.Errorf("reading %s returned before the commit was durable", c.name)
		}
		// An Update that reads it and fails waits too, and honours ctx.
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		err := s.Update(short, func(tx truce.Tx) error { _ = c.fn(tx); return errors.New("fail") })
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a failing Update that read %s returned %v, want to time out waiting for durability", c.name, err)
		}
	}

	// Store.Document answers a durable document from the cache at once,
	// and waits for an unsynced one, or an absence, like a View.
	document := func(id string) func() error {
		return func() error { _, err := s.Document(ctx, "c", id); return err }
	}
	if ok, err := returnsWithin(5*time.Second, document("old")); !ok || err != nil {
		t.Errorf("Store.Document of a durable document while a commit syncs: returned %v, err %v", ok, err)
	}
	if s.cachedDocument(docKey(nil, "c", "new")) == nil {
		t.Error("the unsynced document is not in the committed cache, so Store.Document's cached path goes untested")
	}
	for _, id := range []string{"new", "never"} {
		if ok, _ := returnsWithin(50*time.Millisecond, document(id)); ok {
			t.Errorf("Store.Document(c, %s) returned before the commit was durable", id)
		}
	}

	waiting := make(chan error, 1)
	go func() {
		waiting <- s.View(ctx, func(tx truce.ReadTx) error {
			d, err := tx.Document("c", "new")
			if err == nil && d.Version != 1 {
				err = errors.New("wrong document")
			}
			return err
		})
	}()
	fs.release()
	for range 2 {
		if err := <-committed; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	if err := <-waiting; err != nil {
		t.Errorf("View of the document once durable: %v", err)
	}
	if !s.durable.covers(s.seq, s.visibleCommit.Load()) {
		t.Errorf("after every sync, the watermark is %d/%d, want %d/%d",
			s.durable.seq.Load(), s.durable.commit.Load(), s.seq, s.visibleCommit.Load())
	}
}

// TestGroupCommit checks that writers blocked on one fsync all return
// together once it completes, rather than each waiting in turn.
func TestGroupCommit(t *testing.T) {
	fs := newGatedFS()
	s, err := open(t.TempDir(), Options{}, fs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	fs.close()
	const writers = 16
	done := make(chan error, writers)
	for i := range writers {
		go func() { done <- put(ctx, s, testDoc("d"+itoa(i), 1, 0)) }()
	}
	// Every writer gets to apply its batch while the first fsync is held.
	deadline := time.Now().Add(5 * time.Second)
	for s.visibleCommit.Load() < writers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := s.visibleCommit.Load(); got != writers {
		t.Fatalf("%d of %d writers applied while an fsync was pending", got, writers)
	}
	fs.release()
	for range writers {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// TestClose checks that Close waits for a transaction in progress, and that
// the store refuses work afterwards.
func TestClose(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	inside, finish := make(chan struct{}), make(chan struct{})
	viewed := make(chan error, 1)
	go func() {
		viewed <- s.View(t.Context(), func(tx truce.ReadTx) error {
			close(inside)
			<-finish
			_, err := tx.Document("c", "x")
			if errors.Is(err, truce.ErrNoRecord) {
				err = nil
			}
			return err
		})
	}()
	<-inside
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a View was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	if err := <-viewed; err != nil {
		t.Errorf("View during Close: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.View(t.Context(), func(truce.ReadTx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if truce.ErrorCode(ErrClosed) != truce.CodeUnavailable {
		t.Errorf("ErrClosed has code %s", truce.ErrorCode(ErrClosed))
	}
}
