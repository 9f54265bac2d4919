package pebble

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trucedb/truce"
)

// The queues of lock requests waiting for a document's lock:
//
//	q\x00<col>\x00<id>\x00<ticket BE8>    the queue record (JSON)
//
// A Pebble store belongs to one process, whose Service keeps its queues in
// memory; the records are here so that the Store contract is the same for
// every backend (and a Service told that the store is shared uses them).
const tagLockWaiter = 'q'

func lockWaiterPrefix(b []byte, col, id string) []byte {
	b = append(append(appendTag(b, tagLockWaiter), col...), sep)
	return append(append(b, id...), sep)
}

func lockWaiterKey(b []byte, col, id string, ticket int64) []byte {
	return binary.BigEndian.AppendUint64(lockWaiterPrefix(b, col, id), uint64(ticket))
}

// lockWaiterRecord is the stored form of a truce.LockWaiter.
type lockWaiterRecord struct {
	Waiter    string    `json:"w"`
	ExpiresAt time.Time `json:"x"`
}

// LockWaiters implements truce.ReadTx.
func (t *tx) LockWaiters(collection, id string) ([]*truce.LockWaiter, error) {
	if err := checkDoc(collection, id); err != nil {
		return nil, err
	}
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	lower := lockWaiterPrefix(nil, collection, id)
	out := []*truce.LockWaiter{}
	err := t.scan(lower, prefixEnd(lower), nil, false, func(k, v []byte) (bool, error) {
		if len(k) != len(lower)+8 {
			return false, fmt.Errorf("%w: lock queue key %q", errCorrupt, k)
		}
		var r lockWaiterRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return false, fmt.Errorf("%w: lock queue record of %s/%s: %v", errCorrupt, collection, id, err)
		}
		out = append(out, &truce.LockWaiter{Collection: collection, ID: id,
			Ticket: int64(binary.BigEndian.Uint64(k[len(lower):])), Waiter: r.Waiter, ExpiresAt: r.ExpiresAt})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutLockWaiter implements truce.Tx.
func (t *tx) PutLockWaiter(w *truce.LockWaiter) error {
	if err := checkDoc(w.Collection, w.ID); err != nil {
		return err
	}
	if w.Ticket <= 0 {
		return fmt.Errorf("pebble: lock queue ticket %d; tickets start at 1", w.Ticket)
	}
	v, err := json.Marshal(lockWaiterRecord{Waiter: w.Waiter, ExpiresAt: w.ExpiresAt.UTC()})
	if err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	return wrap("put lock waiter", b.Set(lockWaiterKey(nil, w.Collection, w.ID, w.Ticket), v, nil))
}

// DeleteLockWaiter implements truce.Tx.
func (t *tx) DeleteLockWaiter(collection, id string, ticket int64) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	return wrap("delete lock waiter", b.Delete(lockWaiterKey(nil, collection, id, ticket), nil))
}
