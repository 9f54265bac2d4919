package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/trucedb/truce"
)

// CheckStats counts what Check read.
type CheckStats struct {
	Collections, Documents, Versions, IndexEntries, Events int
	Problems                                               int
}

// knownTags are the tags of every record kind the store writes (keys.go).
var knownTags = map[byte]bool{'m': true, 'c': true, 'd': true, 'v': true, 'e': true, 'u': true, 'n': true,
	'r': true, 'k': true, 'i': true, 'x': true, 'l': true, 'o': true, 'q': true, 'T': true, 'Y': true}

// Check verifies, in one snapshot, that the store's records agree with one
// another, the way bbolt's Tx.Check verifies its pages: every record
// decodes; every document's stored versions end with its current version
// and lack none that the change log shows written here (an import may skip
// versions, truce.Service.Import), and are no more than its collection's
// historyLimit once it was written under that limit; the unique, reference,
// secondary and expiry indexes hold exactly the entries the live documents
// imply; the change log's seqs are strictly increasing, past the trim mark
// and not past the store's seq, and every kept version after the trim mark
// has its event, and every document event its version. It calls report
// for each problem found and returns the counts; an error means the check
// itself could not run. It reads every record and keeps the versions' seqs
// and the implied index entries in memory: a tool for an offline data
// directory (truce doctor) and tests, not for a request path.
func (s *Store) Check(ctx context.Context, report func(problem string)) (CheckStats, error) {
	if err := s.begin(); err != nil {
		return CheckStats{}, err
	}
	defer s.end()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	c := &checker{snap: snap, ctx: ctx, report: report,
		colls: map[string]*truce.Collection{}, docs: map[string]*docInfo{},
		unique: map[string]string{}, refs: map[string]bool{}, index: map[string]string{}, mayLack: map[string]bool{},
		versionSeqs: map[int64]verRef{}}
	err := c.run()
	c.stats.Problems = c.problems
	return c.stats, err
}

type checker struct {
	snap   *pebble.Snapshot
	ctx    context.Context
	report func(string)
	stats  CheckStats

	problems int
	seq      int64 // the store's seq (m\x00seq)
	trimmed  int64 // the change log's trim mark
	colls    map[string]*truce.Collection
	// docs holds every current document, live or not, by "col\x00id".
	docs map[string]*docInfo
	// unique, refs and index hold the entries the live documents imply,
	// by store key, with the id they point at; mayLack the index keys that
	// may be absent (an index being built).
	unique  map[string]string
	refs    map[string]bool
	index   map[string]string
	mayLack map[string]bool
	// versionSeqs maps the seq of every kept version after the trim mark
	// to the version; events tick them off.
	versionSeqs map[int64]verRef
}

type docInfo struct {
	d *truce.Document
	// first and last are the lowest and highest stored versions, 0 when
	// none is stored.
	first, last       int64
	firstSeq, lastSeq int64
	// gaps are the missing runs of versions between first and last, as
	// [from, to] pairs: a problem if the change log shows them written
	// here, not if an import skipped them (truce.Service.Import).
	gaps        [][2]int64
	lastDeleted bool
	count       int64
}

type verRef struct {
	col, id string
	version int64
	deleted bool
	seen    bool
}

func (c *checker) problem(format string, args ...any) {
	c.problems++
	c.report(fmt.Sprintf(format, args...))
}

