package storetest

import (
	"encoding/json"
	"testing"

	"github.com/trucedb/truce"
)

var collectionTests = []test{
	{"Collection/Missing", testCollectionMissing},
	{"Collection/PutGet", testCollectionPutGet},
	{"Collections/Order", testCollectionsOrder},
	{"CollectionStats", testCollectionStats},
	{"DropCollection/Committed", testDropCollection},
	{"DropCollection/OwnWrites", testDropCollectionOwnWrites},
}

func collection(name string, seq int64) *truce.Collection {
	return &truce.Collection{Name: name, Seq: seq, CreatedAt: at(0), UpdatedAt: at(int(seq))}
}

func putCollections(h *harness, cs ...*truce.Collection) {
	h.t.Helper()
	h.update(func(tx truce.Tx) error {
		for _, c := range cs {
			if err := tx.PutCollection(c); err != nil {
				return err
			}
		}
		return nil
	})
}

func testCollectionMissing(t *testing.T, h *harness) {
	putCollections(h, collection("ab", 1))
	h.read(func(tx truce.ReadTx) error {
		_, err := tx.Collection("a")
		noRecord(t, "Collection(a)", err)
		return nil
	})
}

func testCollectionPutGet(t *testing.T, h *harness) {
	want := &truce.Collection{
		Name: "people",
		Settings: truce.Settings{
			ConflictPolicy:       truce.PolicyLastWriteWins,
			RequirePreconditions: true,
			Unique:               []string{"email", "handle"},
			References:           map[string]string{"team": "teams", "manager": "people"},
			Schema:               json.RawMessage(`{"type":"object","properties":{"email":{"type":"string","pattern":"^<.+>$"}}}`),
			HistoryLimit:         10,
		},
		Seq:       7,
		CreatedAt: at(1),
		UpdatedAt: at(2),
	}
	h.update(func(tx truce.Tx) error {
		if err := tx.PutCollection(want); err != nil {
			return err
		}
		got, err := tx.Collection("people")
		check(t, "Collection in the Update that put it", err)
		diff(t, "collection read in its own Update", want, got)
		return nil
	})
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Collection("people")
		check(t, "Collection", err)
		diff(t, "collection", want, got)
		return nil
	})

	// A replacement replaces every field, including to zero values.
	repl := collection("people", 9)
	putCollections(h, repl)
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Collection("people")
		check(t, "Collection", err)
		diff(t, "replaced collection", repl, got)
		return nil
	})
}

func testCollectionsOrder(t *testing.T, h *harness) {
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Collections()
		check(t, "Collections", err)
		if len(got) != 0 {
			t.Errorf("Collections of an empty store = %d records, want none", len(got))
		}
		return nil
	})
	names := []string{"b", "ab", "a", "a-b", "a_b", "a0", "z9", "0"}
	for i, n := range names {
		putCollections(h, collection(n, int64(i+1)))
	}
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Collections()
		check(t, "Collections", err)
		var gotNames []string
		for _, c := range got {
			gotNames = append(gotNames, c.Name)
			if c.Seq == 0 {
				t.Errorf("Collections returned %s without its fields", c.Name)
			}
		}
		diff(t, "collection names in byte order", []string{"0", "a", "a-b", "a0", "a_b", "ab", "b", "z9"}, gotNames)
		return nil
	})
}

func testCollectionStats(t *testing.T, h *harness) {
	putCollections(h, collection("a", 1), collection("ab", 2))
	h.put(
		doc("a", "1", 1, 3), doc("a", "2", 1, 3), doc("a", "3", 1, 3),
		tombstone("a", "4", 2, 3),
		doc("ab", "1", 1, 3), tombstone("ab", "2", 2, 3),
	)
	h.put(tombstone("a", "1", 2, 4)) // live → deleted
	h.put(doc("a", "4", 3, 5))       // deleted → live
	h.read(func(tx truce.ReadTx) error {
		for _, c := range []struct {
			name string
			want truce.CollectionStats
		}{
			{"a", truce.CollectionStats{Documents: 3, Deleted: 1}},
			{"ab", truce.CollectionStats{Documents: 1, Deleted: 1}},
			{"empty", truce.CollectionStats{}},
		} {
			got, err := tx.CollectionStats(c.name)
			check(t, "CollectionStats", err)
			diff(t, "stats of "+c.name, c.want, got)
		}
		return nil
	})
}

