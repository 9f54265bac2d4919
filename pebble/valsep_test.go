package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

func TestSpanPolicyCoversEveryTag(t *testing.T) {
	// Walk the key space from its start the way Pebble does: each policy
	// holds up to its end key, where the next one starts.
	var start []byte
	var spans []string
	for i := 0; i < 10; i++ {
		p, end, err := spanPolicy(start)
		if err != nil {
			t.Fatal(err)
		}
		if !p.DisableValueSeparationBySuffix {
			t.Errorf("span from %q: suffix rule on", start)
		}
		spans = append(spans, fmt.Sprintf("%q-%q:%d", start, end, p.ValueStoragePolicy))
		if end == nil {
			break
		}
		if bytes.Compare(end, start) <= 0 {
			t.Fatalf("span from %q ends at %q", start, end)
		}
		start = end
	}
	t.Logf("spans: %v", spans)
	for tag := 0; tag < 256; tag++ {
		key := []byte{byte(tag), sep, 'x'}
		p, end, _ := spanPolicy(key)
		want := tag == tagEvent || tag == tagVersion
		if got := p.ValueStoragePolicy != pebble.ValueStorageLowReadLatency; got != want {
			t.Errorf("tag %q: separated %v, want %v", byte(tag), got, want)
		}
		if end != nil && bytes.Compare(end, key) <= 0 {
			t.Errorf("tag %q: span ends at %q, before the key", byte(tag), end)
		}
	}
}

// largeBody is version v of the documents of the blob-file tests: large
// enough to go to a blob file.
func largeBody(v int64) []byte {
	return fmt.Appendf(nil, `{"v":%d,"text":"%s"}`, v, bytes.Repeat([]byte("lorem ipsum "), 80))
}

// putLargeVersion writes version v of c/d, with largeBody(v) and seq v on a
// store where nothing else takes a seq, and, if event, its change-log event.
func putLargeVersion(tx truce.Tx, v int64, event bool) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	d := &truce.Document{Collection: "c", ID: "d", Version: v, Seq: seq, Body: largeBody(v), UpdatedAt: testTime, CreatedAt: testTime}
	if err := tx.PutDocument(d); err != nil || !event {
		return err
	}
	return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentUpdated, Collection: "c", ID: "d", Version: v, Document: d.Body, Time: testTime})
}

// checkVersions checks that the versions of c/d from from to to read back
// whole, and that those below keptFrom are gone.
func checkVersions(t *testing.T, tx truce.ReadTx, from, keptFrom, to int64) error {
	t.Helper()
	for v := from; v <= to; v++ {
		d, err := tx.Version("c", "d", v)
		if v < keptFrom {
			if !errors.Is(err, truce.ErrNoRecord) {
				t.Errorf("trimmed version %d: %v, %v", v, d, err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(d.Body, largeBody(v)) {
			t.Errorf("version %d: body %.40s", v, d.Body)
		}
	}
	return nil
}

// compactAll compacts the whole key space of s.
func compactAll(t *testing.T, s *Store) {
	t.Helper()
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		t.Fatal(err)
	}
}

// TestVersionsAndEventsGoToBlobFiles writes large documents, flushes them
// to tables, and checks that their versions and events went to blob files
// and read back whole, before and after a reopen, while the current
// documents stay in place.
func TestVersionsAndEventsGoToBlobFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const versions = 50
	mustUpdate(t, s, func(tx truce.Tx) error {
		return tx.PutCollection(&truce.Collection{Name: "c", CreatedAt: testTime, UpdatedAt: testTime})
	})
	for v := int64(1); v <= versions; v++ {
		mustUpdate(t, s, func(tx truce.Tx) error { return putLargeVersion(tx, v, true) })
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := s.db.Metrics(); m.BlobFiles.LiveCount == 0 {
		t.Fatalf("no blob files after a flush of %d large versions and events:\n%s", versions, m)
	}
	// The versions and events from keptFrom on are kept; trimming and a
	// compaction below raise it.
	keptFrom := int64(1)
	check := func(s *Store) {
		t.Helper()
		err := s.View(ctx, func(tx truce.ReadTx) error {
			cur, err := tx.Document("c", "d")
			if err != nil {
				return err
			}
			if cur.Version != versions || !bytes.Equal(cur.Body, largeBody(versions)) {
				t.Errorf("current document: version %d, body %.40s", cur.Version, cur.Body)
			}
			if err := checkVersions(t, tx, 1, keptFrom, versions); err != nil {
				return err
			}
			evs, err := tx.Events(0, 2*versions)
			if err != nil {
				return err
			}
			if want := versions - int(keptFrom) + 1; len(evs) != want {
				t.Fatalf("%d events, want %d", len(evs), want)
			}
			for _, e := range evs {
				// Version v was written with seq v.
				if e.Seq < keptFrom || !bytes.Equal(e.Document, largeBody(e.Seq)) {
					t.Errorf("event %d: document %.40s", e.Seq, e.Document)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(s)

	// Trim the older half of the history and of the change log, compact
	// everything, and read what is kept through the rewritten tables.
	keptFrom = versions/2 + 1
	mustUpdate(t, s, func(tx truce.Tx) error {
		if err := tx.TrimVersions("c", "d", keptFrom); err != nil {
			return err
		}
		return tx.TrimEvents(keptFrom - 1)
	})
	compactAll(t, s)
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}

var testTime = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

// TestBlobFileRewrite trims most of a document's history after its
// versions went to blob files, and checks that Pebble rewrites the blob
// files to drop the garbage and that every kept version still reads back,
// before and after a reopen. The rewrite age is zero here; in a server it
// is blobRewriteAge.
func TestBlobFileRewrite(t *testing.T) {
	defer func(age time.Duration) { blobRewriteAge = age }(blobRewriteAge)
	blobRewriteAge = 0
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const versions, keptFrom = 400, 381
	for v := int64(1); v <= versions; v++ {
		mustUpdate(t, s, func(tx truce.Tx) error { return putLargeVersion(tx, v, false) })
		if v%100 == 0 { // several blob files
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustUpdate(t, s, func(tx truce.Tx) error { return tx.TrimVersions("c", "d", keptFrom) })
	compactAll(t, s)
	deadline := time.Now().Add(20 * time.Second)
	for s.db.Metrics().Compact.BlobFileRewriteCount == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if m := s.db.Metrics(); m.Compact.BlobFileRewriteCount == 0 {
		t.Fatalf("no blob file was rewritten after %d of %d versions were trimmed:\n%s", keptFrom-1, versions, m)
	}
	check := func(s *Store) {
		t.Helper()
		err := s.View(ctx, func(tx truce.ReadTx) error { return checkVersions(t, tx, keptFrom-3, keptFrom, versions) })
		if err != nil {
			t.Fatal(err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
}
