package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

var lockTests = []test{
	{"Locks", testLocks},
	{"LocksRollback", testLocksRollback},
}

func lock(col, id, owner string, expires int) *truce.Lock {
	return &truce.Lock{Collection: col, ID: id, Token: "tok-" + col + "-" + id, Owner: owner,
		AcquiredAt: at(0), ExpiresAt: at(expires), Fence: int64(expires)}
}

func lockNames(ls []*truce.Lock) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.Collection+"/"+l.ID)
	}
	return out
}

// testLocks checks lock records: put, replace, delete, the expiry order
// with its inclusive bound and limit, and durability across a reopen.
func testLocks(t *testing.T, h *harness) {
	ab, a, b2 := lock("a", "b", "ann", 30), lock("a", "bc", "bob", 10), lock("ab", "c", "cy", 20)
	h.update(func(tx truce.Tx) error {
		for _, l := range []*truce.Lock{ab, a, b2} {
			if err := tx.PutLock(l); err != nil {
				return err
			}
		}
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		for _, want := range []*truce.Lock{ab, a, b2} {
			got, err := tx.Lock(want.Collection, want.ID)
			check(t, "Lock", err)
			diff(t, "Lock("+want.Collection+", "+want.ID+")", want, got)
		}
		_, err := tx.Lock("a", "c")
		noRecord(t, "Lock(a, c)", err)
		_, err = tx.Lock("ab", "b") // "a"/"b" must not be read as "ab"/…
		noRecord(t, "Lock(ab, b)", err)

		ls, err := tx.LocksByExpiry(at(20), 10)
		check(t, "LocksByExpiry", err)
		diff(t, "LocksByExpiry(at 20)", []string{"a/bc", "ab/c"}, lockNames(ls)) // until is inclusive
		ls, err = tx.LocksByExpiry(at(100), 1)
		check(t, "LocksByExpiry", err)
		diff(t, "LocksByExpiry(limit 1)", []string{"a/bc"}, lockNames(ls))
		ls, err = tx.LocksByExpiry(at(5), 10)
		check(t, "LocksByExpiry", err)
		diff(t, "LocksByExpiry(at 5)", []string{}, lockNames(ls))
		return nil
	})

	// Renewing moves the lock in the expiry order; deleting removes it
	// from both; deleting a lock that is not there is no error.
	h.update(func(tx truce.Tx) error {
		r := *a
		r.ExpiresAt = at(40)
		if err := tx.PutLock(&r); err != nil {
			return err
		}
		if err := tx.DeleteLock("ab", "c"); err != nil {
			return err
		}
		if err := tx.DeleteLock("zz", "none"); err != nil {
			return err
		}
		// Read-your-writes inside the Update.
		got, err := tx.Lock("a", "bc")
		check(t, "Lock in Update", err)
		if !got.ExpiresAt.Equal(at(40)) {
			t.Errorf("Lock(a, bc) in the Update expires %v, want %v", got.ExpiresAt, at(40))
		}
		ls, err := tx.LocksByExpiry(at(100), 10)
		check(t, "LocksByExpiry in Update", err)
		diff(t, "LocksByExpiry in Update", []string{"a/b", "a/bc"}, lockNames(ls))
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		_, err := tx.Lock("ab", "c")
		noRecord(t, "Lock(ab, c) after delete", err)
		ls, err := tx.LocksByExpiry(at(35), 10)
		check(t, "LocksByExpiry", err)
		diff(t, "LocksByExpiry(at 35) after renew", []string{"a/b"}, lockNames(ls))
		ls, err = tx.LocksByExpiry(at(40), 10)
		check(t, "LocksByExpiry", err)
		diff(t, "LocksByExpiry(at 40) after renew", []string{"a/b", "a/bc"}, lockNames(ls))
		return nil
	})
}

// testLocksRollback checks that a failed Update leaves lock records alone.
func testLocksRollback(t *testing.T, h *harness) {
	h.update(func(tx truce.Tx) error { return tx.PutLock(lock("c", "d", "ann", 10)) })
	boom := errors.New("boom")
	err := h.store.Update(ctx(t), func(tx truce.Tx) error {
		if err := tx.DeleteLock("c", "d"); err != nil {
			return err
		}
		if err := tx.PutLock(lock("c", "e", "bob", 5)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Lock("c", "d")
		check(t, "Lock(c, d)", err)
		diff(t, "Lock(c, d) after rollback", lock("c", "d", "ann", 10), got)
		_, err = tx.Lock("c", "e")
		noRecord(t, "Lock(c, e) after rollback", err)
		ls, err := tx.LocksByExpiry(at(0).Add(time.Hour), 10)
		check(t, "LocksByExpiry", err)
		diff(t, "LocksByExpiry after rollback", []string{"c/d"}, lockNames(ls))
		return nil
	})
}
