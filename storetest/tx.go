package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/trucedb/truce"
)

var txTests = []test{
	{"Update/FailureAppliesNothing", testUpdateFailure},
	{"Update/ReadsOwnWrites", testUpdateOwnWrites},
	{"View/Snapshot", testViewSnapshot},
	{"View/ErrorReturned", testViewError},
	{"Reopen", testReopen},
	{"Ping", testPing},
	{"Close", testClose},
	{"CanceledContext", testCanceledContext},
	{"TxAfterReturn", testTxAfterReturn},
}

// writeEverything writes one record of every kind: collection c, document
// c/x, a unique entry, a reference and an event.
func writeEverything(tx truce.Tx, c string) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	if err := tx.PutCollection(collection(c, seq)); err != nil {
		return err
	}
	if err := tx.PutDocument(doc(c, "x", 1, seq)); err != nil {
		return err
	}
	if err := tx.PutUnique(c, "f", []byte(`"v"`), "x"); err != nil {
		return err
	}
	if err := tx.PutReference(ref(c, "x", "f", c, "y")); err != nil {
		return err
	}
	return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentCreated, Collection: c, ID: "x",
		Version: 1, ETag: truce.FormatETag(1, seq), Time: at(int(seq))})
}

// present reports which of the records of writeEverything(c) exist.
func present(t *testing.T, tx truce.ReadTx, c string) []string {
	t.Helper()
	var out []string
	if _, err := tx.Collection(c); err == nil {
		out = append(out, "collection")
	}
	if _, err := tx.Document(c, "x"); err == nil {
		out = append(out, "document")
	}
	if _, err := tx.Version(c, "x", 1); err == nil {
		out = append(out, "version")
	}
	if docs, err := tx.Documents(c, "", 10); err == nil && len(docs) > 0 {
		out = append(out, "listed")
	}
	if _, err := tx.UniqueHolder(c, "f", []byte(`"v"`)); err == nil {
		out = append(out, "unique")
	}
	if refs, err := tx.Referrers(c, "y", 10); err == nil && len(refs) > 0 {
		out = append(out, "reference")
	}
	if evs, err := tx.Events(0, 100); err == nil {
		for _, e := range evs {
			if e.Collection == c {
				out = append(out, "event")
			}
		}
	}
	return out
}

var everything = []string{"collection", "document", "version", "listed", "unique", "reference", "event"}

// failure is an error type that callers find with errors.As.
type failure struct{ n int }

func (f *failure) Error() string { return fmt.Sprintf("failure %d", f.n) }

func testUpdateFailure(t *testing.T, h *harness) {
	h.update(func(tx truce.Tx) error { return writeEverything(tx, "kept") })
	for _, want := range []error{
		errors.New("plain"),
		&failure{7},
		truce.Errorf(truce.CodeVersionConflict, "stale"),
		fmt.Errorf("wrapped: %w", truce.ErrNoRecord),
	} {
		var inside []string
		err := h.store.Update(ctx(t), func(tx truce.Tx) error {
			if err := writeEverything(tx, "lost"); err != nil {
				return err
			}
			if err := tx.DropCollection("kept"); err != nil {
				return err
			}
			inside = present(t, tx, "lost")
			return want
		})
		if err != want {
			t.Errorf("Update returned %v (%T), want its function's error %v unchanged", err, err, want)
		}
		diff(t, "records visible inside the failing Update", everything, inside)
		h.read(func(tx truce.ReadTx) error {
			diff(t, "records of a failed Update", []string(nil), present(t, tx, "lost"))
			diff(t, "records dropped by a failed Update", everything, present(t, tx, "kept"))
			return nil
		})
	}
	var f *failure
	if err := h.store.Update(ctx(t), func(truce.Tx) error { return &failure{3} }); !errors.As(err, &f) || f.n != 3 {
		t.Errorf("errors.As on Update's error found %v", f)
	}
}

func testUpdateOwnWrites(t *testing.T, h *harness) {
	h.put(doc("c", "b", 1, 1), doc("c", "d", 1, 1))
	h.update(func(tx truce.Tx) error {
		if err := writeEverything(tx, "c"); err != nil {
			return err
		}
		diff(t, "records visible to the Update that wrote them", everything, present(t, tx, "c"))
		// Iterators merge the Update's writes with what was committed.
		if err := tx.PutDocument(tombstone("c", "b", 2, 2)); err != nil {
			return err
		}
		if err := tx.PutDocument(doc("c", "a", 1, 2)); err != nil {
			return err
		}
		docs, err := tx.Documents("c", "", 10)
		check(t, "Documents", err)
		diff(t, "Documents merged with own writes", []string{"a", "d", "x"}, ids(docs))
		vs, err := tx.Versions("c", "b", 0, 10)
		check(t, "Versions", err)
		diff(t, "Versions merged with own writes", []int64{2, 1}, versions(vs))
		st, err := tx.CollectionStats("c")
		check(t, "CollectionStats", err)
		diff(t, "CollectionStats with own writes", truce.CollectionStats{Documents: 3, Deleted: 1}, st)
		cs, err := tx.Collections()
		check(t, "Collections", err)
		if len(cs) != 1 || cs[0].Name != "c" {
			t.Errorf("Collections with own writes = %v", cs)
		}
		return nil
	})
	h.read(func(tx truce.ReadTx) error {
		diff(t, "records after commit", everything, present(t, tx, "c"))
		docs, err := tx.Documents("c", "", 10)
		check(t, "Documents", err)
		diff(t, "Documents after commit", []string{"a", "d", "x"}, ids(docs))
		return nil
	})
}

