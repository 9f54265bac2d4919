package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/trucedb/truce"
)

var documentTests = []test{
	{"Document/Missing", testDocumentMissing},
	{"Document/PutGet", testDocumentPutGet},
	{"Documents/Pages", testDocumentsPages},
	{"Versions/NewestFirst", testVersionsNewestFirst},
	{"TrimVersions", testTrimVersions},
}

func testDocumentMissing(t *testing.T, h *harness) {
	h.put(doc("ab", "x", 1, 1), doc("a", "xy", 1, 1))
	for _, c := range [][2]string{{"a", "x"}, {"ab", "y"}, {"Bad Name", "x"}, {"a", "bad/id"}} {
		_, err := h.store.Document(ctx(t), c[0], c[1])
		noRecord(t, "Store.Document("+c[0]+", "+c[1]+")", err)
	}
	h.read(func(tx truce.ReadTx) error {
		_, err := tx.Document("a", "x")
		noRecord(t, "Document(a, x)", err)
		_, err = tx.Version("a", "x", 1)
		noRecord(t, "Version(a, x, 1)", err)
		_, err = tx.Version("a", "xy", 2)
		noRecord(t, "Version(a, xy, 2)", err)
		return nil
	})
}

func testDocumentPutGet(t *testing.T, h *harness) {
	v1 := doc("notes", "n:1@home", 1, 3)
	v1.Body = []byte(`{"title":"héllo \u0000 wörld","n":[1,2.5,null],"o":{}}`)
	v2 := doc("notes", "n:1@home", 2, 5)
	v2.Body = []byte(`{}`)
	v3 := tombstone("notes", "n:1@home", 3, 8)
	v4 := doc("notes", "n:1@home", 4, 9)
	v4.CreatedAt = at(4)

	for i, want := range []*truce.Document{v1, v2, v3, v4} {
		h.update(func(tx truce.Tx) error {
			if err := tx.PutDocument(want); err != nil {
				return err
			}
			got, err := tx.Document(want.Collection, want.ID)
			check(t, "Document in the Update that put it", err)
			diff(t, "document read in its own Update", want, got)
			return nil
		})
		h.read(func(tx truce.ReadTx) error {
			got, err := tx.Document(want.Collection, want.ID)
			check(t, "Document", err)
			diff(t, "current document after write "+itoa(int64(i+1)), want, got)
			return nil
		})
		got, err := h.store.Document(ctx(t), want.Collection, want.ID)
		check(t, "Store.Document", err)
		diff(t, "Store.Document after write "+itoa(int64(i+1)), want, got)
	}
	h.reopen()
	got, err := h.store.Document(ctx(t), "notes", "n:1@home")
	check(t, "Store.Document", err)
	diff(t, "Store.Document after reopen", v4, got)
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Document("notes", "n:1@home")
		check(t, "Document", err)
		diff(t, "current document after reopen", v4, got)
		for _, want := range []*truce.Document{v1, v2, v3, v4} {
			got, err := tx.Version("notes", "n:1@home", want.Version)
			check(t, "Version", err)
			diff(t, "version "+itoa(want.Version), want, got)
		}
		return nil
	})
}

func testDocumentsPages(t *testing.T, h *harness) {
	// Ids chosen so that a store that sorts by anything but bytes, or whose
	// keys let one id's prefix swallow another, gets the order wrong.
	live := []string{"-", "0", "9", ":", "@", "A", "Z", "_", "a", "a-b", "a.b", "a:b", "aa", "ab", "b", "z", "~", "~~"}
	dead := []string{"a.", "m", "zz"}
	var all []*truce.Document
	for _, id := range live {
		all = append(all, doc("d", id, 1, 1))
	}
	for _, id := range dead {
		all = append(all, tombstone("d", id, 2, 1))
	}
	// Neighbouring collections must not leak in.
	all = append(all, doc("dd", "a", 1, 1), doc("c", "z", 1, 1), doc("d-", "a", 1, 1))
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	h.put(all...)

	want := slices.Clone(live)
	slices.Sort(want)
	h.read(func(tx truce.ReadTx) error {
		for _, limit := range []int{1, 2, 5, len(live), 1000} {
			var got []string
			after := ""
			for page := 0; page <= len(live)+1; page++ {
				docs, err := tx.Documents("d", after, limit)
				check(t, "Documents", err)
				if len(docs) > limit {
					t.Fatalf("Documents(limit %d) returned %d documents", limit, len(docs))
				}
				for _, d := range docs {
					if d.Deleted || d.Collection != "d" || d.Body == nil {
						t.Errorf("Documents returned %+v", d)
					}
				}
				got = append(got, ids(docs)...)
				if len(docs) < limit {
					break
				}
				after = docs[len(docs)-1].ID
			}
			diff(t, "ids paged with limit "+itoa(int64(limit)), want, got)
		}

		// after need not be an existing id, and may be a tombstone's.
		for _, c := range []struct{ after, first string }{
			{"a.", "a.b"}, // a tombstone's id
			{"a,", "a-b"}, // between "a" and "a-b"
			{"m", "z"},    // a tombstone
			{"~~", ""},    // the last id
			{"~~~", ""},   // past the end
			{"a", "a-b"},  // a live id is excluded
			{"!", "-"},    // before everything
		} {
			docs, err := tx.Documents("d", c.after, 1)
			check(t, "Documents", err)
			first := ""
			if len(docs) > 0 {
				first = docs[0].ID
			}
			if first != c.first {
				t.Errorf("Documents(after %q) starts at %q, want %q", c.after, first, c.first)
			}
		}
		got, err := tx.Documents("d", "z", 1)
		check(t, "Documents", err)
		if len(got) == 1 {
			diff(t, "document returned by Documents", doc("d", "~", 1, 1), got[0])
		}
		docs, err := tx.Documents("nothing", "", 10)
		check(t, "Documents", err)
		diff(t, "Documents of an empty collection", []string{}, ids(docs))
		return nil
	})
}

