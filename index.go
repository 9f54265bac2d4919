package truce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// The bounds of a collection's secondary indexes (Settings.Indexes).
const (
	// MaxIndexes is the most indexes a collection may declare.
	MaxIndexes = 16
	// MaxIndexPaths is the most paths one index may have.
	MaxIndexPaths = 8
	// maxPathBytes bounds one dotted path.
	maxPathBytes = 1024
)

// indexBuildBatch is how many documents one background step of an index
// build adds, in one Update: small enough that writes to the collection
// wait little behind it.
const indexBuildBatch = 256

// indexBuildInterval is how often Run looks for index builds that nothing
// announced: those a restart interrupted, and retries after a failure.
var indexBuildInterval = 5 * time.Second

// IndexBuild is the progress of building one index in the background: the
// documents up to After (by id) have their entries.
type IndexBuild struct {
	// Index is the paths of the index being built.
	Index []string `json:"index"`
	// After is the id of the last document the build has indexed; "" when
	// it has not begun.
	After string `json:"after"`
}

// reservedPaths are the reserved fields a query or an index may name: they
// come from the document's metadata, not its body.
var reservedPaths = []string{FieldID, FieldVersion, FieldCreatedAt, FieldUpdatedAt}

// checkPath reports what is wrong with a dotted path, or "" when it is
// usable: non-empty segments, and a reserved field only alone.
func checkPath(p string) string {
	if p == "" || len(p) > maxPathBytes {
		return "a path is 1 to " + itoa(maxPathBytes) + " bytes"
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return "path " + strconvQuote(p) + " has an empty segment"
		}
	}
	if strings.HasPrefix(segs[0], "_") {
		if len(segs) > 1 || !slices.Contains(reservedPaths, segs[0]) {
			return "path " + strconvQuote(p) + " names a reserved field; only " + strings.Join(reservedPaths, ", ") + " can be queried or indexed"
		}
	}
	return ""
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// validateIndexes checks Settings.Indexes.
func validateIndexes(indexes [][]string) error {
	if len(indexes) > MaxIndexes {
		return Errorf(CodeInvalidSettings, "indexes: %d indexes; a collection may have at most %d", len(indexes), MaxIndexes)
	}
	seen := map[string]bool{}
	for i, ix := range indexes {
		if len(ix) == 0 || len(ix) > MaxIndexPaths {
			return Errorf(CodeInvalidSettings, "indexes[%d]: an index is a list of 1 to %d dotted paths", i, MaxIndexPaths)
		}
		paths := map[string]bool{}
		for _, p := range ix {
			if msg := checkPath(p); msg != "" {
				return Errorf(CodeInvalidSettings, "indexes[%d]: %s", i, msg)
			}
			if paths[p] {
				return Errorf(CodeInvalidSettings, "indexes[%d] lists %q twice", i, p)
			}
			paths[p] = true
		}
		name := indexName(ix)
		if seen[name] {
			return Errorf(CodeInvalidSettings, "indexes lists %s twice", name)
		}
		seen[name] = true
	}
	return nil
}

// indexName is the name under which the Store keeps an index: its paths
// as a JSON array, which no two different lists of paths share.
func indexName(paths []string) string {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	for i, p := range paths {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p)
	}
	return string(append(b, ']'))
}

// docView reads the values of paths in a document, decoding its body once.
type docView struct {
	d       *Document
	body    map[string]any
	decoded bool
}

