package pebble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

var (
	errTxDone     = errors.New("pebble: transaction used after its function returned")
	errTxReadOnly = errors.New("pebble: write in a read-only transaction")
)

// tx is both the ReadTx of View and the Tx of Update.
//
// In Update it reads and writes an indexed batch, which overlays the tx's own
// writes on the database; the database cannot change underneath because every
// write holds the store's write lock. Reads that the batch cannot affect go
// around it, which is cheaper: to the database while the batch is empty, and
// to the store's committed caches (cache.go).
//
// In View it reads through one database iterator, created at the first read:
// an iterator reads at a fixed point in time however it is repositioned, so
// it serves as the View's snapshot. It is cheaper to open and close than a
// pebble.Snapshot (BenchmarkReadPoint; figures in docs/benchmarks.md),
// whose Close asks Pebble to reconsider compactions; that matters on the
// hot path, a View that reads one document.
type tx struct {
	s     *Store
	it    *pebble.Iterator // View: nil until the first read
	batch *pebble.Batch    // Update: nil in a View
	done  bool

	// seqBound and commitBound bound what this tx can see: no record it
	// reads has a higher seq, no commit it sees has a higher number.
	seqBound    int64
	commitBound uint64
	// floor is, in a View, the number of a commit that its snapshot
	// includes, with every one before it (see snapshotDocument).
	floor uint64
	// obsSeq and obsCommit are what the tx observed, which must be durable
	// before View or Update returns (see watermark).
	obsSeq    int64
	obsCommit uint64

	// last is the last seq allocated in this Update, starting at the
	// committed seq.
	last int64

	w *txWrites // Update: what it wrote; nil in a View

	key []byte // scratch for point keys
	// cacheHits counts the reads the committed cache answered in a View,
	// and cacheFills the misses it gave the cache (for the tests).
	cacheHits, cacheFills int
}

// txWrites is the part of a tx that only an Update uses, apart so that a
// View's tx stays small.
type txWrites struct {
	// collWrites names the collection records this Update wrote.
	collWrites []string
	// docPuts are the current documents this Update wrote, in order, and
	// dropped whether it dropped a collection; see Store.docs.
	docPuts []docPut
	dropped bool
	// locks says, for each lock record this Update put (true) or deleted
	// (false), by key, what it did last; see Store.lockKeys.
	locks map[string]bool

	val []byte // scratch for encoded values
}

// updateTx is a tx and its txWrites in one allocation.
type updateTx struct {
	tx tx
	w  txWrites
}

// begin checks that the tx may still read and, in a View, opens its
// iterator.
func (t *tx) begin() error {
	if t.done {
		return errTxDone
	}
	if t.batch == nil && t.it == nil {
		// Before the iterator: it sees every commit up to floor.
		t.floor = t.s.appliedCommit.Load()
		if viewDocumentHook != nil {
			viewDocumentHook("before iterator")
		}
		it, err := t.s.db.NewIter(nil)
		if err != nil {
			return fmt.Errorf("pebble: iterate: %w", err)
		}
		if viewDocumentHook != nil {
			viewDocumentHook("after iterator")
		}
		t.it = it
		// Take the bounds after the iterator: a commit publishes its
		// bounds before it becomes visible, so these cover everything
		// the iterator sees.
		t.seqBound = t.s.visibleSeq.Load()
		t.commitBound = t.s.visibleCommit.Load()
	}
	return nil
}

// finish ends the tx's use of the database. It may be called twice.
func (t *tx) finish() {
	t.done = true
	if t.it != nil {
		t.it.Close()
		t.it = nil
	}
}

func (t *tx) writer() (*pebble.Batch, error) {
	if t.done {
		return nil, errTxDone
	}
	if t.batch == nil {
		return nil, errTxReadOnly
	}
	return t.batch, nil
}

// observeAll records that the tx saw the database as a whole: an absence or
// a scan, whose result a later deletion could have produced.
func (t *tx) observeAll() { t.obsCommit = t.commitBound }

// observeSeq records that the tx read a record written at seq. A seq the tx
// cannot have seen committed (a record this Update wrote itself, or one
// written without an allocated seq) falls back to observeAll, which covers
// it too.
func (t *tx) observeSeq(seq int64) {
	if seq <= 0 || seq > t.seqBound {
		t.observeAll()
	} else if seq > t.obsSeq {
		t.obsSeq = seq
	}
}

