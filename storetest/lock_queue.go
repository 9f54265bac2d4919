package storetest

import (
	"errors"
	"testing"

	"github.com/trucedb/truce"
)

var lockQueueTests = []test{
	{"LockWaiters", testLockWaiters},
}

// testLockWaiters checks the queue records of lock requests: ticket order
// (numeric, not by the bytes of a decimal form), one document's queue apart
// from its neighbours', replace, delete, read-your-writes, rollback and
// durability across a reopen.
func testLockWaiters(t *testing.T, h *harness) {
	w := func(col, id string, ticket int64, waiter string, expires int) *truce.LockWaiter {
		return &truce.LockWaiter{Collection: col, ID: id, Ticket: ticket, Waiter: waiter, ExpiresAt: at(expires)}
	}
	queue := func(tx truce.ReadTx, col, id string) []*truce.LockWaiter {
		t.Helper()
		ws, err := tx.LockWaiters(col, id)
		check(t, "LockWaiters", err)
		if ws == nil {
			t.Errorf("LockWaiters(%s, %s) = nil, want an empty list", col, id)
		}
		return ws
	}
	w1, w2, w10 := w("a", "b", 1, "ann", 10), w("a", "b", 2, "bob", 5), w("a", "b", 10, "cy", 20)
	other, longer := w("a", "bc", 1, "dee", 10), w("ab", "b", 3, "eve", 10) // neighbours by prefix
	h.view(func(tx truce.ReadTx) error {
		diff(t, "LockWaiters of an empty store", []*truce.LockWaiter{}, queue(tx, "a", "b"))
		return nil
	})
	h.update(func(tx truce.Tx) error {
		for _, x := range []*truce.LockWaiter{w10, other, w2, longer, w1} {
			if err := tx.PutLockWaiter(x); err != nil {
				return err
			}
		}
		diff(t, "LockWaiters in the Update", []*truce.LockWaiter{w1, w2, w10}, queue(tx, "a", "b"))
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		diff(t, "LockWaiters(a, b)", []*truce.LockWaiter{w1, w2, w10}, queue(tx, "a", "b"))
		diff(t, "LockWaiters(a, bc)", []*truce.LockWaiter{other}, queue(tx, "a", "bc"))
		diff(t, "LockWaiters(ab, b)", []*truce.LockWaiter{longer}, queue(tx, "ab", "b"))
		diff(t, "LockWaiters(a, c)", []*truce.LockWaiter{}, queue(tx, "a", "c"))
		return nil
	})

	// Renewing replaces a record in place; deleting removes only its own;
	// deleting one that is not there is no error.
	renewed := *w2
	renewed.ExpiresAt = at(30)
	h.update(func(tx truce.Tx) error {
		if err := tx.PutLockWaiter(&renewed); err != nil {
			return err
		}
		if err := tx.DeleteLockWaiter("a", "b", 1); err != nil {
			return err
		}
		if err := tx.DeleteLockWaiter("a", "b", 99); err != nil {
			return err
		}
		diff(t, "LockWaiters after renew and delete, in the Update", []*truce.LockWaiter{&renewed, w10}, queue(tx, "a", "b"))
		return nil
	})
	boom := errors.New("boom")
	err := h.store.Update(ctx(t), func(tx truce.Tx) error {
		if err := tx.DeleteLockWaiter("a", "b", 10); err != nil {
			return err
		}
		if err := tx.PutLockWaiter(w("a", "b", 11, "fay", 10)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		diff(t, "LockWaiters after a rollback and a reopen", []*truce.LockWaiter{&renewed, w10}, queue(tx, "a", "b"))
		diff(t, "LockWaiters(a, bc) untouched", []*truce.LockWaiter{other}, queue(tx, "a", "bc"))
		return nil
	})
}