// each calls fn for every record with the given prefix, in key order.
func (c *checker) each(prefix []byte, fn func(k, v []byte) error) error {
	upper := []byte(nil)
	if prefix != nil {
		upper = prefixEnd(prefix)
	}
	it, err := c.snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("pebble: check: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("pebble: check: read %q: %w", it.Key(), err)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}

func (c *checker) run() error {
	if err := c.readMeta(); err != nil {
		return err
	}
	// Every key has a known tag.
	if err := c.eachKey(); err != nil {
		return err
	}
	steps := []struct {
		tag byte
		fn  func(k, v []byte) error
	}{
		{tagCollection, c.collection},
		{tagDocument, c.document},
		{tagVersion, c.version},
		{tagUnique, c.uniqueEntry},
		{tagIndex, c.indexEntry},
		{tagReference, c.reference},
		{tagEvent, c.event},
	}
	for _, st := range steps {
		if err := c.each(appendTag(nil, st.tag), st.fn); err != nil {
			return err
		}
		if st.tag == tagVersion {
			c.checkHistories()
		}
	}
	c.leftovers()
	return nil
}

func (c *checker) readMeta() error {
	for _, m := range []struct {
		key []byte
		to  *int64
	}{{metaSeqKey, &c.seq}, {metaTrimKey, &c.trimmed}} {
		v, closer, err := c.snap.Get(m.key)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pebble: check: %w", err)
		}
		*m.to, err = decodeSeq(v)
		closer.Close()
		if err != nil {
			c.problem("meta %s: %v", m.key[2:], err)
		}
	}
	if c.trimmed > c.seq {
		c.problem("the change log is trimmed through seq %d, past the store's seq %d", c.trimmed, c.seq)
	}
	return nil
}

func (c *checker) eachKey() error {
	it, err := c.snap.NewIter(nil)
	if err != nil {
		return fmt.Errorf("pebble: check: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 2 || k[1] != sep || !knownTags[k[0]] {
			c.problem("key %q is of no kind the store writes", truncateKey(k))
		}
	}
	return it.Error()
}

func truncateKey(k []byte) []byte {
	if len(k) > 80 {
		return k[:80]
	}
	return k
}

// split2 splits the part of a key after its tag into a collection and the
// rest, at the first separator.
func split2(k []byte) (col string, rest []byte, ok bool) {
	i := bytes.IndexByte(k[2:], sep)
	if i < 0 {
		return "", nil, false
	}
	return string(k[2 : 2+i]), k[2+i+1:], true
}

func (c *checker) collection(k, v []byte) error {
	name := string(k[2:])
	c.stats.Collections++
	col, err := decodeCollection(v, name)
	if err != nil {
		c.problem("collection %s: %v", name, err)
		return nil
	}
	if !truce.ValidCollectionName(name) {
		c.problem("collection %q has an invalid name", name)
	}
	if err := col.Settings.Validate(); err != nil {
		c.problem("collection %s: its settings are invalid: %v", name, err)
	}
	c.colls[name] = col
	return nil
}

func (c *checker) document(k, v []byte) error {
	col, rest, ok := split2(k)
	if !ok {
		c.problem("document key %q is malformed", truncateKey(k))
		return nil
	}
	id := string(rest)
	c.stats.Documents++
	ref := col + "/" + id
	d, err := decodeDocument(v, col, id)
	if err != nil {
		c.problem("document %s: %v", ref, err)
		return nil
	}
	c.docs[col+"\x00"+id] = &docInfo{d: d}
	coll := c.colls[col]
	switch {
	case coll == nil:
		c.problem("document %s belongs to collection %s, which does not exist", ref, col)
		return nil
	case d.Version < 1:
		c.problem("document %s has version %d", ref, d.Version)
	case d.Seq > c.seq:
		c.problem("document %s was written at seq %d, past the store's seq %d", ref, d.Seq, c.seq)
	case d.Deleted != (d.Body == nil):
		c.problem("document %s: deleted is %v but it has %d bytes of body", ref, d.Deleted, len(d.Body))
	}
	if d.Deleted {
		return nil
	}
	e, err := truce.ImpliedEntries(&coll.Settings, d)
	d.Body = nil // what is left to check needs only the metadata
	if err != nil {
		c.problem("document %s: its body does not give its index entries: %v", ref, err)
		return nil
	}
	for f, val := range e.Unique {
		c.unique[string(uniqueKey(nil, col, f, val))] = id
	}
	for _, r := range e.References {
		c.refs[string(referenceKey(nil, r))] = true
	}
	for name, key := range e.Indexes {
		ik := string(append(indexPrefix(nil, col, name), key...))
		c.index[ik] = id
		if e.MayLack[name] {
			c.mayLack[ik] = true
		}
	}
	return nil
}

func (c *checker) version(k, v []byte) error {
	col, rest, ok := split2(k)
	if !ok || len(rest) < 9 || rest[len(rest)-9] != sep {
		c.problem("version key %q is malformed", truncateKey(k))
		return nil
	}
	id := string(rest[:len(rest)-9])
	n := int64(binary.BigEndian.Uint64(rest[len(rest)-8:]))
	c.stats.Versions++
	ref := fmt.Sprintf("%s/%s version %d", col, id, n)
	d, err := decodeDocument(v, col, id)
	if err != nil {
		c.problem("%s: %v", ref, err)
		return nil
	}
	if d.Version != n {
		c.problem("%s holds version %d", ref, d.Version)
	}
	info := c.docs[col+"\x00"+id]
	if info == nil {
		c.problem("%s is stored, but the document is not", ref)
		return nil
	}
	switch {
	case info.last == 0:
		info.first, info.firstSeq = n, d.Seq
	case n != info.last+1:
		info.gaps = append(info.gaps, [2]int64{info.last + 1, n - 1})
	}
	if info.last != 0 && d.Seq <= info.lastSeq {
		c.problem("%s was written at seq %d, not after the version before it (seq %d)", ref, d.Seq, info.lastSeq)
	}
	info.last, info.lastSeq, info.lastDeleted = n, d.Seq, d.Deleted
	info.count++
	if d.Seq > c.trimmed {
		if prev, dup := c.versionSeqs[d.Seq]; dup {
			c.problem("%s and %s/%s version %d share seq %d", ref, prev.col, prev.id, prev.version, d.Seq)
		}
		c.versionSeqs[d.Seq] = verRef{col: col, id: id, version: n, deleted: d.Deleted}
	}
	return nil
}

// checkHistories checks each document against its stored versions.
func (c *checker) checkHistories() {
	keys := make([]string, 0, len(c.docs))
	for k := range c.docs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		info := c.docs[k]
		d := info.d
		ref := d.Collection + "/" + d.ID
		if info.last == 0 {
			c.problem("%s is at version %d, but none of its versions is stored", ref, d.Version)
			continue
		}
		if info.last != d.Version || info.lastSeq != d.Seq || info.lastDeleted != d.Deleted {
			c.problem("%s is at version %d (seq %d), but its newest stored version is %d (seq %d)", ref, d.Version, d.Seq, info.last, info.lastSeq)
		}
		coll := c.colls[d.Collection]
		if coll == nil {
			continue
		}
		// A lower historyLimit applies from each document's next write on.
		if lim := int64(coll.Settings.HistoryLimit); lim > 0 && info.count > lim && d.Seq > coll.Seq {
			c.problem("%s keeps %d versions; its collection's historyLimit is %d", ref, info.count, lim)
		}
	}
}