// beginScan is begin for a read whose result depends on the whole
// database: a scan, or a count.
func (t *tx) beginScan() error {
	if err := t.begin(); err != nil {
		return err
	}
	t.observeAll()
	return nil
}

// get reads key, calling decode on the value if it exists.
func (t *tx) get(key []byte, decode func(v []byte) error) (found bool, err error) {
	if err := t.begin(); err != nil {
		return false, err
	}
	if t.batch != nil {
		// Until the Update writes, its batch adds nothing to the
		// database, which the write lock keeps still; a read of the
		// database is cheaper than one through the batch, which merges.
		var v []byte
		var closer io.Closer
		var err error
		if t.batch.Empty() {
			v, closer, err = t.s.db.Get(key)
		} else {
			v, closer, err = t.batch.Get(key)
		}
		if errors.Is(err, pebble.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("pebble: get: %w", err)
		}
		err = decode(v)
		closer.Close()
		return err == nil, err
	}
	t.it.SetBounds(nil, nil)
	// Keys have no prefix structure (the comparer's Split is the whole
	// key), so a prefix seek is a point lookup that uses the bloom filters.
	if !t.it.SeekPrefixGE(key) || !bytes.Equal(t.it.Key(), key) {
		return false, wrap("get", t.it.Error())
	}
	v, err := t.it.ValueAndErr()
	if err != nil {
		return false, fmt.Errorf("pebble: get: %w", err)
	}
	err = decode(v)
	return err == nil, err
}

// scan calls each for the keys in [lower, upper) in order, from start if it
// is not nil, until each returns false or an error. In reverse, it goes
// down from the last key below start, or below upper.
func (t *tx) scan(lower, upper, start []byte, reverse bool, each func(k, v []byte) (bool, error)) error {
	if err := t.begin(); err != nil {
		return err
	}
	it := t.it
	if t.batch != nil {
		// A batch iterator sees the batch as it is now, so make a new one.
		var err error
		it, err = t.batch.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return fmt.Errorf("pebble: iterate: %w", err)
		}
		defer it.Close()
	} else {
		it.SetBounds(lower, upper)
	}
	var ok bool
	switch {
	case reverse && start != nil:
		ok = it.SeekLT(start)
	case reverse:
		ok = it.Last()
	case start != nil:
		ok = it.SeekGE(start)
	default:
		ok = it.First()
	}
	for ; ok; ok = step(it, reverse) {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("pebble: iterate: %w", err)
		}
		more, err := each(it.Key(), v)
		if err != nil || !more {
			return err
		}
	}
	return wrap("iterate", it.Error())
}

func step(it *pebble.Iterator, reverse bool) bool {
	if reverse {
		return it.Prev()
	}
	return it.Next()
}

