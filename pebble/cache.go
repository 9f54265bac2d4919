package pebble

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

// Caches for the write path. Every document write reads its collection
// record and the current version of its document before it writes
// anything, under the write lock, which every writer waits for. The
// collection record was usually written long ago: it lives in an on-disk
// table, where a point read is costly, and it is JSON, which costs as much
// again to decode. The document is usually in the memtable, a skiplist of
// every recent write, whose seek is a chain of cache misses (figures in
// docs/benchmarks.md, "Figures behind the code's choices").
//
// The committed caches (Store.colls and Store.docs) hold records as of the
// last commit, guarded by the write lock: only an Update changes them, and
// only an Update reads colls (Views, and Store.Document, read docs too;
// see below and Store.Document). Every write to a collection record or a
// current document goes through an Update, which updates or drops the
// entries it affects under the write lock before another Update can run;
// so an entry always matches what the database would return to an Update,
// which reads with every earlier commit applied and no later one possible.
// A read through them observes the same seq or absence as a read of the
// database, so the durability watermark works unchanged. An Update reads
// through them only records that its own batch has not written:
// collections it has not put or dropped, and documents while its batch is
// still empty.
//
// The decode memo (Store.memo) serves every other read of a collection
// record (Views, and Updates that wrote the record): the record is read as
// before, and only its decoding is skipped if the bytes are those decoded
// last time.
//
// Collections are cached decoded, and every read returns a copy
// (cloneCollection); documents are cached encoded, and decoded per read.

// collEntry is a collection record and what it decodes to. In the committed
// cache, raw == nil means that the collection does not exist.
type collEntry struct {
	raw []byte
	c   *truce.Collection
}

// maxCachedCollections bounds each cache; past it, a cache starts over.
// Collections are few, so this is only a guard against unbounded growth.
const maxCachedCollections = 4096

// collMemo is the decode memo: safe for concurrent use.
type collMemo struct {
	mu sync.Mutex
	m  map[string]*collEntry
}

// decode returns the collection that v, the stored record of name, decodes
// to. The result is shared: callers must clone it before handing it out.
func (m *collMemo) decode(v []byte, name string) (*truce.Collection, error) {
	m.mu.Lock()
	e := m.m[name]
	m.mu.Unlock()
	if e != nil && bytes.Equal(e.raw, v) {
		return e.c, nil
	}
	c, err := decodeCollection(v, name)
	if err != nil {
		return nil, err
	}
	e = &collEntry{raw: bytes.Clone(v), c: c}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= maxCachedCollections {
		m.m = make(map[string]*collEntry)
	}
	m.m[name] = e
	m.mu.Unlock()
	return c, nil
}

// committedCollection returns the committed collection record of name, from
// the committed cache or else from the database. The caller holds the write
// lock, so every earlier commit is applied and visible, and no other commit
// can happen meanwhile.
func (s *Store) committedCollection(name string, key []byte) (*collEntry, error) {
	if e, ok := s.colls[name]; ok {
		return e, nil
	}
	e := &collEntry{}
	v, closer, err := s.db.Get(key)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return nil, wrap("get", err)
	default:
		e.raw = bytes.Clone(v)
		closer.Close()
		if e.c, err = s.memo.decode(e.raw, name); err != nil {
			return nil, err
		}
	}
	if s.colls == nil || len(s.colls) >= maxCachedCollections {
		s.colls = make(map[string]*collEntry)
	}
	s.colls[name] = e
	return e, nil
}

// cloneCollection copies c deeply enough that the caller may change
// anything in the copy without affecting c.
func cloneCollection(c *truce.Collection) *truce.Collection {
	cp := *c
	cp.Settings.Unique = slices.Clone(c.Settings.Unique)
	cp.Settings.References = maps.Clone(c.Settings.References)
	cp.Settings.Schema = bytes.Clone(c.Settings.Schema)
	if c.Settings.Indexes != nil {
		cp.Settings.Indexes = make([][]string, len(c.Settings.Indexes))
		for i, ix := range c.Settings.Indexes {
			cp.Settings.Indexes[i] = slices.Clone(ix)
		}
	}
	if c.Settings.IndexBuilds != nil {
		cp.Settings.IndexBuilds = make([]truce.IndexBuild, len(c.Settings.IndexBuilds))
		for i, b := range c.Settings.IndexBuilds {
			cp.Settings.IndexBuilds[i] = truce.IndexBuild{Index: slices.Clone(b.Index), After: b.After}
		}
	}
	return &cp
}

// The document cache keeps at most Store.docBudget bytes of values
// (Options.DocumentCacheSize), and no value larger than maxCachedDocument;
// past its budget it evicts entries at random (Go's map order), which keeps
// the documents being written repeatedly likely to be present. A budget
// that holds only part of the documents being updated costs server CPU on
// every miss, a read of an on-disk table, one of them under the write lock
// (docs/benchmarks.md has the figures behind the default).
const maxCachedDocument = 16 << 10

// docEntry is a document cache entry: the committed encoding of a current
// document, and the number of the last commit applied when it was added.
// The value stayed the committed one from that commit on, for as long as
// the entry is there: every commit that writes the document drops the
// entry before its batch becomes visible.
type docEntry struct {
	v     []byte
	since uint64
}