// get returns the value at a dotted path and whether the document has it.
func (v *docView) get(path string) (any, bool) {
	if strings.HasPrefix(path, "_") {
		switch path {
		case FieldID:
			return v.d.ID, true
		case FieldVersion:
			return float64(v.d.Version), true
		case FieldCreatedAt:
			return string(AppendTime(nil, v.d.CreatedAt)), true
		case FieldUpdatedAt:
			return string(AppendTime(nil, v.d.UpdatedAt)), true
		}
		return nil, false
	}
	if !v.decoded {
		v.decoded = true
		// Stored bodies are valid JSON objects. Numbers stay as written,
		// for projections; the collation reads them as floats.
		dec := json.NewDecoder(bytes.NewReader(v.d.Body))
		dec.UseNumber()
		_ = dec.Decode(&v.body)
	}
	var cur any = v.body
	for seg := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// indexKey returns the key of d in the index of paths: the collation
// encodings of its values, then its id, which makes keys unique.
func indexKey(paths []string, v *docView) []byte {
	b := make([]byte, 0, 64)
	for _, p := range paths {
		val, ok := v.get(p)
		b = appendCollated(b, val, ok)
	}
	return append(b, v.d.ID...)
}

// maintainIndexes moves a document's entries in the collection's
// secondary indexes from old, its live version before the write (nil for
// none), to new, the version written (nil for a tombstone). Every write to
// an indexed collection runs it, so it reads each indexed path of each
// version once, from the raw body, and builds the keys after them in the
// same buffer.
func maintainIndexes(tx Tx, settings *Settings, collection string, old, new *Document) error {
	if len(settings.Indexes) == 0 {
		return nil
	}
	paths := settings.Indexes[0]
	if len(settings.Indexes) > 1 {
		var union [MaxIndexes * MaxIndexPaths]string
		paths = union[:0]
		for _, ix := range settings.Indexes {
			for _, p := range ix {
				if !slices.Contains(paths, p) {
					paths = append(paths, p)
				}
			}
		}
	}
	// One buffer holds the values of both versions and then the keys,
	// which most writes fit in.
	var ov, nv collatedValues
	ov.buf = make([]byte, 0, 256)
	if old != nil {
		ov.collate(old, paths)
	}
	nv.buf = ov.buf[len(ov.buf):len(ov.buf)] // the same array, after old's
	if new != nil {
		nv.collate(new, paths)
	}
	// Each index's keys take no more than all the values and the id, old
	// and new.
	var n int
	if old != nil {
		n += len(ov.buf) + len(old.ID)
	}
	if new != nil {
		n += len(nv.buf) + len(new.ID)
	}
	keys := nv.buf[len(nv.buf):]
	if cap(keys) < n*len(settings.Indexes) {
		keys = make([]byte, 0, n*len(settings.Indexes))
	}
	for _, ix := range settings.Indexes {
		var ok, nk []byte
		if old != nil {
			ok = ov.appendKey(keys, ix, paths, old.ID)
			keys = ok[len(ok):]
		}
		if new != nil {
			nk = nv.appendKey(keys, ix, paths, new.ID)
			keys = nk[len(nk):]
		}
		if ok != nil && nk != nil && string(ok) == string(nk) {
			continue
		}
		name := indexName(ix)
		if ok != nil {
			if err := tx.DeleteIndexEntry(collection, name, ok); err != nil {
				return err
			}
		}
		if nk != nil {
			if err := tx.PutIndexEntry(collection, name, nk, new.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// collatedValues holds the collation encodings of a document's values at
// some paths, end to end in one buffer.
type collatedValues struct {
	buf  []byte
	n    int                             // how many values buf holds
	ends [MaxIndexes * MaxIndexPaths]int // where each value ends in buf
}

// collate sets v to the encodings of d's values at paths, reading only the
// parts of the body the paths lead to. It encodes exactly as
// appendCollated does for the decoded value.
func (v *collatedValues) collate(d *Document, paths []string) {
	v.buf, v.n = v.buf[:0], 0
	for _, p := range paths {
		if strings.HasPrefix(p, "_") {
			val, ok := (&docView{d: d}).get(p)
			v.buf = appendCollated(v.buf, val, ok)
		} else {
			v.buf = appendCollatedAt(v.buf, d.Body, p)
		}
		v.ends[v.n] = len(v.buf)
		v.n++
	}
}

// at returns the encoding of the value of the i-th path.
func (v *collatedValues) at(i int) []byte {
	start := 0
	if i > 0 {
		start = v.ends[i-1]
	}
	return v.buf[start:v.ends[i]]
}

// appendKey appends to b the key of the document id in the index ix, from
// the values v holds for paths, which include ix's.
func (v *collatedValues) appendKey(b []byte, ix, paths []string, id string) []byte {
	for _, p := range ix {
		b = append(b, v.at(slices.Index(paths, p))...)
	}
	return append(b, id...)
}

// indexKeyOf returns the key of d in the index ix.
func indexKeyOf(ix []string, d *Document) []byte {
	var v collatedValues
	v.collate(d, ix)
	return v.appendKey(nil, ix, ix, d.ID)
}

// appendCollatedAt appends the encoding of the value at the dotted path of
// the JSON object obj.
func appendCollatedAt(b, obj []byte, path string) []byte {
	for {
		first, rest, nested := strings.Cut(path, ".")
		v, ok := member(obj, first)
		switch {
		case !ok:
			return append(b, tagMissing)
		case !nested:
			return appendCollatedRaw(b, v)
		case len(v) == 0 || v[0] != '{':
			return append(b, tagMissing)
		}
		obj, path = v, rest
	}
}

// member returns the raw value of the member name of the JSON object obj,
// which is valid JSON (a stored body, or a part of one).
func member(obj []byte, name string) (jsontext.Value, bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return nil, false
		}
		kend := skipString(obj, i)
		if kend < 0 {
			return nil, false
		}
		key := obj[i:kend]
		i = skipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		i = skipSpace(obj, i+1)
		vend := skipValue(obj, i)
		if vend < 0 {
			return nil, false
		}
		if keyEquals(key, name) {
			return jsontext.Value(obj[i:vend]), true
		}
		i = skipSpace(obj, vend)
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i++
	}
}

// keyEquals reports whether the quoted JSON string key spells name.
func keyEquals(key []byte, name string) bool {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	u, err := jsontext.AppendUnquote(nil, key)
	return err == nil && string(u) == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i], or
// -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value that starts at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// appendCollatedRaw appends the encoding of one raw JSON value.
func appendCollatedRaw(b []byte, v jsontext.Value) []byte {
	switch v.Kind() {
	case 'n':
		return append(b, tagNull)
	case 't':
		return append(b, tagTrue)
	case 'f':
		return append(b, tagFalse)
	case '0':
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return appendCollatedNumber(append(b, tagNumber), f)
		}
	case '"':
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return append(appendStringBody(append(b, tagString), string(inner)), 0x00, 0x01)
		}
		if s, err := jsontext.AppendUnquote(nil, v); err == nil {
			return append(appendStringBody(append(b, tagString), string(s)), 0x00, 0x01)
		}
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return append(b, tagNull)
	}
	return appendCollated(b, x, true)
}

// changeIndexes applies, inside the Update of PutCollection, a change of
// a collection's indexes from old to new settings: it drops the entries of
// the indexes that go, and schedules a build for the indexes that come
// when the collection has live documents. It sets new.IndexBuilds.
func changeIndexes(tx Tx, name string, old, new *Settings) (building bool, err error) {
	var builds []IndexBuild
	newNames := map[string]bool{}
	for _, ix := range new.Indexes {
		newNames[indexName(ix)] = true
	}
	oldNames := map[string]bool{}
	if old != nil {
		for _, ix := range old.Indexes {
			n := indexName(ix)
			oldNames[n] = true
			if !newNames[n] {
				if err := tx.DropIndex(name, n); err != nil {
					return false, err
				}
			}
		}
		for _, b := range old.IndexBuilds {
			if newNames[indexName(b.Index)] {
				builds = append(builds, b)
			}
		}
	}
	var hasDocs bool
	if old != nil {
		docs, err := tx.Documents(name, "", 1)
		if err != nil {
			return false, err
		}
		hasDocs = len(docs) > 0
	}
	for _, ix := range new.Indexes {
		if n := indexName(ix); !oldNames[n] && hasDocs {
			// A new index's old entries, if any, are from a time it was
			// declared before: start clean.
			if err := tx.DropIndex(name, n); err != nil {
				return false, err
			}
			builds = append(builds, IndexBuild{Index: slices.Clone(ix)})
		}
	}
	new.IndexBuilds = builds
	return len(builds) > 0, nil
}

// buildingIndex reports whether the index of paths is still being built.
func (s *Settings) buildingIndex(paths []string) bool {
	for _, b := range s.IndexBuilds {
		if slices.Equal(b.Index, paths) {
			return true
		}
	}
	return false
}

// BuildIndexes runs the builds of the indexes added to collections that
// had documents, a bounded Update at a time, until none is left or ctx
// ends. Run calls it when PutCollection schedules a build, and now and then
// to resume builds that a restart interrupted; programs that do not call
// Run can call it themselves. While an index builds, every write keeps its
// entries as it keeps a finished index's, and queries that need it are
// refused (CodeIndexBuilding).
func (s *Service) BuildIndexes(ctx context.Context) error {
	for {
		var names []string
		err := s.store.View(ctx, func(tx ReadTx) error {
			names = names[:0]
			cs, err := tx.Collections()
			for _, c := range cs {
				if len(c.Settings.IndexBuilds) > 0 {
					names = append(names, c.Name)
				}
			}
			return err
		})
		if err != nil || len(names) == 0 {
			return err
		}
		for _, name := range names {
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				more, err := s.buildIndexStep(ctx, name)
				if err != nil {
					return err
				}
				if !more {
					break
				}
			}
		}
	}
}