// Collection implements truce.ReadTx.
func (t *tx) Collection(name string) (*truce.Collection, error) {
	if !truce.ValidCollectionName(name) {
		return nil, t.absent()
	}
	t.key = collectionKey(t.key[:0], name)
	if t.batch != nil && !slices.Contains(t.w.collWrites, name) {
		if err := t.begin(); err != nil {
			return nil, err
		}
		e, err := t.s.committedCollection(name, t.key)
		if err != nil {
			return nil, err
		}
		if e.raw == nil {
			return nil, t.absent()
		}
		t.observeSeq(e.c.Seq)
		return cloneCollection(e.c), nil
	}
	var c *truce.Collection
	found, err := t.get(t.key, func(v []byte) (err error) {
		c, err = t.s.memo.decode(v, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, t.absent()
	}
	t.observeSeq(c.Seq)
	return cloneCollection(c), nil
}

// absent records an observed absence and returns ErrNoRecord, or the reason
// the tx cannot read.
func (t *tx) absent() error {
	if err := t.begin(); err != nil {
		return err
	}
	t.observeAll()
	return truce.ErrNoRecord
}

// Collections implements truce.ReadTx.
func (t *tx) Collections() ([]*truce.Collection, error) {
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	lower := appendTag(nil, tagCollection)
	var out []*truce.Collection
	err := t.scan(lower, prefixEnd(lower), nil, false, func(k, v []byte) (bool, error) {
		c, err := t.s.memo.decode(v, string(k[len(lower):]))
		if err != nil {
			return false, err
		}
		out = append(out, cloneCollection(c))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CollectionStats implements truce.ReadTx. It scans the collection's current
// documents, so it costs time in proportion to their number; a counter kept
// in each commit would make it constant if it ever matters.
func (t *tx) CollectionStats(name string) (truce.CollectionStats, error) {
	var st truce.CollectionStats
	if !truce.ValidCollectionName(name) {
		return st, t.beginScan()
	}
	if err := t.beginScan(); err != nil {
		return st, err
	}
	lower := docPrefix(nil, name)
	err := t.scan(lower, prefixEnd(lower), nil, false, func(k, v []byte) (bool, error) {
		deleted, err := docDeletedFlag(v)
		if deleted {
			st.Deleted++
		} else {
			st.Documents++
		}
		return true, err
	})
	return st, err
}

// Document implements truce.ReadTx.
func (t *tx) Document(collection, id string) (*truce.Document, error) {
	if !truce.ValidCollectionName(collection) || !truce.ValidID(id) {
		return nil, t.absent()
	}
	t.key = docKey(t.key[:0], collection, id)
	if t.batch != nil && t.batch.Empty() {
		return t.committedDocument(t.key, collection, id)
	}
	if t.batch == nil {
		if err := t.begin(); err != nil {
			return nil, err
		}
		if d, ok, err := t.snapshotDocument(t.key, collection, id); ok {
			return d, err
		}
	}
	return t.getDocument(t.key, collection, id, t.batch == nil)
}

// getDocument reads the document or version at key. fill says that key is
// a current document's, read by a View after the cache had no entry for
// it: what it reads is then given to the cache (fillDocument).
func (t *tx) getDocument(key []byte, collection, id string, fill bool) (*truce.Document, error) {
	var d *truce.Document
	found, err := t.get(key, func(v []byte) (err error) {
		if d, err = decodeDocument(v, collection, id); err == nil && fill && t.s.fillDocument(key, v, t.floor) {
			t.cacheFills++
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, t.absent()
	}
	t.observeSeq(d.Seq)
	return d, nil
}

// Documents implements truce.ReadTx.
func (t *tx) Documents(collection, after string, limit int) ([]*truce.Document, error) {
	if limit <= 0 || !truce.ValidCollectionName(collection) {
		return nil, t.beginScan()
	}
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	lower := docPrefix(nil, collection)
	var start []byte
	if after != "" {
		start = append(docKey(nil, collection, after), 0) // the first id > after
	}
	var out []*truce.Document
	err := t.scan(lower, prefixEnd(lower), start, false, func(k, v []byte) (bool, error) {
		if deleted, err := docDeletedFlag(v); deleted || err != nil {
			return true, err
		}
		d, err := decodeDocument(v, collection, string(k[len(lower):]))
		out = append(out, d)
		return len(out) < limit, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Version implements truce.ReadTx.
func (t *tx) Version(collection, id string, version int64) (*truce.Document, error) {
	if !truce.ValidCollectionName(collection) || !truce.ValidID(id) || version <= 0 {
		return nil, t.absent()
	}
	t.key = versionKey(t.key[:0], collection, id, version)
	return t.getDocument(t.key, collection, id, false)
}

// Versions implements truce.ReadTx.
func (t *tx) Versions(collection, id string, before int64, limit int) ([]*truce.Document, error) {
	if limit <= 0 || !truce.ValidCollectionName(collection) || !truce.ValidID(id) || before == 1 {
		return nil, t.beginScan()
	}
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	lower := versionPrefix(nil, collection, id)
	var start []byte
	if before > 0 {
		start = versionKey(nil, collection, id, before)
	}
	var out []*truce.Document
	err := t.scan(lower, prefixEnd(lower), start, true, func(k, v []byte) (bool, error) {
		d, err := decodeDocument(v, collection, id)
		out = append(out, d)
		return len(out) < limit, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UniqueHolder implements truce.ReadTx.
func (t *tx) UniqueHolder(collection, field string, value []byte) (string, error) {
	if !truce.ValidCollectionName(collection) {
		return "", t.absent()
	}
	t.key = uniqueKey(t.key[:0], collection, field, value)
	var id string
	found, err := t.get(t.key, func(v []byte) error {
		id = string(v)
		return nil
	})
	if err != nil {
		return "", err
	}
	// An index entry carries no seq, so even a hit is covered by the
	// commit bound.
	t.observeAll()
	if !found {
		return "", truce.ErrNoRecord
	}
	return id, nil
}

// Referrers implements truce.ReadTx.
func (t *tx) Referrers(collection, id string, limit int) ([]truce.Reference, error) {
	if limit <= 0 || !truce.ValidCollectionName(collection) || !truce.ValidID(id) {
		return nil, t.beginScan()
	}
	if err := t.beginScan(); err != nil {
		return nil, err
	}
	lower := referrersPrefix(nil, collection, id)
	var out []truce.Reference
	err := t.scan(lower, prefixEnd(lower), nil, false, func(k, _ []byte) (bool, error) {
		fromCol, fromID, field, err := parseReferrer(k[len(lower):])
		out = append(out, truce.Reference{
			From: truce.DocRef{Collection: fromCol, ID: fromID, Field: field},
			To:   truce.DocRef{Collection: collection, ID: id},
		})
		return len(out) < limit, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Events implements truce.ReadTx.
//
// The change log is append-only, so unlike other scans its result cannot be
// undone by losing a later commit's deletions: it is enough that the
// returned events are durable.
func (t *tx) Events(after int64, limit int) ([]*truce.Event, error) {
	if limit <= 0 || after == math.MaxInt64 {
		return nil, t.begin()
	}
	lower := appendTag(nil, tagEvent)
	var out []*truce.Event
	err := t.scan(lower, prefixEnd(lower), eventKey(nil, max(after+1, 0)), false, func(k, v []byte) (bool, error) {
		if len(k) != len(lower)+8 {
			return false, fmt.Errorf("%w: event key %q", errCorrupt, k)
		}
		e, err := decodeEvent(v, int64(binary.BigEndian.Uint64(k[len(lower):])))
		if err != nil {
			return false, err
		}
		t.observeSeq(e.Seq)
		out = append(out, e)
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LastSeq implements truce.ReadTx. Inside an Update it includes the seqs
// that the Update allocated, as reads there include its own writes.
func (t *tx) LastSeq() (int64, error) {
	if err := t.begin(); err != nil {
		return 0, err
	}
	if t.batch != nil {
		t.observeSeq(t.seqBound)
		return t.last, nil
	}
	var seq int64
	_, err := t.get(metaSeqKey, func(v []byte) (err error) {
		seq, err = decodeSeq(v)
		return err
	})
	if err != nil {
		return 0, err
	}
	if seq > 0 {
		t.observeSeq(seq)
	}
	return seq, nil
}

func decodeSeq(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: seq %x", errCorrupt, v)
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// NextSeq implements truce.Tx. The store's counter moves only when the
// Update commits, so an Update that fails consumes nothing.
func (t *tx) NextSeq() (int64, error) {
	if _, err := t.writer(); err != nil {
		return 0, err
	}
	t.observeSeq(t.seqBound)
	t.last++
	return t.last, nil
}

// PutCollection implements truce.Tx.
func (t *tx) PutCollection(c *truce.Collection) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkCollection(c.Name); err != nil {
		return err
	}
	v, err := encodeCollection(c)
	if err != nil {
		return err
	}
	t.key = collectionKey(t.key[:0], c.Name)
	t.w.collWrites = append(t.w.collWrites, c.Name)
	return wrap("put collection", b.Set(t.key, v, nil))
}

// DropCollection implements truce.Tx. It deletes with range tombstones, so
// its cost does not depend on the size of the collection.
func (t *tx) DropCollection(name string) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkCollection(name); err != nil {
		return err
	}
	t.key = collectionKey(t.key[:0], name)
	t.w.collWrites = append(t.w.collWrites, name)
	t.w.dropped = true
	if err := b.Delete(t.key, nil); err != nil {
		return wrap("drop collection", err)
	}
	for _, prefix := range [][]byte{
		docPrefix(nil, name),
		versionColPrefix(nil, name),
		uniqueColPrefix(nil, name),
		indexColPrefix(nil, name),
	} {
		if err := b.DeleteRange(prefix, prefixEnd(prefix), nil); err != nil {
			return wrap("drop collection", err)
		}
	}
	return nil
}

// PutDocument implements truce.Tx.
func (t *tx) PutDocument(d *truce.Document) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkDoc(d.Collection, d.ID); err != nil {
		return err
	}
	if d.Version <= 0 {
		return fmt.Errorf("pebble: document %s/%s has version %d; versions start at 1", d.Collection, d.ID, d.Version)
	}
	t.w.val = appendDocumentHead(t.w.val[:0], d)
	t.key = docKey(t.key[:0], d.Collection, d.ID)
	v, err := setParts(b, t.key, t.w.val, d.Body)
	if err != nil {
		return wrap("put document", err)
	}
	put := docPut{key: string(t.key)}
	if len(v) <= maxCachedDocument {
		put.val = bytes.Clone(v)
	}
	t.w.docPuts = append(t.w.docPuts, put)
	t.key = versionKey(t.key[:0], d.Collection, d.ID, d.Version)
	_, err = setParts(b, t.key, t.w.val, d.Body)
	return wrap("put document", err)
}

// setParts sets key to the concatenation of head and tail, encoding it in
// place in the batch rather than in a buffer of its own. It returns the
// value as it is in the batch, valid until the batch's next write.
func setParts(b *pebble.Batch, key, head, tail []byte) ([]byte, error) {
	op := b.SetDeferred(len(key), len(head)+len(tail))
	copy(op.Key, key)
	copy(op.Value[copy(op.Value, head):], tail)
	return op.Value, op.Finish()
}

// trimPointDeletes is how many versions TrimVersions deletes one by one
// before it uses a range tombstone instead. Point tombstones are cheap for
// readers; every range tombstone in the memtable makes reads re-fragment
// the memtable's range tombstones, and trimming with a history limit
// usually removes one version per write.
const trimPointDeletes = 16

// TrimVersions implements truce.Tx.
func (t *tx) TrimVersions(collection, id string, keepFrom int64) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	if keepFrom <= 1 {
		return nil
	}
	lower := versionPrefix(nil, collection, id)
	upper := versionKey(nil, collection, id, keepFrom)
	var keys [][]byte
	err = t.scan(lower, upper, nil, false, func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k...))
		return len(keys) <= trimPointDeletes, nil
	})
	if err != nil {
		return err
	}
	if len(keys) > trimPointDeletes {
		return wrap("trim versions", b.DeleteRange(lower, upper, nil))
	}
	for _, k := range keys {
		if err := b.Delete(k, nil); err != nil {
			return wrap("trim versions", err)
		}
	}
	return nil
}

// PutUnique implements truce.Tx.
func (t *tx) PutUnique(collection, field string, value []byte, id string) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkDoc(collection, id); err != nil {
		return err
	}
	t.key = uniqueKey(t.key[:0], collection, field, value)
	return wrap("put unique", b.Set(t.key, []byte(id), nil))
}

// DeleteUnique implements truce.Tx.
func (t *tx) DeleteUnique(collection, field string, value []byte) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkCollection(collection); err != nil {
		return err
	}
	t.key = uniqueKey(t.key[:0], collection, field, value)
	return wrap("delete unique", b.Delete(t.key, nil))
}

// PutReference implements truce.Tx.
func (t *tx) PutReference(r truce.Reference) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkReference(r); err != nil {
		return err
	}
	t.key = referenceKey(t.key[:0], r)
	return wrap("put reference", b.Set(t.key, nil, nil))
}

// DeleteReference implements truce.Tx.
func (t *tx) DeleteReference(r truce.Reference) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkReference(r); err != nil {
		return err
	}
	t.key = referenceKey(t.key[:0], r)
	return wrap("delete reference", b.Delete(t.key, nil))
}

func checkReference(r truce.Reference) error {
	if err := checkDoc(r.From.Collection, r.From.ID); err != nil {
		return err
	}
	return checkDoc(r.To.Collection, r.To.ID)
}

// AppendEvent implements truce.Tx. It refuses a seq that this Update did not
// allocate, which would overwrite or pre-empt another commit's event.
func (t *tx) AppendEvent(e *truce.Event) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if e.Seq <= t.seqBound || e.Seq > t.last {
		return fmt.Errorf("pebble: event seq %d was not allocated by this transaction (NextSeq)", e.Seq)
	}
	t.w.val = appendEventHead(t.w.val[:0], e)
	t.key = eventKey(t.key[:0], e.Seq)
	_, err = setParts(b, t.key, t.w.val, e.Document)
	return wrap("append event", err)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pebble: %s: %w", op, err)
}