func testViewSnapshot(t *testing.T, h *harness) {
	h.put(doc("c", "a", 1, 1), doc("c", "b", 1, 1))
	h.view(func(tx truce.ReadTx) error {
		a, err := tx.Document("c", "a")
		check(t, "Document", err)
		// Another transaction commits while this one is open.
		h.update(func(tx truce.Tx) error {
			if err := tx.PutDocument(doc("c", "a", 2, 2)); err != nil {
				return err
			}
			if err := tx.PutDocument(doc("c", "b", 2, 2)); err != nil {
				return err
			}
			return tx.PutDocument(doc("c", "new", 1, 2))
		})
		b, err := tx.Document("c", "b")
		check(t, "Document", err)
		if a.Version != b.Version {
			t.Errorf("a View saw a at version %d and b at version %d, written together", a.Version, b.Version)
		}
		docs, err := tx.Documents("c", "", 10)
		check(t, "Documents", err)
		diff(t, "Documents in a View opened before the Update", []string{"a", "b"}, ids(docs))
		return nil
	})
	h.view(func(tx truce.ReadTx) error {
		b, err := tx.Document("c", "b")
		check(t, "Document", err)
		diff(t, "b in a later View", int64(2), b.Version)
		return nil
	})
}

func testViewError(t *testing.T, h *harness) {
	want := &failure{1}
	if err := h.store.View(ctx(t), func(truce.ReadTx) error { return want }); err != want {
		t.Errorf("View = %v, want its function's error unchanged", err)
	}
}

func testReopen(t *testing.T, h *harness) {
	h.update(func(tx truce.Tx) error { return writeEverything(tx, "c") })
	h.update(func(tx truce.Tx) error { return writeEverything(tx, "d") })
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		diff(t, "records of c after reopen", everything, present(t, tx, "c"))
		diff(t, "records of d after reopen", everything, present(t, tx, "d"))
		diff(t, "LastSeq after reopen", int64(2), lastSeq(t, tx))
		return nil
	})
	h.reopen() // reopening an unchanged store changes nothing
	diff(t, "seq after two reopens", []int64{3}, allocate(h, 1))
}

func testPing(t *testing.T, h *harness) {
	if err := h.store.Ping(ctx(t)); err != nil {
		t.Errorf("Ping of an open store: %v", err)
	}
}

func testClose(t *testing.T, h *harness) {
	h.update(func(tx truce.Tx) error { return writeEverything(tx, "c") })
	s := h.store
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h.store = nil
	c := ctx(t)
	ran := false
	if err := s.View(c, func(truce.ReadTx) error { ran = true; return nil }); err == nil {
		t.Error("View after Close succeeded")
	}
	if err := s.Update(c, func(truce.Tx) error { ran = true; return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
	if ran {
		t.Error("a transaction ran after Close")
	}
	if err := s.Ping(c); err == nil {
		t.Error("Ping after Close succeeded")
	}
	h.store = h.open(t, h.dir)
	h.read(func(tx truce.ReadTx) error {
		diff(t, "records after Close and open", everything, present(t, tx, "c"))
		return nil
	})
}

func testCanceledContext(t *testing.T, h *harness) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	// A store may refuse to start, or run the transaction to the end; it may
	// not commit half of it or report success for what it did not commit.
	err := h.store.Update(c, func(tx truce.Tx) error { return writeEverything(tx, "c") })
	h.read(func(tx truce.ReadTx) error {
		got := present(t, tx, "c")
		switch {
		case err == nil:
			diff(t, "records of an Update that succeeded with a canceled context", everything, got)
		case len(got) != 0 && len(got) != len(everything):
			t.Errorf("an Update with a canceled context applied part of its writes: %v", got)
		}
		return nil
	})
}

// testTxAfterReturn checks that a tx kept past its function, which the
// contract forbids, fails or panics without changing the store.
func testTxAfterReturn(t *testing.T, h *harness) {
	h.put(doc("c", "x", 1, 1))
	var wtx truce.Tx
	var rtx truce.ReadTx
	h.update(func(tx truce.Tx) error { wtx = tx; return nil })
	h.view(func(tx truce.ReadTx) error {
		rtx = tx
		_, err := tx.Document("c", "x")
		return err
	})
	misuse := func(f func() error) {
		defer func() { _ = recover() }()
		_ = f()
	}
	misuse(func() error { return wtx.PutDocument(doc("c", "x", 2, 2)) })
	misuse(func() error { return wtx.PutDocument(doc("c", "late", 1, 2)) })
	misuse(func() error { _, err := wtx.NextSeq(); return err })
	misuse(func() error { _, err := rtx.Document("c", "x"); return err })
	misuse(func() error { _, err := rtx.Documents("c", "", 10); return err })
	h.read(func(tx truce.ReadTx) error {
		d, err := tx.Document("c", "x")
		check(t, "Document", err)
		diff(t, "document after misuse of an ended tx", doc("c", "x", 1, 1), d)
		_, err = tx.Document("c", "late")
		noRecord(t, "document written by an ended tx", err)
		diff(t, "LastSeq after misuse of an ended tx", int64(0), lastSeq(t, tx))
		return nil
	})
	diff(t, "seq after misuse of an ended tx", []int64{1}, allocate(h, 1))
}
