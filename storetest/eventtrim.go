package storetest

import (
	"testing"

	"github.com/trucedb/truce"
)

var eventTrimTests = []test{
	{"TrimEvents", testTrimEvents},
	{"TrimEvents/PastLastSeq", testTrimEventsPastLast},
}

// appendEvents commits n events, one Update each, and returns their seqs.
func appendEvents(h *harness, n int) []int64 {
	h.t.Helper()
	var seqs []int64
	for range n {
		h.update(func(tx truce.Tx) error {
			seq, err := tx.NextSeq()
			if err != nil {
				return err
			}
			seqs = append(seqs, seq)
			return tx.AppendEvent(&truce.Event{Seq: seq, Type: truce.EventDocumentCreated, Collection: "c",
				ID: "x" + itoa(seq), Version: 1, ETag: truce.FormatETag(1, seq), Time: at(int(seq))})
		})
	}
	return seqs
}

func eventSeqs(t *testing.T, tx truce.ReadTx, after int64) []int64 {
	t.Helper()
	evs, err := tx.Events(after, 1000)
	check(t, "Events", err)
	var seqs []int64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

func testTrimEvents(t *testing.T, h *harness) {
	h.read(func(tx truce.ReadTx) error {
		n, err := tx.EventsTrimmed()
		check(t, "EventsTrimmed", err)
		diff(t, "EventsTrimmed of a new store", int64(0), n)
		return nil
	})
	appendEvents(h, 6)
	h.update(func(tx truce.Tx) error {
		check(t, "TrimEvents", tx.TrimEvents(3))
		n, err := tx.EventsTrimmed()
		check(t, "EventsTrimmed in the trimming Update", err)
		diff(t, "EventsTrimmed in the trimming Update", int64(3), n)
		return nil
	})
	h.update(func(tx truce.Tx) error { return tx.TrimEvents(2) }) // lower: no change
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		n, err := tx.EventsTrimmed()
		check(t, "EventsTrimmed", err)
		diff(t, "EventsTrimmed after reopen", int64(3), n)
		diff(t, "events after a trim", []int64{4, 5, 6}, eventSeqs(t, tx, 0))
		return nil
	})
	appendEvents(h, 1)
	h.update(func(tx truce.Tx) error { return tx.TrimEvents(7) })
	h.read(func(tx truce.ReadTx) error {
		n, err := tx.EventsTrimmed()
		check(t, "EventsTrimmed", err)
		diff(t, "EventsTrimmed after trimming everything", int64(7), n)
		if seqs := eventSeqs(t, tx, 0); len(seqs) != 0 {
			t.Errorf("events after trimming everything: %v", seqs)
		}
		diff(t, "LastSeq after trimming everything", int64(7), lastSeq(t, tx))
		return nil
	})
	diff(t, "seqs after a trim", []int64{8}, appendEvents(h, 1))
}

func testTrimEventsPastLast(t *testing.T, h *harness) {
	appendEvents(h, 2)
	err := h.store.Update(ctx(t), func(tx truce.Tx) error { return tx.TrimEvents(3) })
	if err == nil {
		t.Fatal("TrimEvents past LastSeq succeeded")
	}
	h.read(func(tx truce.ReadTx) error {
		diff(t, "events after a refused trim", []int64{1, 2}, eventSeqs(t, tx, 0))
		return nil
	})
}