// buildIndexStep adds the entries of up to indexBuildBatch documents to
// the first index being built in a collection, and records the progress
// in the same Update. It reports whether any build is left.
func (s *Service) buildIndexStep(ctx context.Context, name string) (more bool, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		c, err := getCollection(tx, name)
		if err != nil || c == nil || len(c.Settings.IndexBuilds) == 0 {
			more = false
			return err
		}
		c.Settings.IndexBuilds = slices.Clone(c.Settings.IndexBuilds)
		b := &c.Settings.IndexBuilds[0]
		docs, err := tx.Documents(name, b.After, indexBuildBatch)
		if err != nil {
			return err
		}
		ix := indexName(b.Index)
		for _, d := range docs {
			if err := tx.PutIndexEntry(name, ix, indexKeyOf(b.Index, d), d.ID); err != nil {
				return err
			}
		}
		if len(docs) < indexBuildBatch {
			c.Settings.IndexBuilds = c.Settings.IndexBuilds[1:]
			if len(c.Settings.IndexBuilds) == 0 {
				c.Settings.IndexBuilds = nil
			}
		} else {
			b.After = docs[len(docs)-1].ID
		}
		if c.Seq, err = tx.NextSeq(); err != nil {
			return err
		}
		more = len(c.Settings.IndexBuilds) > 0
		return tx.PutCollection(c)
	})
	return more, err
}

// runIndexBuilder is Run's loop that builds indexes: at once when
// PutCollection schedules a build, and every indexBuildInterval.
func (s *Service) runIndexBuilder(ctx context.Context) {
	t := time.NewTicker(indexBuildInterval)
	defer t.Stop()
	for {
		if err := s.BuildIndexes(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.upkeepFailed(ctx, "build indexes", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.indexKick:
		}
	}
}

// kickIndexBuilder wakes runIndexBuilder.
func (s *Service) kickIndexBuilder() {
	select {
	case s.indexKick <- struct{}{}:
	default:
	}
}
