package pebble

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/trucedb/truce"
)

// checkFixture fills a store through a Service with every kind of record
// Check looks at: unique, reference, secondary and expiry index entries,
// trimmed history, tombstones, a re-created document and a trimmed change
// log.
func checkFixture(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := truce.NewService(s, truce.Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = svc.PutCollection(ctx, "users", truce.Settings{Unique: []string{"email"}, HistoryLimit: 2, TTL: "24h"})
	must(err)
	_, _, err = svc.PutCollection(ctx, "posts", truce.Settings{References: map[string]string{"author": "users"}, Indexes: [][]string{{"author", "n"}}})
	must(err)
	for i, email := range []string{"a@x", "b@x", "c@x"} {
		id := string(rune('a' + i))
		for n := range 4 {
			_, err := svc.Put(ctx, "users", id, []byte(`{"email":"`+email+`","n":`+string(rune('0'+n))+`}`), truce.Precondition{}, nil)
			must(err)
		}
	}
	_, err = svc.Put(ctx, "posts", "p1", []byte(`{"author":"a","n":1}`), truce.Precondition{}, nil)
	must(err)
	_, err = svc.Put(ctx, "posts", "p2", []byte(`{"author":"b","n":2}`), truce.Precondition{}, nil)
	must(err)
	_, err = svc.Delete(ctx, "posts", "p2", truce.Precondition{}, nil)
	must(err)
	_, err = svc.Put(ctx, "posts", "p2", []byte(`{"author":"c","n":3}`), truce.Precondition{}, nil)
	must(err)
	// A collection dropped after writes and written again: its old events
	// stay in the change log, its versions restart.
	for range 2 {
		_, err = svc.Put(ctx, "tmp", "x", []byte(`{"n":1}`), truce.Precondition{}, nil)
		must(err)
	}
	must(svc.DeleteCollection(ctx, "tmp", true))
	_, err = svc.Put(ctx, "tmp", "x", []byte(`{"n":2}`), truce.Precondition{}, nil)
	must(err)
	_, err = svc.TrimEvents(ctx, truce.EventRetention{MaxCount: 12})
	must(err)
	must(s.Close())
	return dir
}

func runCheck(t *testing.T, dir string) (CheckStats, []string) {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var problems []string
	st, err := s.Check(context.Background(), func(p string) { problems = append(problems, p) })
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return st, problems
}

func TestCheckClean(t *testing.T) {
	dir := checkFixture(t)
	st, problems := runCheck(t, dir)
	if len(problems) != 0 || st.Problems != 0 {
		t.Fatalf("a store written by the Service has problems: %q", problems)
	}
	if st.Collections != 3 || st.Documents != 6 || st.Versions == 0 || st.IndexEntries == 0 || st.Events == 0 || st.Events > 12 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCheckCorrupt writes bad records into a closed store, directly with
// Pebble, and checks that Check names each.
func TestCheckCorrupt(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, db *pebble.DB)
		want string
	}{
		{"unknown key", func(t *testing.T, db *pebble.DB) { set(t, db, []byte("Z\x00junk"), []byte("1")) }, `key "Z\x00junk" is of no kind`},
		{"stray unique entry", func(t *testing.T, db *pebble.DB) {
			set(t, db, uniqueKey(nil, "users", "email", []byte(`"z@x"`)), []byte("a"))
		}, `unique index of users: an entry`},
		{"lost unique entry", func(t *testing.T, db *pebble.DB) {
			del(t, db, uniqueKey(nil, "users", "email", []byte(`"b@x"`)))
		}, `unique index of users lacks the entry of live document b`},
		{"lost secondary entry", func(t *testing.T, db *pebble.DB) {
			deletePrefix(t, db, indexPrefix(nil, "posts", `["author","n"]`))
		}, `index of posts lacks the entry of live document p1`},
		{"lost expiry entry", func(t *testing.T, db *pebble.DB) {
			deletePrefix(t, db, indexPrefix(nil, "users", "expiresAt"))
		}, `index of users lacks the entry of live document a`},
		{"dangling reference", func(t *testing.T, db *pebble.DB) {
			set(t, db, referenceKey(nil, truce.Reference{From: truce.DocRef{Collection: "posts", ID: "p9", Field: "author"}, To: truce.DocRef{Collection: "users", ID: "a"}}), nil)
		}, `reference index: an entry ("r/users/a/posts/p9/author")`},
		{"history gap", func(t *testing.T, db *pebble.DB) { del(t, db, versionKey(nil, "posts", "p2", 2)) }, `posts/p2: its history lacks version 2, which event`},
		{"history beyond the limit", func(t *testing.T, db *pebble.DB) {
			v := get(t, db, versionKey(nil, "users", "a", 3))
			d, err := decodeDocument(v, "users", "a")
			if err != nil {
				t.Fatal(err)
			}
			d.Version, d.Seq = 2, d.Seq-1
			set(t, db, versionKey(nil, "users", "a", 2), appendDocument(nil, d))
		}, `users/a keeps 3 versions; its collection's historyLimit is 2`},
		{"current not newest", func(t *testing.T, db *pebble.DB) { del(t, db, versionKey(nil, "posts", "p1", 1)) }, `posts/p1 is at version 1, but none of its versions is stored`},
		{"corrupt document", func(t *testing.T, db *pebble.DB) { set(t, db, docKey(nil, "posts", "p1"), []byte{9, 9}) }, `document posts/p1: pebble: corrupt record`},
		{"lost event", func(t *testing.T, db *pebble.DB) {
			v := get(t, db, docKey(nil, "posts", "p2"))
			d, _ := decodeDocument(v, "posts", "p2")
			del(t, db, eventKey(nil, d.Seq))
		}, `posts/p2 version 3 (seq `},
		{"event past the seq", func(t *testing.T, db *pebble.DB) {
			set(t, db, eventKey(nil, 1000), appendEvent(nil, &truce.Event{Type: truce.EventLockAcquired, Collection: "posts", ID: "p1", Time: time.Now()}))
		}, `event 1000 lies outside the change log`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := checkFixture(t)
			db, err := pebble.Open(dir, &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: logger{slog.New(slog.DiscardHandler)}})
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			st, problems := runCheck(t, dir)
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tc.want)
			}
			if !found || st.Problems != len(problems) {
				t.Fatalf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func set(t *testing.T, db *pebble.DB, k, v []byte) {
	t.Helper()
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, db *pebble.DB, k []byte) {
	t.Helper()
	get(t, db, k) // it must be there
	if err := db.Delete(k, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func deletePrefix(t *testing.T, db *pebble.DB, prefix []byte) {
	t.Helper()
	if err := db.DeleteRange(prefix, prefixEnd(prefix), pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, db *pebble.DB, k []byte) []byte {
	t.Helper()
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatalf("get %q: %v", k, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...)
}
