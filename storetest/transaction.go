package storetest

import (
	"testing"

	"github.com/trucedb/truce"
)

var transactionTests = []test{
	{"Transactions", testTransactions},
}

// testTransactions checks the staged state of interactive transactions:
// it comes back whole after a reopen, replacing moves its expiry, deleting
// is idempotent, and the sweep deletes only what expired, oldest first.
func testTransactions(t *testing.T, h *harness) {
	staged := doc("acc", "a", 2, 0)
	txns := []*truce.Transaction{
		{ID: "t1", Owner: "token:ab12", CreatedAt: at(0), ExpiresAt: at(10), Rev: 3,
			Seen: []truce.SeenDoc{{Collection: "acc", ID: "a", Seq: 7}, {Collection: "acc", ID: "b", Seq: 0}},
			Ops: []truce.Op{{Kind: truce.OpPatch, Collection: "acc", ID: "a",
				Pre: truce.Precondition{IfMatch: []string{`"1-7"`}, LockToken: "lt"}, PatchType: truce.MergePatch, Patch: []byte(`{"v":2}`)}},
			Staged: []*truce.Document{staged}},
		{ID: "t2", CreatedAt: at(0), ExpiresAt: at(20)},
		{ID: "t3", CreatedAt: at(0), ExpiresAt: at(30)},
	}
	h.update(func(tx truce.Tx) error {
		for _, tr := range txns {
			if err := tx.PutTransaction(tr); err != nil {
				return err
			}
		}
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Transaction("t1")
		check(t, "Transaction(t1)", err)
		diff(t, "Transaction(t1)", txns[0], got)
		_, err = tx.Transaction("t9")
		noRecord(t, "Transaction(t9)", err)
		return nil
	})

	// t1 moves past t3's expiry: a sweep at 25 must take t2 only, and
	// must not find t1 under its old expiry.
	moved := *txns[0]
	moved.ExpiresAt, moved.Rev = at(40), 4
	h.update(func(tx truce.Tx) error { return tx.PutTransaction(&moved) })
	var n int
	h.update(func(tx truce.Tx) (err error) {
		n, err = tx.DeleteExpiredTransactions(at(25), 10)
		return err
	})
	if n != 1 {
		t.Errorf("DeleteExpiredTransactions(25) deleted %d, want 1 (t2)", n)
	}
	h.read(func(tx truce.ReadTx) error {
		_, err := tx.Transaction("t2")
		noRecord(t, "Transaction(t2) after the sweep", err)
		got, err := tx.Transaction("t1")
		check(t, "Transaction(t1) after the sweep", err)
		diff(t, "moved t1", &moved, got)
		return nil
	})

	h.update(func(tx truce.Tx) error {
		if err := tx.DeleteTransaction("t3"); err != nil {
			return err
		}
		return tx.DeleteTransaction("t3") // gone already: not an error
	})
	h.update(func(tx truce.Tx) (err error) {
		n, err = tx.DeleteExpiredTransactions(at(100), 10)
		return err
	})
	if n != 1 {
		t.Errorf("DeleteExpiredTransactions(100) deleted %d, want 1 (t1; t3 was deleted with its expiry entry)", n)
	}
	h.read(func(tx truce.ReadTx) error {
		for _, id := range []string{"t1", "t3"} {
			_, err := tx.Transaction(id)
			noRecord(t, "Transaction("+id+")", err)
		}
		return nil
	})
}