func (c *checker) uniqueEntry(k, v []byte) error {
	c.stats.IndexEntries++
	col, _, _ := split2(k)
	if want, ok := c.unique[string(k)]; !ok || want != string(v) {
		c.problem("unique index of %s: an entry (%q) points at %q, which no live document implies", col, truncateKey(k), v)
	}
	delete(c.unique, string(k))
	return nil
}

func (c *checker) indexEntry(k, v []byte) error {
	c.stats.IndexEntries++
	col, rest, ok := split2(k)
	name := ""
	if ok {
		n, w := binary.Uvarint(rest)
		if w > 0 && uint64(len(rest)-w) >= n {
			name = string(rest[w : w+int(n)])
		}
	}
	if want, ok := c.index[string(k)]; !ok || want != string(v) {
		c.problem("index %s of %s: an entry (%q) points at %q, which no live document implies", name, col, truncateKey(k), v)
	}
	delete(c.index, string(k))
	return nil
}

func (c *checker) reference(k, v []byte) error {
	c.stats.IndexEntries++
	if !c.refs[string(k)] {
		c.problem("reference index: an entry (%q) that no live document implies", strings.ReplaceAll(string(truncateKey(k)), "\x00", "/"))
	}
	delete(c.refs, string(k))
	return nil
}

func (c *checker) event(k, v []byte) error {
	if len(k) != 10 {
		c.problem("event key %q is malformed", truncateKey(k))
		return nil
	}
	c.stats.Events++
	seq := int64(binary.BigEndian.Uint64(k[2:]))
	if seq <= c.trimmed || seq > c.seq {
		c.problem("event %d lies outside the change log (trimmed through %d, store seq %d)", seq, c.trimmed, c.seq)
	}
	e, err := decodeEvent(v, seq)
	if err != nil {
		c.problem("event %d: %v", seq, err)
		return nil
	}
	switch e.Type {
	case truce.EventDocumentCreated, truce.EventDocumentUpdated, truce.EventDocumentDeleted:
	default:
		return nil
	}
	vr, ok := c.versionSeqs[seq]
	if ok {
		if vr.col != e.Collection || vr.id != e.ID || vr.version != e.Version || vr.deleted != (e.Type == truce.EventDocumentDeleted) {
			c.problem("event %d (%s of %s/%s version %d) disagrees with the version written at its seq (%s/%s version %d)",
				seq, e.Type, e.Collection, e.ID, e.Version, vr.col, vr.id, vr.version)
		}
		vr.seen = true
		c.versionSeqs[seq] = vr
		return nil
	}
	// No kept version has this seq: fine if history no longer keeps the
	// version (trimmed, or written before its collection was dropped and
	// made again), not if it does.
	info := c.docs[e.Collection+"\x00"+e.ID]
	if info == nil || info.first == 0 {
		return nil
	}
	if seq >= info.firstSeq && e.Version >= info.first && e.Version <= info.last {
		for _, g := range info.gaps {
			if e.Version >= g[0] && e.Version <= g[1] {
				c.problem("%s/%s: its history lacks version %d, which event %d wrote", e.Collection, e.ID, e.Version, seq)
				return nil
			}
		}
		c.problem("event %d (%s of %s/%s version %d): the stored version %d was written at another seq", seq, e.Type, e.Collection, e.ID, e.Version, e.Version)
		return nil
	}
	// A version written under the collection's current settings (at or
	// after its record's seq) must be kept if its historyLimit keeps it.
	coll := c.colls[e.Collection]
	if coll == nil || seq < coll.Seq || e.Version >= info.first {
		return nil
	}
	if lim := int64(coll.Settings.HistoryLimit); lim == 0 || e.Version > info.last-lim {
		c.problem("%s/%s version %d (event %d) is not stored, though its collection's historyLimit (%d) keeps it", e.Collection, e.ID, e.Version, seq, lim)
	}
	return nil
}

// leftovers reports the implied entries that no record matched, and the
// versions without their event.
func (c *checker) leftovers() {
	for _, m := range []struct {
		what string
		keys map[string]string
	}{{"unique index", c.unique}, {"index", c.index}} {
		keys := make([]string, 0, len(m.keys))
		for k := range m.keys {
			if !c.mayLack[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			col, _, _ := split2([]byte(k))
			c.problem("%s of %s lacks the entry of live document %s (%q)", m.what, col, m.keys[k], truncateKey([]byte(k)))
		}
	}
	refs := make([]string, 0, len(c.refs))
	for k := range c.refs {
		refs = append(refs, k)
	}
	sort.Strings(refs)
	for _, k := range refs {
		c.problem("reference index lacks the entry %q of a live document", strings.ReplaceAll(k[2:], "\x00", "/"))
	}
	seqs := make([]int64, 0)
	for seq, vr := range c.versionSeqs {
		if !vr.seen {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		vr := c.versionSeqs[seq]
		c.problem("%s/%s version %d (seq %d) has no event in the change log", vr.col, vr.id, vr.version, seq)
	}
}
