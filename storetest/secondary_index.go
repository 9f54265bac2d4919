package storetest

import (
	"errors"
	"testing"

	"github.com/trucedb/truce"
)

// secondaryIndexTests check the secondary indexes that queries read
// (IndexEntries, PutIndexEntry, DeleteIndexEntry, DropIndex); index.go
// checks the unique and reference indexes.
var secondaryIndexTests = []test{
	{"IndexEntries/Ranges", testIndexEntriesRanges},
	{"IndexEntries/Isolation", testIndexEntriesIsolation},
	{"IndexEntries/Writes", testIndexEntriesWrites},
	{"IndexEntries/KeyBuffers", testIndexEntriesKeyBuffers},
	{"IndexEntries/DropIndex", testDropIndex},
	{"IndexEntries/DropCollection", testIndexEntriesDropCollection},
}

var errRollback = errors.New("storetest: rolled back on purpose")

// indexFixture holds keys that a naive store gets wrong: a key that is a
// prefix of another, bytes 0x00 and 0xff, and the empty key.
var indexFixture = []truce.IndexEntry{
	{Key: []byte{}, ID: "empty"},
	{Key: []byte{0x00}, ID: "zero"},
	{Key: []byte{0x00, 0x00}, ID: "zero-zero"},
	{Key: []byte("a"), ID: "a"},
	{Key: []byte("a\x00"), ID: "a-zero"},
	{Key: []byte("ab"), ID: "ab"},
	{Key: []byte("a\xff"), ID: "a-ff"},
	{Key: []byte("b"), ID: "b"},
	{Key: []byte{0xff, 0xff}, ID: "ff-ff"},
}

