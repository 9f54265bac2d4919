package storetest

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
)

var conflictTests = []test{
	{"Conflicts", testConflicts},
}

func testConflicts(t *testing.T, h *harness) {
	mk := func(id, col, doc string, st truce.ConflictStatus) *truce.Conflict {
		c := &truce.Conflict{ID: id, Collection: col, DocID: doc, Status: st, BaseVersion: 2, CurrentVersion: 4,
			Base: json.RawMessage(`{"a":1}`), Current: json.RawMessage(`{"a":2}`), Proposed: json.RawMessage(`{"a":3}`),
			Paths:     []truce.MergeConflict{{Path: "/a", Base: json.RawMessage(`1`), Current: json.RawMessage(`2`), Proposed: json.RawMessage(`3`)}},
			CreatedAt: at(1)}
		if st != truce.ConflictOpen {
			c.ClosedAt = at(5)
		}
		if st == truce.ConflictResolved {
			c.Resolution = &truce.Resolution{Strategy: truce.StrategyMerge, Version: 5}
		}
		return c
	}
	all := []*truce.Conflict{
		mk("01A", "a", "x", truce.ConflictOpen),
		mk("01B", "a", "y", truce.ConflictResolved),
		mk("01C", "b", "x", truce.ConflictOpen),
		mk("01D", "a", "x", truce.ConflictDismissed),
		mk("01E", "a", "x", truce.ConflictOpen),
	}
	all[2].Proposed = nil // a proposed delete
	all[2].Paths = []truce.MergeConflict{{Path: "", Base: json.RawMessage(`{"a":1}`), Current: json.RawMessage(`{"a":2}`)}}
	h.update(func(tx truce.Tx) error {
		for _, i := range []int{3, 0, 4, 2, 1} { // stored out of order
			if err := tx.PutConflict(all[i]); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(cs []*truce.Conflict) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	checkAll := func() {
		h.read(func(tx truce.ReadTx) error {
			for _, want := range all {
				got, err := tx.Conflict(want.ID)
				check(t, "Conflict", err)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Conflict(%s) (-want +got):\n%s", want.ID, diff)
				}
			}
			_, err := tx.Conflict("01Z")
			noRecord(t, "Conflict(01Z)", err)
			for _, tc := range []struct {
				f     truce.ConflictFilter
				after string
				limit int
				want  []string
			}{
				{truce.ConflictFilter{}, "", 100, []string{"01A", "01B", "01C", "01D", "01E"}},
				{truce.ConflictFilter{}, "", 2, []string{"01A", "01B"}},
				{truce.ConflictFilter{}, "01B", 2, []string{"01C", "01D"}},
				{truce.ConflictFilter{}, "01BB", 100, []string{"01C", "01D", "01E"}},
				{truce.ConflictFilter{Collection: "a"}, "", 100, []string{"01A", "01B", "01D", "01E"}},
				{truce.ConflictFilter{Collection: "a", DocID: "x"}, "", 100, []string{"01A", "01D", "01E"}},
				{truce.ConflictFilter{Collection: "a", DocID: "x", Status: truce.ConflictOpen}, "", 1, []string{"01A"}},
				{truce.ConflictFilter{Collection: "a", DocID: "x", Status: truce.ConflictOpen}, "01A", 1, []string{"01E"}},
				{truce.ConflictFilter{DocID: "x"}, "", 100, []string{"01A", "01C", "01D", "01E"}},
				{truce.ConflictFilter{Status: truce.ConflictResolved}, "", 100, []string{"01B"}},
				{truce.ConflictFilter{Collection: "c"}, "", 100, nil},
				{truce.ConflictFilter{}, "01E", 100, nil},
			} {
				got, err := tx.Conflicts(tc.f, tc.after, tc.limit)
				check(t, "Conflicts", err)
				if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
					t.Errorf("Conflicts(%+v, %q, %d) (-want +got):\n%s", tc.f, tc.after, tc.limit, diff)
				}
			}
			return nil
		})
	}
	checkAll()
	h.reopen()
	checkAll()

	// Replacing a record closes it; the listing follows.
	all[0].Status, all[0].ClosedAt = truce.ConflictDismissed, at(9)
	h.update(func(tx truce.Tx) error { return tx.PutConflict(all[0]) })
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		c, err := tx.Conflict("01A")
		check(t, "Conflict(01A)", err)
		if diff := cmp.Diff(all[0], c); diff != "" {
			t.Errorf("replaced conflict (-want +got):\n%s", diff)
		}
		got, err := tx.Conflicts(truce.ConflictFilter{Status: truce.ConflictOpen}, "", 100)
		check(t, "Conflicts(open)", err)
		if diff := cmp.Diff([]string{"01C", "01E"}, ids(got)); diff != "" {
			t.Errorf("open conflicts (-want +got):\n%s", diff)
		}
		return nil
	})
}
