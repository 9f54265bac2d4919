package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/trucedb/truce"
)

// The key space. Every key starts with a one-byte tag and a \x00, and the
// variable parts are separated by \x00, which neither collection names nor
// document ids may contain. A prefix always ends in its separator, so the
// documents of collection "a" never share a prefix with those of "ab".
// Versions and seqs are fixed-width big-endian, so byte order is numeric
// order.
//
//	m\x00seq                                               last committed seq (BE8)
//	m\x00evtrim                                            change log trimmed through seq (BE8; events.go)
//	c\x00<col>                                             collection record
//	d\x00<col>\x00<id>                                     current document
//	v\x00<col>\x00<id>\x00<version BE8>                    stored version
//	e\x00<seq BE8>                                         change-log event
//	u\x00<col>\x00<uvarint len(field)><field><value>       unique index → id
//	n\x00<col>\x00<uvarint len(index)><index><key>       secondary index → id (indexes.go)
//	r\x00<toCol>\x00<toID>\x00<fromCol>\x00<fromID>\x00<field>  reference index
//	k\x00<id>                                              recorded conflict (conflict.go)
//	i\x00…, x\x00…                                         idempotency answers (idempotency.go)
//	l\x00…, o\x00…                                         document locks (locks.go)
//	q\x00…                                                 lock request queues (lock_queue.go)
//	T\x00…, Y\x00…                                         interactive transactions (txn.go)
//
// The unique index length-prefixes the field because field names are JSON
// keys and may contain \x00; the reference index needs no prefix because the
// field is its last part.
const (
	tagMeta       = 'm'
	tagCollection = 'c'
	tagDocument   = 'd'
	tagVersion    = 'v'
	tagEvent      = 'e'
	tagUnique     = 'u'
	tagReference  = 'r'
	sep           = 0
)

var metaSeqKey = []byte("m\x00seq")

func appendTag(b []byte, tag byte) []byte { return append(b, tag, sep) }

func collectionKey(b []byte, col string) []byte {
	return append(appendTag(b, tagCollection), col...)
}

// docPrefix is the prefix of every current document of col.
func docPrefix(b []byte, col string) []byte {
	return append(append(appendTag(b, tagDocument), col...), sep)
}

func docKey(b []byte, col, id string) []byte {
	return append(docPrefix(b, col), id...)
}

// versionColPrefix is the prefix of every stored version of every document of col.
func versionColPrefix(b []byte, col string) []byte {
	return append(append(appendTag(b, tagVersion), col...), sep)
}

// versionPrefix is the prefix of every stored version of one document.
func versionPrefix(b []byte, col, id string) []byte {
	return append(append(versionColPrefix(b, col), id...), sep)
}

func versionKey(b []byte, col, id string, version int64) []byte {
	return binary.BigEndian.AppendUint64(versionPrefix(b, col, id), uint64(version))
}

func eventKey(b []byte, seq int64) []byte {
	return binary.BigEndian.AppendUint64(appendTag(b, tagEvent), uint64(seq))
}

// uniqueColPrefix is the prefix of every unique-index entry of col.
func uniqueColPrefix(b []byte, col string) []byte {
	return append(append(appendTag(b, tagUnique), col...), sep)
}

func uniqueKey(b []byte, col, field string, value []byte) []byte {
	b = binary.AppendUvarint(uniqueColPrefix(b, col), uint64(len(field)))
	return append(append(b, field...), value...)
}

// referrersPrefix is the prefix of every reference whose target is col/id.
func referrersPrefix(b []byte, col, id string) []byte {
	b = append(append(appendTag(b, tagReference), col...), sep)
	return append(append(b, id...), sep)
}

func referenceKey(b []byte, r truce.Reference) []byte {
	b = referrersPrefix(b, r.To.Collection, r.To.ID)
	b = append(append(b, r.From.Collection...), sep)
	b = append(append(b, r.From.ID...), sep)
	return append(b, r.From.Field...)
}

// parseReferrer splits the part of a reference key after referrersPrefix.
func parseReferrer(rest []byte) (col, id, field string, err error) {
	parts := strings.SplitN(string(rest), "\x00", 3)
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("pebble: malformed reference key %q", rest)
	}
	return parts[0], parts[1], parts[2], nil
}

// prefixEnd returns the smallest key greater than every key with the given
// prefix. Every prefix used here ends in \x00 or in a tag, so incrementing
// its last byte never overflows.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	end[len(end)-1]++
	return end
}

func checkCollection(col string) error {
	if !truce.ValidCollectionName(col) {
		return fmt.Errorf("pebble: invalid collection name %.80q", col)
	}
	return nil
}

func checkDoc(col, id string) error {
	if err := checkCollection(col); err != nil {
		return err
	}
	if !truce.ValidID(id) {
		return fmt.Errorf("pebble: invalid document id %.80q", id)
	}
	return nil
}

var errCorrupt = errors.New("pebble: corrupt record")
