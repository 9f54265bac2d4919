package pebble

import (
	"encoding/json"
	"fmt"

	"github.com/trucedb/truce"
)

// Recorded conflicts:
//
//	k\x00<id>    the conflict (JSON of truce.Conflict)
//
// The id is the last part of the key, so it may hold any bytes; ids are
// ULIDs, so key order is creation order. There is no secondary index:
// conflicts are few (each is a refused write someone must decide), so a
// filtered listing scans them in id order.
const tagConflict = 'k'

func conflictKey(b []byte, id string) []byte {
	return append(appendTag(b, tagConflict), id...)
}

func decodeConflict(v []byte) (*truce.Conflict, error) {
	var c truce.Conflict
	if err := json.Unmarshal(v, &c); err != nil {
		return nil, fmt.Errorf("%w: conflict: %v", errCorrupt, err)
	}
	if string(c.Proposed) == "null" { // a proposed delete
		c.Proposed = nil
	}
	return &c, nil
}

// Conflict implements truce.ReadTx.
func (t *tx) Conflict(id string) (*truce.Conflict, error) {
	var c *truce.Conflict
	found, err := t.get(conflictKey(nil, id), func(v []byte) (err error) {
		c, err = decodeConflict(v)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.observeAll() // the record carries no seq
	if !found {
		return nil, truce.ErrNoRecord
	}
	return c, nil
}

// Conflicts implements truce.ReadTx.
func (t *tx) Conflicts(f truce.ConflictFilter, after string, limit int) ([]*truce.Conflict, error) {
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	lower := appendTag(nil, tagConflict)
	var start []byte
	if after != "" {
		start = append(conflictKey(nil, after), 0) // the smallest key after after's
	}
	var out []*truce.Conflict
	err := t.scan(lower, prefixEnd(lower), start, false, func(_, v []byte) (bool, error) {
		c, err := decodeConflict(v)
		if err != nil {
			return false, err
		}
		if f.Match(c) {
			out = append(out, c)
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutConflict implements truce.Tx.
func (t *tx) PutConflict(c *truce.Conflict) error {
	if c.ID == "" {
		return fmt.Errorf("pebble: conflict without an id")
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	b, err := t.writer()
	if err != nil {
		return err
	}
	return wrap("put conflict", b.Set(conflictKey(nil, c.ID), v, nil))
}