// dropFixture fills collections a and ab (whose keys share a prefix with
// a's in a naive layout) with every kind of record.
func dropFixture(h *harness) {
	h.t.Helper()
	h.update(func(tx truce.Tx) error {
		for _, c := range []string{"a", "ab"} {
			if err := tx.PutCollection(collection(c, 1)); err != nil {
				return err
			}
			for _, d := range []*truce.Document{
				doc(c, "x", 1, 1), doc(c, "x", 2, 1), doc(c, "y", 1, 1), tombstone(c, "z", 1, 1),
			} {
				if err := tx.PutDocument(d); err != nil {
					return err
				}
			}
			if err := tx.PutUnique(c, "email", []byte(`"x@example.com"`), "x"); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkDropped checks that collection a is gone and ab is whole.
func checkDropped(t *testing.T, tx truce.ReadTx) {
	t.Helper()
	_, err := tx.Collection("a")
	noRecord(t, "Collection(a) after drop", err)
	_, err = tx.Document("a", "x")
	noRecord(t, "Document(a, x) after drop", err)
	_, err = tx.Version("a", "x", 1)
	noRecord(t, "Version(a, x, 1) after drop", err)
	_, err = tx.UniqueHolder("a", "email", []byte(`"x@example.com"`))
	noRecord(t, "UniqueHolder(a) after drop", err)
	docs, err := tx.Documents("a", "", 100)
	check(t, "Documents(a)", err)
	diff(t, "Documents(a) after drop", []string{}, ids(docs))
	vs, err := tx.Versions("a", "x", 0, 100)
	check(t, "Versions(a, x)", err)
	diff(t, "Versions(a, x) after drop", []int64{}, versions(vs))
	st, err := tx.CollectionStats("a")
	check(t, "CollectionStats(a)", err)
	diff(t, "CollectionStats(a) after drop", truce.CollectionStats{}, st)
	cs, err := tx.Collections()
	check(t, "Collections", err)
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	diff(t, "Collections after drop", []string{"ab"}, names)

	_, err = tx.Collection("ab")
	check(t, "Collection(ab) after dropping a", err)
	d, err := tx.Document("ab", "x")
	check(t, "Document(ab, x) after dropping a", err)
	diff(t, "ab/x after dropping a", doc("ab", "x", 2, 1), d)
	docs, err = tx.Documents("ab", "", 100)
	check(t, "Documents(ab)", err)
	diff(t, "Documents(ab) after dropping a", []string{"x", "y"}, ids(docs))
	vs, err = tx.Versions("ab", "x", 0, 100)
	check(t, "Versions(ab, x)", err)
	diff(t, "Versions(ab, x) after dropping a", []int64{2, 1}, versions(vs))
	holder, err := tx.UniqueHolder("ab", "email", []byte(`"x@example.com"`))
	check(t, "UniqueHolder(ab)", err)
	diff(t, "UniqueHolder(ab) after dropping a", "x", holder)
	st, err = tx.CollectionStats("ab")
	check(t, "CollectionStats(ab)", err)
	diff(t, "CollectionStats(ab) after dropping a", truce.CollectionStats{Documents: 2, Deleted: 1}, st)
}

func testDropCollection(t *testing.T, h *harness) {
	dropFixture(h)
	h.update(func(tx truce.Tx) error { return tx.DropCollection("a") })
	h.read(func(tx truce.ReadTx) error {
		checkDropped(t, tx)
		return nil
	})
	h.reopen()
	h.view(func(tx truce.ReadTx) error {
		checkDropped(t, tx)
		return nil
	})

	// A collection re-created under the same name starts empty.
	h.put(doc("a", "w", 1, 2))
	h.read(func(tx truce.ReadTx) error {
		docs, err := tx.Documents("a", "", 100)
		check(t, "Documents", err)
		diff(t, "documents of the re-created collection", []string{"w"}, ids(docs))
		vs, err := tx.Versions("a", "x", 0, 100)
		check(t, "Versions", err)
		diff(t, "old versions in the re-created collection", []int64{}, versions(vs))
		return nil
	})
}

func testDropCollectionOwnWrites(t *testing.T, h *harness) {
	dropFixture(h)
	h.update(func(tx truce.Tx) error {
		if err := tx.DropCollection("a"); err != nil {
			return err
		}
		checkDropped(t, tx)
		return nil
	})
}
