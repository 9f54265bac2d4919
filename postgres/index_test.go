package postgres_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/postgres"
)

// indexReader and indexWriter are the secondary-index methods of issue 20,
// which truce.ReadTx and truce.Tx do not have yet.
type indexReader interface {
	IndexEntries(collection, index string, from, to []byte, reverse bool, limit int) ([]postgres.IndexEntry, error)
}

type indexWriter interface {
	indexReader
	PutIndexEntry(collection, index string, key []byte, id string) error
	DeleteIndexEntry(collection, index string, key []byte) error
	DropIndex(collection, index string) error
}

func TestIndexEntries(t *testing.T) {
	s := mustOpen(t, pgtest.Start(t), "")
	ctx := context.Background()
	e := func(key, id string) postgres.IndexEntry { return postgres.IndexEntry{Key: []byte(key), ID: id} }
	update := func(fn func(w indexWriter) error) {
		t.Helper()
		if err := s.Update(ctx, func(tx truce.Tx) error { return fn(tx.(indexWriter)) }); err != nil {
			t.Fatal(err)
		}
	}
	// Keys compare by bytes: "\x00" < "a" < "a\x00" < "ab" < "b" < "\xff".
	update(func(w indexWriter) error {
		for _, x := range []postgres.IndexEntry{e("b", "4"), e("a", "1"), e("\xff", "5"), e("a\x00", "2"), e("ab", "3"), e("\x00", "0")} {
			if err := w.PutIndexEntry("c", "by-x", x.Key, x.ID); err != nil {
				return err
			}
		}
		for _, other := range []struct{ col, index string }{{"c", "by-y"}, {"cc", "by-x"}} {
			if err := w.PutIndexEntry(other.col, other.index, []byte("a"), "other"); err != nil {
				return err
			}
		}
		return nil
	})
	all := []postgres.IndexEntry{e("\x00", "0"), e("a", "1"), e("a\x00", "2"), e("ab", "3"), e("b", "4"), e("\xff", "5")}
	reversed := []postgres.IndexEntry{all[5], all[4], all[3], all[2], all[1], all[0]}
	for _, c := range []struct {
		name     string
		from, to []byte
		reverse  bool
		limit    int
		want     []postgres.IndexEntry
	}{
		{"all", nil, nil, false, 100, all},
		{"all reversed", nil, nil, true, 100, reversed},
		{"limit", nil, nil, false, 2, all[:2]},
		{"limit reversed", nil, nil, true, 2, reversed[:2]},
		{"from inclusive", []byte("a\x00"), nil, false, 100, all[2:]},
		{"to exclusive", []byte("a"), []byte("b"), false, 100, all[1:4]},
		{"range reversed", []byte("a"), []byte("b"), true, 2, []postgres.IndexEntry{all[3], all[2]}},
		{"empty range", []byte("c"), []byte("d"), false, 100, nil},
	} {
		for _, view := range []bool{true, false} {
			var got []postgres.IndexEntry
			read := func(r indexReader) (err error) {
				got, err = r.IndexEntries("c", "by-x", c.from, c.to, c.reverse, c.limit)
				return err
			}
			var err error
			if view {
				err = s.View(ctx, func(tx truce.ReadTx) error { return read(tx.(indexReader)) })
			} else {
				err = s.Update(ctx, func(tx truce.Tx) error { return read(tx.(indexReader)) })
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("%s (view %v): (-want +got)\n%s", c.name, view, d)
			}
		}
	}

	// Replace, delete (absent too), drop one index, drop a collection, with
	// the Update reading its own writes.
	update(func(w indexWriter) error {
		if err := w.PutIndexEntry("c", "by-x", []byte("a"), "1b"); err != nil {
			return err
		}
		if err := w.DeleteIndexEntry("c", "by-x", []byte("ab")); err != nil {
			return err
		}
		if err := w.DeleteIndexEntry("c", "by-x", []byte("nothing")); err != nil {
			return err
		}
		got, err := w.IndexEntries("c", "by-x", []byte("a"), []byte("b"), false, 10)
		if d := cmp.Diff([]postgres.IndexEntry{e("a", "1b"), e("a\x00", "2")}, got); err != nil || d != "" {
			t.Errorf("own writes (%v): (-want +got)\n%s", err, d)
		}
		return w.DropIndex("c", "by-y")
	})
	count := func(col, index string) int {
		var n int
		s.View(ctx, func(tx truce.ReadTx) error {
			got, err := tx.(indexReader).IndexEntries(col, index, nil, nil, false, 100)
			n = len(got)
			return err
		})
		return n
	}
	if n := count("c", "by-y"); n != 0 {
		t.Errorf("DropIndex left %d entries", n)
	}
	if n := count("c", "by-x"); n != 5 {
		t.Errorf("by-x has %d entries after the changes, want 5", n)
	}
	update(func(w indexWriter) error { return w.(truce.Tx).DropCollection("c") })
	if n := count("c", "by-x"); n != 0 {
		t.Errorf("DropCollection left %d index entries", n)
	}
	if n := count("cc", "by-x"); n != 1 {
		t.Errorf("DropCollection(c) removed entries of cc: %d left", n)
	}
}
