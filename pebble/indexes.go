package pebble

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/trucedb/truce"
)

// tagIndex tags the entries of the collections' secondary indexes:
//
//	n\x00<col>\x00<uvarint len(index)><index><key>        secondary index → id
//
// The index name is length-prefixed, as the unique index's field is, so that
// the name and the key never run together; an entry's key is everything
// after the name, and its value is the document id.
const tagIndex = 'n'

// indexColPrefix is the prefix of every secondary-index entry of col.
func indexColPrefix(b []byte, col string) []byte {
	return append(append(appendTag(b, tagIndex), col...), sep)
}

// indexPrefix is the prefix of every entry of one secondary index.
func indexPrefix(b []byte, col, index string) []byte {
	b = binary.AppendUvarint(indexColPrefix(b, col), uint64(len(index)))
	return append(b, index...)
}

func checkIndex(col, index string) error {
	if err := checkCollection(col); err != nil {
		return err
	}
	if index == "" || len(index) > 4096 || !utf8.ValidString(index) {
		return fmt.Errorf("pebble: invalid index name %.80q", index)
	}
	return nil
}

// IndexEntries implements truce.ReadTx.
func (t *tx) IndexEntries(collection, index string, from, to []byte, reverse bool, limit int) ([]truce.IndexEntry, error) {
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	if limit <= 0 || checkIndex(collection, index) != nil || (to != nil && string(from) >= string(to)) {
		return nil, nil
	}
	prefix := indexPrefix(nil, collection, index)
	lower := append(prefix[:len(prefix):len(prefix)], from...)
	upper := prefixEnd(prefix)
	if to != nil {
		upper = append(prefix[:len(prefix):len(prefix)], to...)
	}
	// The keys and ids are copied into one buffer, and the ids made strings
	// in one conversion: a page of a query reads a hundred entries or more,
	// and two allocations each were a sixth of its garbage.
	n := min(limit, 1024)
	buf := make([]byte, 0, 48*n)
	ends := make([][2]int, 0, n) // where each entry's key and id end in buf
	err := t.scan(lower, upper, nil, reverse, func(k, v []byte) (bool, error) {
		buf = append(buf, k[len(prefix):]...)
		keyEnd := len(buf)
		buf = append(buf, v...)
		ends = append(ends, [2]int{keyEnd, len(buf)})
		return len(ends) < limit, nil
	})
	if err != nil || len(ends) == 0 {
		return nil, err
	}
	ids := string(buf)
	out := make([]truce.IndexEntry, len(ends))
	start := 0
	for i, e := range ends {
		out[i] = truce.IndexEntry{Key: buf[start:e[0]:e[0]], ID: ids[e[0]:e[1]]}
		start = e[1]
	}
	return out, nil
}

// PutIndexEntry implements truce.Tx.
func (t *tx) PutIndexEntry(collection, index string, key []byte, id string) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkIndex(collection, index); err != nil {
		return err
	}
	if !truce.ValidID(id) {
		return fmt.Errorf("pebble: invalid document id %.80q", id)
	}
	t.key = append(indexPrefix(t.key[:0], collection, index), key...)
	return wrap("put index entry", b.Set(t.key, []byte(id), nil))
}

// DeleteIndexEntry implements truce.Tx.
func (t *tx) DeleteIndexEntry(collection, index string, key []byte) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkIndex(collection, index); err != nil {
		return err
	}
	t.key = append(indexPrefix(t.key[:0], collection, index), key...)
	return wrap("delete index entry", b.Delete(t.key, nil))
}

// DropIndex implements truce.Tx, with one range tombstone.
func (t *tx) DropIndex(collection, index string) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkIndex(collection, index); err != nil {
		return err
	}
	prefix := indexPrefix(nil, collection, index)
	return wrap("drop index", b.DeleteRange(prefix, prefixEnd(prefix), nil))
}