// docPut is a current document an Update wrote: its key and encoding, nil
// if it is too large to cache.
type docPut struct {
	key string
	val []byte
}

// committedDocument is Document in an Update whose batch is still empty,
// read through the committed cache.
func (t *tx) committedDocument(key []byte, collection, id string) (*truce.Document, error) {
	if err := t.begin(); err != nil {
		return nil, err
	}
	s := t.s
	e, ok := s.docs[string(key)]
	v := e.v
	if !ok {
		raw, closer, err := s.db.Get(key)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, t.absent()
		}
		if err != nil {
			return nil, wrap("get", err)
		}
		v = bytes.Clone(raw)
		closer.Close()
		s.cacheDocument(string(key), v)
	}
	d, err := decodeDocument(v, collection, id)
	if err != nil {
		return nil, err
	}
	t.observeSeq(d.Seq)
	return d, nil
}

// cacheDocument records v as the committed value of the document at key,
// or forgets the document if v is nil or too large. The caller holds the
// write lock.
func (s *Store) cacheDocument(key string, v []byte) {
	s.docsMu.Lock()
	defer s.docsMu.Unlock()
	if old, ok := s.docs[key]; ok {
		delete(s.docs, key)
		s.docBytes -= len(old.v)
	}
	if v == nil || len(v) > min(maxCachedDocument, s.docBudget) {
		return
	}
	if s.docs == nil {
		s.docs = make(map[string]docEntry)
	}
	if s.docBytes+len(v) > s.docBudget {
		for k, old := range s.docs {
			delete(s.docs, k)
			s.docBytes -= len(old.v)
			if s.docBytes+len(v) <= s.docBudget {
				break
			}
		}
	}
	s.docs[key] = docEntry{v: v, since: s.appliedCommit.Load()}
	s.docBytes += len(v)
}

// invalidate drops the cached records that t's batch writes. The caller
// holds the write lock and has not applied the batch yet.
func (s *Store) invalidate(t *tx) {
	for _, name := range t.w.collWrites {
		delete(s.colls, name)
	}
	if t.w.dropped {
		s.docsMu.Lock()
		clear(s.docs)
		s.docBytes = 0
		s.docsMu.Unlock()
	}
	for _, p := range t.w.docPuts {
		s.cacheDocument(p.key, nil)
	}
}

// cacheDocuments records the documents that t's batch wrote, which the
// caller, holding the write lock, has just applied. A batch that dropped a
// collection may have deleted some of them after writing them, so its
// documents are left out.
func (s *Store) cacheDocuments(t *tx) {
	if t.w.dropped {
		return
	}
	for _, p := range t.w.docPuts {
		s.cacheDocument(p.key, p.val)
	}
}

// fillDocument gives the cache v, the value of the document at key that a
// View read from its snapshot after a miss, when it is known to be the
// committed value: no commit is under way (the View takes the write lock,
// if it is free, without waiting) and none was applied after the View's
// floor, so its snapshot is the database now, and any later commit drops
// the entry before its batch becomes visible. A View fills only free room:
// reads over more documents than the cache holds would otherwise evict
// what the writes keep warm, one entry for each read. It reports whether
// it filled.
func (s *Store) fillDocument(key, v []byte, floor uint64) bool {
	if len(v) > maxCachedDocument {
		return false
	}
	select {
	case s.wlock <- struct{}{}:
	default:
		return false // a commit is under way
	}
	defer func() { <-s.wlock }()
	s.docsMu.RLock()
	room := s.docBytes+len(v) <= s.docBudget
	s.docsMu.RUnlock()
	if !room || s.appliedCommit.Load() != floor {
		return false
	}
	s.cacheDocument(string(key), bytes.Clone(v))
	return true
}

// viewDocumentHook, when a test sets it, runs in a View's begin on both
// sides of its iterator's opening: the moments where a commit could make
// the cache and the iterator disagree.
var viewDocumentHook func(stage string)

// cachedDocument is the committed cache's entry for key, for a View.
func (s *Store) cachedDocument(key []byte) []byte {
	s.docsMu.RLock()
	e := s.docs[string(key)]
	s.docsMu.RUnlock()
	return e.v
}

// A View reads a current document through the committed cache when the
// entry is no newer than the View's snapshot: the View took floor, the
// number of the last commit applied, before it opened its iterator, so the
// iterator sees every commit up to floor; an Update drops a document's
// entry before its batch becomes visible and adds the new one after, with
// the number of the last commit applied, so an entry added at or before
// floor that is still there held the committed value from then until now,
// and so at the snapshot too. Query pages read a hundred documents this way
// (docs/benchmarks.md, "Queries and secondary indexes").

// snapshotDocument is Document in a View whose iterator is open, from the
// cache; ok is false when the cache cannot answer.
func (t *tx) snapshotDocument(key []byte, collection, id string) (d *truce.Document, ok bool, err error) {
	s := t.s
	s.docsMu.RLock()
	e, found := s.docs[string(key)]
	s.docsMu.RUnlock()
	if !found || len(e.v) == 0 || e.since > t.floor {
		return nil, false, nil
	}
	if d, err = decodeDocument(e.v, collection, id); err != nil {
		return nil, true, err
	}
	t.observeSeq(d.Seq)
	t.cacheHits++
	return d, true, nil
}
