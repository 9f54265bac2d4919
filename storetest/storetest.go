// Package storetest is the conformance suite for truce.Store: one set of
// tests, run against every backend on real storage, that checks every
// method of ReadTx and Tx and every promise of the Store contract
// (atomicity, read-your-writes, snapshots, seq allocation, durability across
// a reopen, serializability under concurrency). Some promises are only
// seen through the rules built on the Store: the queries and secondary
// indexes are checked through a truce.Service over the store under test
// (query.go), against a model.
//
// A backend's test calls Run with a function that opens the store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, dir string) truce.Store {
//			s, err := pebble.Open(dir, pebble.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
package storetest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
)

// Run runs the suite. Each subtest calls open with a fresh directory from
// t.TempDir and closes the store when it ends. open must return an empty
// store for a directory it has not seen, and the same data again when it is
// called with a directory whose previous store was closed: that is how the
// suite checks durability. A backend that keeps no files (a database server)
// can use dir as the name of its database or schema.
//
// Records must come back exactly as they were stored: bodies and other byte
// strings byte for byte (nil stays nil), times to the microsecond.
// Documents, collections and references are ordered by the bytes of their
// names and ids.
func Run(t *testing.T, open func(t *testing.T, dir string) truce.Store) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newHarness(t, open))
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, h *harness)
}

// tests lists every subtest, in the files named for what they check.
var tests = concat(
	collectionTests,
	documentTests,
	indexTests,
	secondaryIndexTests,
	queryTests,
	eventTests,
	eventTrimTests,
	txTests,
	concurrencyTests,
	idempotencyTests,
	conflictTests,
	lockTests,
	lockQueueTests,
	transactionTests,
	expiryTests,
)

func concat(lists ...[]test) []test {
	var all []test
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// harness holds the store under test and the means to reopen it.
type harness struct {
	t     *testing.T
	open  func(t *testing.T, dir string) truce.Store
	dir   string
	store truce.Store
}

func newHarness(t *testing.T, open func(t *testing.T, dir string) truce.Store) *harness {
	h := &harness{t: t, open: open, dir: t.TempDir()}
	h.store = open(t, h.dir)
	t.Cleanup(func() {
		if h.store != nil {
			if err := h.store.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return h
}

// reopen closes the store and opens it again on the same directory.
func (h *harness) reopen() {
	h.t.Helper()
	if err := h.store.Close(); err != nil {
		h.t.Fatalf("Close: %v", err)
	}
	h.store = nil
	h.store = h.open(h.t, h.dir)
}

// update runs fn in an Update that must succeed.
func (h *harness) update(fn func(tx truce.Tx) error) {
	h.t.Helper()
	if err := h.store.Update(ctx(h.t), fn); err != nil {
		h.t.Fatalf("Update: %v", err)
	}
}

// view runs fn in a View that must succeed.
func (h *harness) view(fn func(tx truce.ReadTx) error) {
	h.t.Helper()
	if err := h.store.View(ctx(h.t), fn); err != nil {
		h.t.Fatalf("View: %v", err)
	}
}

// read runs fn in a View and then in an Update that writes nothing, so
// that every read is checked in both kinds of transaction.
func (h *harness) read(fn func(tx truce.ReadTx) error) {
	h.t.Helper()
	h.view(fn)
	h.update(func(tx truce.Tx) error { return fn(tx) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// base is a fixed instant with microseconds, so that a store that loses
// precision below them fails. Stores need not keep nanoseconds (PostgreSQL
// does not); truce shows milliseconds.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func at(seconds int) time.Time { return base.Add(time.Duration(seconds) * time.Second) }

// doc returns a live document with a body that records its version. Odd
// versions name their writer, even ones do not, as versions written
// before truce recorded writers.
func doc(col, id string, version, seq int64) *truce.Document {
	return &truce.Document{
		Collection: col, ID: id, Version: version, Seq: seq,
		CreatedAt: at(0), UpdatedAt: at(int(version)), UpdatedBy: writer(version),
		Body: []byte(`{"v":` + itoa(version) + `,"id":"` + id + `"}`),
	}
}

func tombstone(col, id string, version, seq int64) *truce.Document {
	return &truce.Document{
		Collection: col, ID: id, Version: version, Seq: seq,
		CreatedAt: at(0), UpdatedAt: at(int(version)), UpdatedBy: writer(version), Deleted: true,
	}
}

func writer(version int64) string {
	if version%2 == 0 {
		return ""
	}
	return "writer-" + itoa(version)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// put writes documents in one Update.
func (h *harness) put(docs ...*truce.Document) {
	h.t.Helper()
	h.update(func(tx truce.Tx) error {
		for _, d := range docs {
			if err := tx.PutDocument(d); err != nil {
				return err
			}
		}
		return nil
	})
}

// diff fails the test if got differs from want. Times compare with Equal.
func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// noRecord fails the test unless err is ErrNoRecord.
func noRecord(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, truce.ErrNoRecord) {
		t.Errorf("%s: got error %v, want ErrNoRecord", what, err)
	}
}

// check fails the test at once on an unexpected error.
func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func ids(docs []*truce.Document) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

func versions(docs []*truce.Document) []int64 {
	out := []int64{}
	for _, d := range docs {
		out = append(out, d.Version)
	}
	return out
}
