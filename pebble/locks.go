package pebble

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

// Document locks:
//
//	l\x00<col>\x00<id>                            the lock record (JSON)
//	o\x00<expiresAt unix ns BE8><col>\x00<id>     expiry order → nothing
//
// The expiry index lets the expirer find ended locks, earliest first,
// without reading live ones. Lock records carry no seq of their own (a
// renewal rewrites one without an event), so reading one observes the
// whole database, as a conflict or idempotency record does.
const (
	tagLock       = 'l'
	tagLockExpiry = 'o'
)

func lockKey(b []byte, col, id string) []byte {
	b = append(append(appendTag(b, tagLock), col...), sep)
	return append(b, id...)
}

func lockExpiryKey(b []byte, expires time.Time, col, id string) []byte {
	b = binary.BigEndian.AppendUint64(appendTag(b, tagLockExpiry), uint64(expires.UnixNano()))
	b = append(append(b, col...), sep)
	return append(b, id...)
}

// lockRecord is the stored form of a truce.Lock.
type lockRecord struct {
	Token      string    `json:"t"`
	Owner      string    `json:"o"`
	AcquiredAt time.Time `json:"a"`
	ExpiresAt  time.Time `json:"x"`
	Fence      int64     `json:"f"`
}

// Every write checks its document's lock record under the write lock, and
// almost every time there is none. A point read of an absent key is a full
// memtable seek, then the tables' bloom filters: a noticeable share of a
// whole write (docs/benchmarks.md), so Updates answer absence from
// lockKeys, the set of keys of the committed lock records: exact, because
// only Updates write lock records and each changes the set under the write
// lock as its batch is applied (applyLockWrites), as the committed caches
// do (cache.go). Locks are few, so the set is small; it is loaded at Open.

// loadLockKeys returns the key of every lock record in db.
func loadLockKeys(db *pebble.DB) (map[string]struct{}, error) {
	lower := appendTag(nil, tagLock)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, fmt.Errorf("read lock records: %w", err)
	}
	keys := make(map[string]struct{})
	for ok := it.First(); ok; ok = it.Next() {
		keys[string(it.Key())] = struct{}{}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, fmt.Errorf("read lock records: %w", err)
	}
	return keys, it.Close()
}

// applyLockWrites records in lockKeys the lock records that t's batch put
// or deleted, which the caller, holding the write lock, has just applied.
func (s *Store) applyLockWrites(t *tx) {
	for k, present := range t.w.locks {
		if present {
			s.lockKeys[k] = struct{}{}
		} else {
			delete(s.lockKeys, k)
		}
	}
}

// noteLockWrite records in the Update's writes that it put or deleted a
// lock record.
func (t *tx) noteLockWrite(key []byte, present bool) {
	if t.w.locks == nil {
		t.w.locks = make(map[string]bool)
	}
	t.w.locks[string(key)] = present
}

// Lock implements truce.ReadTx.
func (t *tx) Lock(collection, id string) (*truce.Lock, error) {
	if err := checkDoc(collection, id); err != nil {
		return nil, err
	}
	key := lockKey(nil, collection, id)
	if t.w != nil && !t.done {
		_, wrote := t.w.locks[string(key)]
		if _, held := t.s.lockKeys[string(key)]; !wrote && !held {
			t.observeAll() // an absence
			return nil, truce.ErrNoRecord
		}
	}
	var l *truce.Lock
	found, err := t.get(key, func(v []byte) error {
		var r lockRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%w: lock %s/%s: %v", errCorrupt, collection, id, err)
		}
		l = &truce.Lock{Collection: collection, ID: id, Token: r.Token, Owner: r.Owner,
			AcquiredAt: r.AcquiredAt, ExpiresAt: r.ExpiresAt, Fence: r.Fence}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.observeAll()
	if !found {
		return nil, truce.ErrNoRecord
	}
	return l, nil
}

// LocksByExpiry implements truce.ReadTx.
func (t *tx) LocksByExpiry(until time.Time, limit int) ([]*truce.Lock, error) {
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	lower := appendTag(nil, tagLockExpiry)
	upper := binary.BigEndian.AppendUint64(appendTag(nil, tagLockExpiry), uint64(until.UnixNano())+1)
	type target struct{ col, id string }
	var targets []target
	err := t.scan(lower, upper, nil, false, func(k, _ []byte) (bool, error) {
		rest := k[len(lower)+8:]
		i := bytes.IndexByte(rest, sep)
		if i < 0 {
			return false, fmt.Errorf("%w: lock expiry key %q", errCorrupt, k)
		}
		targets = append(targets, target{string(rest[:i]), string(rest[i+1:])})
		return len(targets) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*truce.Lock, 0, len(targets))
	for _, tg := range targets {
		l, err := t.Lock(tg.col, tg.id)
		if err != nil {
			return nil, fmt.Errorf("pebble: lock expiry index names %s/%s: %w", tg.col, tg.id, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// PutLock implements truce.Tx.
func (t *tx) PutLock(l *truce.Lock) error {
	if err := checkDoc(l.Collection, l.ID); err != nil {
		return err
	}
	if err := t.deleteLockExpiry(l.Collection, l.ID); err != nil {
		return err
	}
	v, err := json.Marshal(lockRecord{Token: l.Token, Owner: l.Owner, AcquiredAt: l.AcquiredAt.UTC(),
		ExpiresAt: l.ExpiresAt.UTC(), Fence: l.Fence})
	if err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	key := lockKey(nil, l.Collection, l.ID)
	if err := b.Set(key, v, nil); err != nil {
		return wrap("put lock", err)
	}
	t.noteLockWrite(key, true)
	return wrap("put lock", b.Set(lockExpiryKey(nil, l.ExpiresAt, l.Collection, l.ID), nil, nil))
}

// DeleteLock implements truce.Tx.
func (t *tx) DeleteLock(collection, id string) error {
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	if err := t.deleteLockExpiry(collection, id); err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	key := lockKey(nil, collection, id)
	if err := b.Delete(key, nil); err != nil {
		return wrap("delete lock", err)
	}
	t.noteLockWrite(key, false)
	return nil
}

// deleteLockExpiry removes the expiry index entry of a document's lock
// record, if there is one.
func (t *tx) deleteLockExpiry(collection, id string) error {
	old, err := t.Lock(collection, id)
	if err == truce.ErrNoRecord {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	return wrap("delete lock", b.Delete(lockExpiryKey(nil, old.ExpiresAt, collection, id), nil))
}