func testVersionsNewestFirst(t *testing.T, h *harness) {
	for v := int64(1); v <= 5; v++ {
		h.put(doc("c", "x", v, v))
	}
	h.put(doc("c", "x.y", 1, 6), doc("c", "xy", 1, 6), doc("c", "w", 1, 6), doc("cc", "x", 1, 6))
	h.put(tombstone("c", "x", 6, 7))
	h.read(func(tx truce.ReadTx) error {
		for _, c := range []struct {
			before int64
			limit  int
			want   []int64
		}{
			{0, 100, []int64{6, 5, 4, 3, 2, 1}},
			{-1, 100, []int64{6, 5, 4, 3, 2, 1}},
			{0, 2, []int64{6, 5}},
			{5, 2, []int64{4, 3}},
			{3, 100, []int64{2, 1}},
			{2, 100, []int64{1}},
			{1, 100, []int64{}},
			{100, 1, []int64{6}},
		} {
			vs, err := tx.Versions("c", "x", c.before, c.limit)
			check(t, "Versions", err)
			diff(t, "Versions(before "+itoa(c.before)+", limit "+itoa(int64(c.limit))+")", c.want, versions(vs))
			for _, d := range vs {
				if d.Collection != "c" || d.ID != "x" {
					t.Errorf("Versions(c, x) returned %s/%s", d.Collection, d.ID)
				}
			}
		}
		vs, err := tx.Versions("c", "x", 4, 1)
		check(t, "Versions", err)
		diff(t, "Versions(before 4, limit 1)", []*truce.Document{doc("c", "x", 3, 3)}, vs)
		vs, err = tx.Versions("c", "x", 0, 1)
		check(t, "Versions", err)
		diff(t, "newest version", []*truce.Document{tombstone("c", "x", 6, 7)}, vs)
		vs, err = tx.Versions("c", "nope", 0, 10)
		check(t, "Versions", err)
		diff(t, "Versions of a missing document", []int64{}, versions(vs))
		return nil
	})
}

func testTrimVersions(t *testing.T, h *harness) {
	for v := int64(1); v <= 40; v++ {
		h.put(doc("c", "x", v, v), doc("c", "xy", v, v))
	}
	trim := func(keepFrom int64) {
		h.update(func(tx truce.Tx) error {
			if err := tx.TrimVersions("c", "x", keepFrom); err != nil {
				return err
			}
			vs, err := tx.Versions("c", "x", 0, 100)
			check(t, "Versions in the Update that trimmed", err)
			if len(vs) == 0 || vs[len(vs)-1].Version != max(keepFrom, 1) {
				t.Errorf("after TrimVersions(%d), the Update still sees oldest version %v", keepFrom, versions(vs))
			}
			return nil
		})
	}
	trim(1) // keeps everything
	trim(4)
	h.read(func(tx truce.ReadTx) error {
		vs, err := tx.Versions("c", "x", 0, 100)
		check(t, "Versions", err)
		if len(vs) != 37 || vs[36].Version != 4 {
			t.Errorf("after TrimVersions(4), versions are %v", versions(vs))
		}
		_, err = tx.Version("c", "x", 3)
		noRecord(t, "Version(3) after trim", err)
		d, err := tx.Version("c", "x", 4)
		check(t, "Version(4) after trim", err)
		diff(t, "first kept version", doc("c", "x", 4, 4), d)
		return nil
	})
	trim(38) // many at once
	trim(38) // nothing left to trim
	trim(40) // down to the current version
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		vs, err := tx.Versions("c", "x", 0, 100)
		check(t, "Versions", err)
		diff(t, "versions after trims", []int64{40}, versions(vs))
		d, err := tx.Document("c", "x")
		check(t, "Document", err)
		diff(t, "current document after trims", doc("c", "x", 40, 40), d)
		vs, err = tx.Versions("c", "xy", 0, 100)
		check(t, "Versions", err)
		if len(vs) != 40 {
			t.Errorf("trimming c/x trimmed c/xy: it has %d versions, want 40", len(vs))
		}
		return nil
	})
}
