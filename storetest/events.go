package storetest

import (
	"errors"
	"testing"

	"github.com/trucedb/truce"
)

var eventTests = []test{
	{"Seq/Fresh", testSeqFresh},
	{"NextSeq/Consecutive", testNextSeqConsecutive},
	{"NextSeq/NotConsumedOnFailure", testNextSeqFailure},
	{"Events", testEvents},
}

func lastSeq(t *testing.T, tx truce.ReadTx) int64 {
	t.Helper()
	seq, err := tx.LastSeq()
	check(t, "LastSeq", err)
	return seq
}

func testSeqFresh(t *testing.T, h *harness) {
	h.read(func(tx truce.ReadTx) error {
		if seq := lastSeq(t, tx); seq != 0 {
			t.Errorf("LastSeq of a new store = %d, want 0", seq)
		}
		evs, err := tx.Events(0, 10)
		check(t, "Events", err)
		if len(evs) != 0 {
			t.Errorf("Events of a new store = %v", evs)
		}
		return nil
	})
}

// allocate runs an Update that allocates n seqs and returns them.
func allocate(h *harness, n int) []int64 {
	h.t.Helper()
	var seqs []int64
	h.update(func(tx truce.Tx) error {
		seqs = seqs[:0]
		for range n {
			seq, err := tx.NextSeq()
			if err != nil {
				return err
			}
			seqs = append(seqs, seq)
		}
		return nil
	})
	return seqs
}

func testNextSeqConsecutive(t *testing.T, h *harness) {
	diff(t, "first seqs", []int64{1, 2, 3}, allocate(h, 3))
	h.read(func(tx truce.ReadTx) error {
		diff(t, "LastSeq", int64(3), lastSeq(t, tx))
		return nil
	})
	diff(t, "next seq", []int64{4}, allocate(h, 1))
	h.update(func(tx truce.Tx) error {
		diff(t, "LastSeq at the start of an Update", int64(4), lastSeq(t, tx))
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		diff(t, "LastSeq after reopen", int64(4), lastSeq(t, tx))
		return nil
	})
	diff(t, "seqs after reopen", []int64{5, 6}, allocate(h, 2))
}

func testNextSeqFailure(t *testing.T, h *harness) {
	allocate(h, 2)
	errFail := errors.New("fail")
	err := h.store.Update(ctx(t), func(tx truce.Tx) error {
		for range 3 {
			if _, err := tx.NextSeq(); err != nil {
				return err
			}
		}
		return errFail
	})
	if err != errFail {
		t.Fatalf("Update = %v, want the error of its function", err)
	}
	h.read(func(tx truce.ReadTx) error {
		diff(t, "LastSeq after a failed Update", int64(2), lastSeq(t, tx))
		return nil
	})
	diff(t, "seqs after a failed Update", []int64{3}, allocate(h, 1))
	h.reopen()
	diff(t, "seqs after reopen", []int64{4}, allocate(h, 1))
}

func testEvents(t *testing.T, h *harness) {
	d := doc("c", "x", 1, 1)
	var want []*truce.Event
	h.update(func(tx truce.Tx) error {
		for i, e := range []*truce.Event{
			{Type: truce.EventDocumentCreated, Collection: "c", ID: "x", Version: 1, Time: at(1), Document: d.AppendJSON(nil)},
			{Type: truce.EventDocumentUpdated, Collection: "c", ID: "x", Version: 2, Time: at(2), Document: []byte(`{"_id":"x"}`)},
			{Type: truce.EventDocumentDeleted, Collection: "c", ID: "x", Version: 3, Time: at(3)},
			{Type: "something.else", Collection: "cc", ID: "a:b@c", Version: 1, Time: at(4), ETag: `"custom"`},
		} {
			seq, err := tx.NextSeq()
			if err != nil {
				return err
			}
			if seq != int64(i+1) {
				t.Errorf("NextSeq = %d, want %d", seq, i+1)
			}
			e.Seq = seq
			if e.ETag == "" {
				e.ETag = truce.FormatETag(e.Version, e.Seq)
			}
			if err := tx.AppendEvent(e); err != nil {
				return err
			}
			want = append(want, e)
		}
		got, err := tx.Events(0, 100)
		check(t, "Events in the Update that appended them", err)
		diff(t, "events read in their own Update", want, got)
		return nil
	})
	allocate(h, 2) // seqs 5 and 6: committed writes without events
	h.update(func(tx truce.Tx) error {
		seq, err := tx.NextSeq()
		if err != nil {
			return err
		}
		e := &truce.Event{Seq: seq, Type: truce.EventDocumentCreated, Collection: "c", ID: "y", Version: 1,
			ETag: truce.FormatETag(1, seq), Time: at(7), Document: []byte(`{"_id":"y"}`)}
		want = append(want, e)
		return tx.AppendEvent(e)
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		for _, c := range []struct {
			after int64
			limit int
			want  []*truce.Event
		}{
			{0, 100, want},
			{-5, 100, want},
			{0, 2, want[:2]},
			{2, 2, want[2:4]},
			{4, 100, want[4:]},
			{5, 100, want[4:]},
			{7, 100, nil},
			{1000, 100, nil},
		} {
			got, err := tx.Events(c.after, c.limit)
			check(t, "Events", err)
			if len(got) == 0 && len(c.want) == 0 {
				continue
			}
			diff(t, "Events(after "+itoa(c.after)+", limit "+itoa(int64(c.limit))+")", c.want, got)
		}
		diff(t, "LastSeq", int64(7), lastSeq(t, tx))
		return nil
	})
}
