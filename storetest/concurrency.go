package storetest

import (
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/trucedb/truce"
)

var concurrencyTests = []test{
	{"Concurrency/Counter", testCounter},
	{"Concurrency/Seq", testConcurrentSeq},
	{"Concurrency/Snapshots", testConcurrentSnapshots},
}

func counterBody(n int64) []byte { return []byte(`{"n":` + itoa(n) + `}`) }

func counterValue(body []byte) (int64, error) {
	s := string(body)
	if len(s) < 6 || s[:5] != `{"n":` || s[len(s)-1] != '}' {
		return 0, errors.New("malformed counter " + s)
	}
	return strconv.ParseInt(s[5:len(s)-1], 10, 64)
}

// increment is a read-modify-write of a counter document, as the Service
// does it: read, allocate a seq, write the next version and its event.
func increment(tx truce.Tx, id string) error {
	var version, n int64
	cur, err := tx.Document("ctr", id)
	switch {
	case errors.Is(err, truce.ErrNoRecord):
	case err != nil:
		return err
	default:
		version = cur.Version
		if n, err = counterValue(cur.Body); err != nil {
			return err
		}
	}
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	d := &truce.Document{Collection: "ctr", ID: id, Version: version + 1, Seq: seq,
		CreatedAt: at(0), UpdatedAt: at(0), Body: counterBody(n + 1)}
	if err := tx.PutDocument(d); err != nil {
		return err
	}
	return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentUpdated, Collection: "ctr", ID: id,
		Version: d.Version, ETag: d.ETag(), Time: d.UpdatedAt, Document: d.AppendJSON(nil)})
}

// testCounter checks that concurrent read-modify-write Updates lose no
// update: the counter ends at the number of increments, its versions are
// contiguous, and the change log holds one event per increment in seq order.
func testCounter(t *testing.T, h *harness) {
	const workers, each = 32, 20
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := h.store.Update(ctx(t), func(tx truce.Tx) error { return increment(tx, "n") }); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = workers * each
	h.read(func(tx truce.ReadTx) error {
		d, err := tx.Document("ctr", "n")
		check(t, "Document", err)
		n, err := counterValue(d.Body)
		check(t, "counter", err)
		if n != total || d.Version != total {
			t.Errorf("after %d increments the counter is %d at version %d", total, n, d.Version)
		}
		vs, err := tx.Versions("ctr", "n", 0, 2*total)
		check(t, "Versions", err)
		if len(vs) != total {
			t.Fatalf("%d versions stored, want %d", len(vs), total)
		}
		for i, v := range vs {
			want := int64(total - i)
			if n, err := counterValue(v.Body); err != nil || v.Version != want || n != want {
				t.Fatalf("version %d of the counter is version %d with value %d (%v)", want, v.Version, n, err)
			}
		}
		evs, err := tx.Events(0, 2*total)
		check(t, "Events", err)
		if len(evs) != total {
			t.Fatalf("%d events, want %d", len(evs), total)
		}
		for i, e := range evs {
			// Updates are serializable and each allocates one seq, so seq
			// order is version order.
			if e.Seq != int64(i+1) || e.Version != e.Seq {
				t.Fatalf("event %d has seq %d and version %d", i+1, e.Seq, e.Version)
			}
		}
		diff(t, "LastSeq", int64(total), lastSeq(t, tx))
		return nil
	})
}

// testConcurrentSeq checks that seqs allocated by concurrent Updates, some
// of which fail, are distinct and, over the Updates that committed, exactly
// 1..N.
func testConcurrentSeq(t *testing.T, h *harness) {
	const workers, each = 16, 15
	errFail := errors.New("fail")
	var (
		mu   sync.Mutex
		seqs []int64
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var mine []int64
				fail := (w+i)%4 == 0
				err := h.store.Update(ctx(t), func(tx truce.Tx) error {
					mine = mine[:0] // the function may run more than once
					for range 1 + (w+i)%3 {
						seq, err := tx.NextSeq()
						if err != nil {
							return err
						}
						mine = append(mine, seq)
					}
					if fail {
						return errFail
					}
					return nil
				})
				switch {
				case fail && err != errFail:
					t.Errorf("failing Update returned %v", err)
				case !fail && err != nil:
					t.Errorf("Update: %v", err)
				case !fail:
					mu.Lock()
					seqs = append(seqs, mine...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("committed seqs are not 1..%d: position %d holds %d (%v)", len(seqs), i+1, s, seqs)
		}
	}
	h.read(func(tx truce.ReadTx) error {
		diff(t, "LastSeq", int64(len(seqs)), lastSeq(t, tx))
		return nil
	})
}

// testConcurrentSnapshots checks that readers never see half of an Update:
// writers change two documents together, and every reader, in a View or in
// an Update, sees them equal, and never older than it saw before; nor does
// Store.Document ever go back to an older version.
func testConcurrentSnapshots(t *testing.T, h *harness) {
	const writers, writes, readers = 4, 15, 8
	h.update(func(tx truce.Tx) error {
		if err := increment(tx, "a"); err != nil {
			return err
		}
		return increment(tx, "b")
	})
	var (
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	for range writers {
		wg.Go(func() {
			for range writes {
				err := h.store.Update(ctx(t), func(tx truce.Tx) error {
					if err := increment(tx, "a"); err != nil {
						return err
					}
					return increment(tx, "b")
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	var rg sync.WaitGroup
	for r := range readers {
		rg.Go(func() {
			var last int64
			read := func(tx truce.ReadTx) error {
				a, err := tx.Document("ctr", "a")
				if err != nil {
					return err
				}
				docs, err := tx.Documents("ctr", "", 10)
				if err != nil {
					return err
				}
				if len(docs) != 2 || docs[0].ID != "a" || docs[1].ID != "b" {
					t.Errorf("Documents = %v, want a and b", ids(docs))
					return nil
				}
				b, err := tx.Document("ctr", "b")
				if err != nil {
					return err
				}
				if a.Version != b.Version || docs[0].Version != a.Version || docs[1].Version != a.Version {
					t.Errorf("one transaction saw a at %d, b at %d, and listed them at %d and %d",
						a.Version, b.Version, docs[0].Version, docs[1].Version)
				}
				if a.Version < last {
					t.Errorf("a reader saw version %d after version %d", a.Version, last)
				}
				last = a.Version
				return nil
			}
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				var err error
				switch (r + i) % 4 {
				case 0:
					err = h.store.Update(ctx(t), func(tx truce.Tx) error { return read(tx) })
				case 1:
					var a *truce.Document
					if a, err = h.store.Document(ctx(t), "ctr", "a"); err == nil {
						if a.Version < last {
							t.Errorf("Store.Document saw version %d after version %d", a.Version, last)
						}
						last = a.Version
					}
				default:
					err = h.store.View(ctx(t), read)
				}
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()
}