func putIndexEntries(h *harness, col, index string, entries []truce.IndexEntry) {
	h.t.Helper()
	h.update(func(tx truce.Tx) error {
		// In reverse, so that a store that returns insertion order fails.
		for i := len(entries) - 1; i >= 0; i-- {
			if err := tx.PutIndexEntry(col, index, entries[i].Key, entries[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func entryIDs(es []truce.IndexEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testIndexEntriesRanges(t *testing.T, h *harness) {
	putIndexEntries(h, "q", `["status","total"]`, indexFixture)
	all := entryIDs(indexFixture)
	rev := func(s []string) []string {
		out := make([]string, len(s))
		for i, v := range s {
			out[len(s)-1-i] = v
		}
		return out
	}
	cases := []struct {
		name     string
		from, to []byte
		reverse  bool
		limit    int
		want     []string
	}{
		{"everything", nil, nil, false, 100, all},
		{"everything, empty from", []byte{}, nil, false, 100, all},
		{"everything reversed", nil, nil, true, 100, rev(all)},
		{"limit", nil, nil, false, 3, all[:3]},
		{"limit reversed", nil, nil, true, 2, []string{"ff-ff", "b"}},
		{"from is inclusive", []byte("a"), nil, false, 100, []string{"a", "a-zero", "ab", "a-ff", "b", "ff-ff"}},
		{"to is exclusive", []byte("a"), []byte("ab"), false, 100, []string{"a", "a-zero"}},
		{"a prefix range", []byte("a"), []byte("b"), false, 100, []string{"a", "a-zero", "ab", "a-ff"}},
		{"a prefix range reversed", []byte("a"), []byte("b"), true, 100, []string{"a-ff", "ab", "a-zero", "a"}},
		{"a prefix range reversed, limited", []byte("a"), []byte("b"), true, 1, []string{"a-ff"}},
		{"zero bytes", []byte{0x00}, []byte{0x01}, false, 100, []string{"zero", "zero-zero"}},
		{"up to the empty key's successor", nil, []byte{0x00}, false, 100, []string{"empty"}},
		{"high bytes", []byte{0xff}, nil, false, 100, []string{"ff-ff"}},
		{"empty range", []byte("b"), []byte("b"), false, 100, []string{}},
		{"inverted range", []byte("b"), []byte("a"), false, 100, []string{}},
		{"nothing after the last", []byte{0xff, 0xff, 0x00}, nil, false, 100, []string{}},
	}
	h.read(func(tx truce.ReadTx) error {
		for _, c := range cases {
			got, err := tx.IndexEntries("q", `["status","total"]`, c.from, c.to, c.reverse, c.limit)
			check(t, "IndexEntries "+c.name, err)
			diff(t, "IndexEntries "+c.name, c.want, entryIDs(got))
		}
		got, err := tx.IndexEntries("q", `["status","total"]`, nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "IndexEntries keys and ids", indexFixture, got)
		none, err := tx.IndexEntries("q", `["other"]`, nil, nil, false, 100)
		check(t, "IndexEntries of an index without entries", err)
		diff(t, "IndexEntries of an index without entries", []string{}, entryIDs(none))
		none, err = tx.IndexEntries("nope", `["status","total"]`, nil, nil, false, 100)
		check(t, "IndexEntries of a collection without entries", err)
		diff(t, "IndexEntries of a collection without entries", []string{}, entryIDs(none))
		return nil
	})
	h.reopen()
	h.view(func(tx truce.ReadTx) error {
		got, err := tx.IndexEntries("q", `["status","total"]`, nil, nil, false, 100)
		check(t, "IndexEntries after reopen", err)
		diff(t, "IndexEntries after reopen", indexFixture, got)
		return nil
	})
}

// testIndexEntriesIsolation checks that index names and collections whose
// names are prefixes of each other keep their entries apart.
func testIndexEntriesIsolation(t *testing.T, h *harness) {
	type entry struct{ col, index, key, id string }
	entries := []entry{
		{"a", "x", "1", "a-x"},
		{"a", "xy", "1", "a-xy"},
		{"a", "x", "y1", "a-x-y1"}, // ("x", "y1") must not meet ("xy", "1")
		{"ab", "x", "1", "ab-x"},
		{"a", `["a","b"]`, "1", "a-json"},
	}
	h.update(func(tx truce.Tx) error {
		for _, e := range entries {
			if err := tx.PutIndexEntry(e.col, e.index, []byte(e.key), e.id); err != nil {
				return err
			}
		}
		return nil
	})
	h.read(func(tx truce.ReadTx) error {
		for _, c := range []struct {
			col, index string
			want       []string
		}{
			{"a", "x", []string{"a-x", "a-x-y1"}},
			{"a", "xy", []string{"a-xy"}},
			{"ab", "x", []string{"ab-x"}},
			{"a", `["a","b"]`, []string{"a-json"}},
			{"a", "y", []string{}},
		} {
			got, err := tx.IndexEntries(c.col, c.index, nil, nil, false, 100)
			check(t, "IndexEntries", err)
			diff(t, "IndexEntries("+c.col+", "+c.index+")", c.want, entryIDs(got))
		}
		return nil
	})
}

// testIndexEntriesWrites checks replacing and deleting entries, and that
// an Update reads its own index writes.
// testIndexEntriesKeyBuffers: a Store keeps no reference to the keys it is
// given, since the Service writes them all from one buffer it reuses.
func testIndexEntriesKeyBuffers(t *testing.T, h *harness) {
	buf := []byte("key-a")
	h.update(func(tx truce.Tx) error {
		if err := tx.PutIndexEntry("q", "i", buf, "a"); err != nil {
			return err
		}
		copy(buf, "key-b")
		if err := tx.PutIndexEntry("q", "i", buf, "b"); err != nil {
			return err
		}
		copy(buf, "key-c")
		if err := tx.PutIndexEntry("q", "i", buf, "c"); err != nil {
			return err
		}
		copy(buf, "key-b")
		err := tx.DeleteIndexEntry("q", "i", buf)
		copy(buf, "key-c")
		return err
	})
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.IndexEntries("q", "i", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "keys after writes from one buffer", []string{"key-a", "key-c"}, entryKeys(got))
		return nil
	})
}

func entryKeys(es []truce.IndexEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, string(e.Key))
	}
	return out
}

func testIndexEntriesWrites(t *testing.T, h *harness) {
	putIndexEntries(h, "q", "i", indexFixture)
	h.update(func(tx truce.Tx) error {
		if err := tx.PutIndexEntry("q", "i", []byte("a"), "a2"); err != nil { // replace
			return err
		}
		if err := tx.DeleteIndexEntry("q", "i", []byte("ab")); err != nil {
			return err
		}
		if err := tx.DeleteIndexEntry("q", "i", []byte("absent")); err != nil { // absent: no error
			return err
		}
		if err := tx.PutIndexEntry("q", "i", []byte("aa"), "aa"); err != nil {
			return err
		}
		got, err := tx.IndexEntries("q", "i", []byte("a"), []byte("b"), false, 100)
		check(t, "IndexEntries in the Update that wrote", err)
		diff(t, "IndexEntries in the Update that wrote", []string{"a2", "a-zero", "aa", "a-ff"}, entryIDs(got))
		got, err = tx.IndexEntries("q", "i", []byte("a"), []byte("b"), true, 2)
		check(t, "IndexEntries reversed in the Update that wrote", err)
		diff(t, "IndexEntries reversed in the Update that wrote", []string{"a-ff", "aa"}, entryIDs(got))
		return nil
	})
	// A failed Update leaves the index as it was.
	_ = h.store.Update(ctx(t), func(tx truce.Tx) error {
		if err := tx.PutIndexEntry("q", "i", []byte("a1"), "lost"); err != nil {
			return err
		}
		if err := tx.DeleteIndexEntry("q", "i", []byte("b")); err != nil {
			return err
		}
		return errRollback
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.IndexEntries("q", "i", []byte("a"), nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "IndexEntries after the writes", []string{"a2", "a-zero", "aa", "a-ff", "b", "ff-ff"}, entryIDs(got))
		return nil
	})
}

func testDropIndex(t *testing.T, h *harness) {
	putIndexEntries(h, "q", "i", indexFixture)
	putIndexEntries(h, "q", "i2", indexFixture[:2])
	putIndexEntries(h, "q2", "i", indexFixture[:1])
	h.update(func(tx truce.Tx) error {
		if err := tx.PutUnique("q", "email", []byte(`"x"`), "x"); err != nil {
			return err
		}
		if err := tx.DropIndex("q", "i"); err != nil {
			return err
		}
		got, err := tx.IndexEntries("q", "i", nil, nil, false, 100)
		check(t, "IndexEntries after DropIndex in the same Update", err)
		diff(t, "IndexEntries after DropIndex in the same Update", []string{}, entryIDs(got))
		return tx.DropIndex("q", "never") // no entries: no error
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.IndexEntries("q", "i", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "the dropped index", []string{}, entryIDs(got))
		got, err = tx.IndexEntries("q", "i2", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "another index of the collection", []string{"empty", "zero"}, entryIDs(got))
		got, err = tx.IndexEntries("q2", "i", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "the same index name in another collection", []string{"empty"}, entryIDs(got))
		holder, err := tx.UniqueHolder("q", "email", []byte(`"x"`))
		check(t, "UniqueHolder", err)
		diff(t, "a unique entry beside the dropped index", "x", holder)
		return nil
	})
	// Entries put after the drop are kept.
	putIndexEntries(h, "q", "i", indexFixture[3:4])
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.IndexEntries("q", "i", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "the index rebuilt after the drop", []string{"a"}, entryIDs(got))
		return nil
	})
}

func testIndexEntriesDropCollection(t *testing.T, h *harness) {
	putCollections(h, collection("a", 1), collection("ab", 1))
	putIndexEntries(h, "a", "i", indexFixture)
	putIndexEntries(h, "ab", "i", indexFixture[:2])
	h.update(func(tx truce.Tx) error { return tx.DropCollection("a") })
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.IndexEntries("a", "i", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "IndexEntries of the dropped collection", []string{}, entryIDs(got))
		got, err = tx.IndexEntries("ab", "i", nil, nil, false, 100)
		check(t, "IndexEntries", err)
		diff(t, "IndexEntries of the other collection", []string{"empty", "zero"}, entryIDs(got))
		return nil
	})
}
