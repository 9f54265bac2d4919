package pebble

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustUpdate(t *testing.T, s *Store, fn func(tx truce.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// readColl reads through Updates (which use the committed caches) and a
// View (which does not), and fails unless they all agree with want.
func readColl(t *testing.T, s *Store, name string, want *truce.Collection) {
	t.Helper()
	check := func(kind string, c *truce.Collection, err error) {
		t.Helper()
		switch {
		case want == nil && !errors.Is(err, truce.ErrNoRecord):
			t.Errorf("%s: Collection(%s) = %v, %v; want ErrNoRecord", kind, name, c, err)
		case want != nil && (err != nil || !reflect.DeepEqual(c.Settings, want.Settings) || c.Seq != want.Seq):
			t.Errorf("%s: Collection(%s) = %+v, %v; want %+v", kind, name, c, err, want)
		}
	}
	for range 2 { // the first read may fill the cache; the second uses it
		mustUpdate(t, s, func(tx truce.Tx) error {
			c, err := tx.Collection(name)
			check("Update", c, err)
			return nil
		})
	}
	s.View(context.Background(), func(tx truce.ReadTx) error {
		c, err := tx.Collection(name)
		check("View", c, err)
		return nil
	})
}

func TestCollectionCache(t *testing.T) {
	s := openTest(t)
	put := func(tx truce.Tx, c *truce.Collection) error { return tx.PutCollection(c) }
	readColl(t, s, "a", nil)

	v1 := &truce.Collection{Name: "a", Seq: 1, Settings: truce.Settings{
		Unique: []string{"email"}, References: map[string]string{"owner": "users"},
		Schema: []byte(`{"type":"object"}`), HistoryLimit: 3}}
	mustUpdate(t, s, func(tx truce.Tx) error { return put(tx, v1) })
	readColl(t, s, "a", v1)

	// What a caller does to a record it got does not reach the cache.
	mustUpdate(t, s, func(tx truce.Tx) error {
		c, err := tx.Collection("a")
		if err != nil {
			return err
		}
		c.Settings.Unique[0] = "changed"
		c.Settings.References["owner"] = "changed"
		c.Settings.Schema[0] = '['
		c.Settings.HistoryLimit = 9
		return nil
	})
	readColl(t, s, "a", v1)

	v2 := &truce.Collection{Name: "a", Seq: 2, Settings: truce.Settings{ConflictPolicy: truce.PolicyLastWriteWins}}
	mustUpdate(t, s, func(tx truce.Tx) error { return put(tx, v2) })
	readColl(t, s, "a", v2)

	// A failed Update changes nothing, though it wrote the record.
	boom := errors.New("boom")
	s.Update(context.Background(), func(tx truce.Tx) error {
		put(tx, v1)
		return boom
	})
	readColl(t, s, "a", v2)

	mustUpdate(t, s, func(tx truce.Tx) error { return tx.DropCollection("a") })
	readColl(t, s, "a", nil)

	// Put then drop, and drop then put, in one Update.
	mustUpdate(t, s, func(tx truce.Tx) error {
		put(tx, v1)
		return tx.DropCollection("a")
	})
	readColl(t, s, "a", nil)
	mustUpdate(t, s, func(tx truce.Tx) error {
		tx.DropCollection("a")
		return put(tx, v2)
	})
	readColl(t, s, "a", v2)
}

// readDoc checks the current document col/id through an Update whose batch
// is empty (the cached path), one that has written (the batch path), and a
// View. want is the expected version, 0 for none.
func readDoc(t *testing.T, s *Store, col, id string, want int64) {
	t.Helper()
	check := func(kind string, d *truce.Document, err error) {
		t.Helper()
		switch {
		case want == 0 && !errors.Is(err, truce.ErrNoRecord):
			t.Errorf("%s: Document(%s/%s) = %v, %v; want ErrNoRecord", kind, col, id, d, err)
		case want != 0 && (err != nil || d.Version != want || string(d.Body) != fmt.Sprintf(`{"v":%d}`, want)):
			t.Errorf("%s: Document(%s/%s) = %+v, %v; want version %d", kind, col, id, d, err, want)
		}
	}
	for range 2 {
		mustUpdate(t, s, func(tx truce.Tx) error {
			d, err := tx.Document(col, id)
			check("Update", d, err)
			return nil
		})
	}
	s.Update(context.Background(), func(tx truce.Tx) error {
		if err := tx.PutUnique(col, "f", []byte("x"), "other"); err != nil {
			return err
		}
		d, err := tx.Document(col, id)
		check("Update after a write", d, err)
		return errors.New("roll back")
	})
	s.View(context.Background(), func(tx truce.ReadTx) error {
		d, err := tx.Document(col, id)
		check("View", d, err)
		return nil
	})
}

func putDoc(tx truce.Tx, col, id string, version int64) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	return tx.PutDocument(&truce.Document{Collection: col, ID: id, Version: version, Seq: seq,
		Body: fmt.Appendf(nil, `{"v":%d}`, version)})
}

// putDocs writes the documents ids of collection c, all at version.
func putDocs(tx truce.Tx, version int64, ids ...string) error {
	for _, id := range ids {
		if err := putDoc(tx, "c", id, version); err != nil {
			return err
		}
	}
	return nil
}

// rewriteTogether rewrites the documents ids of collection c in one Update
// at a time, at versions 2, 3, … until ctx ends, in a goroutine that wg
// waits for.
func rewriteTogether(ctx context.Context, t *testing.T, s *Store, wg *sync.WaitGroup, ids ...string) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := int64(2); ctx.Err() == nil; v++ {
			err := s.Update(ctx, func(tx truce.Tx) error { return putDocs(tx, v, ids...) })
			if err != nil && ctx.Err() == nil {
				t.Errorf("Update: %v", err)
				return
			}
		}
	}()
}

func TestDocumentCache(t *testing.T) {
	s := openTest(t)
	readDoc(t, s, "c", "x", 0)
	mustUpdate(t, s, func(tx truce.Tx) error { return putDoc(tx, "c", "x", 1) })
	readDoc(t, s, "c", "x", 1)
	mustUpdate(t, s, func(tx truce.Tx) error { return putDoc(tx, "c", "x", 2) })
	readDoc(t, s, "c", "x", 2)

	// Two versions in one Update: the last one is current.
	mustUpdate(t, s, func(tx truce.Tx) error {
		putDoc(tx, "c", "x", 3)
		return putDoc(tx, "c", "x", 4)
	})
	readDoc(t, s, "c", "x", 4)

	s.Update(context.Background(), func(tx truce.Tx) error {
		putDoc(tx, "c", "x", 5)
		return errors.New("boom")
	})
	readDoc(t, s, "c", "x", 4)

	mustUpdate(t, s, func(tx truce.Tx) error { return tx.DropCollection("c") })
	readDoc(t, s, "c", "x", 0)

	// Written then dropped in one Update: gone.
	mustUpdate(t, s, func(tx truce.Tx) error {
		putDoc(tx, "c", "x", 1)
		return tx.DropCollection("c")
	})
	readDoc(t, s, "c", "x", 0)
	mustUpdate(t, s, func(tx truce.Tx) error {
		putDoc(tx, "c", "y", 1)
		return nil
	})
	mustUpdate(t, s, func(tx truce.Tx) error {
		tx.DropCollection("c")
		return putDoc(tx, "c", "x", 7)
	})
	readDoc(t, s, "c", "x", 7)
	readDoc(t, s, "c", "y", 0)

	// A version too large to cache replaces a cached one, and back.
	big := make([]byte, maxCachedDocument+1)
	for i := range big {
		big[i] = ' '
	}
	for _, body := range [][]byte{big, []byte(`{}`), big} {
		mustUpdate(t, s, func(tx truce.Tx) error {
			d, err := tx.Document("c", "x")
			if err != nil {
				return err
			}
			seq, _ := tx.NextSeq()
			return tx.PutDocument(&truce.Document{Collection: "c", ID: "x", Version: d.Version + 1, Seq: seq, Body: body})
		})
		mustUpdate(t, s, func(tx truce.Tx) error {
			d, err := tx.Document("c", "x")
			if err != nil || string(d.Body) != string(body) {
				t.Errorf("Document(c/x) after writing %d bytes: %d bytes, %v", len(body), len(d.Body), err)
			}
			return nil
		})
	}
	// Small then large in one Update: the large one is current.
	mustUpdate(t, s, func(tx truce.Tx) error {
		seq, _ := tx.NextSeq()
		tx.PutDocument(&truce.Document{Collection: "c", ID: "x", Version: 20, Seq: seq, Body: []byte(`{"small":1}`)})
		return tx.PutDocument(&truce.Document{Collection: "c", ID: "x", Version: 21, Seq: seq, Body: big})
	})
	mustUpdate(t, s, func(tx truce.Tx) error {
		d, err := tx.Document("c", "x")
		if err != nil || d.Version != 21 {
			t.Errorf("Document(c/x) = %v, %v; want version 21", d, err)
		}
		return nil
	})
}

func TestDocumentCacheBudget(t *testing.T) {
	if s := openTest(t); s.docBudget != DefaultDocumentCacheSize {
		t.Fatalf("with Options{} the document cache's budget is %d, want %d", s.docBudget, DefaultDocumentCacheSize)
	}
	const budget = 1 << 20
	s, err := Open(t.TempDir(), Options{DocumentCacheSize: budget})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const n = 3 * budget / 1024
	body := make([]byte, 1000)
	for i := range body {
		body[i] = 'a'
	}
	for i := 0; i < n; i += 100 {
		mustUpdate(t, s, func(tx truce.Tx) error {
			for j := i; j < i+100; j++ {
				seq, _ := tx.NextSeq()
				d := &truce.Document{Collection: "c", ID: fmt.Sprint(j), Version: 1, Seq: seq, Body: body}
				if err := tx.PutDocument(d); err != nil {
					return err
				}
			}
			return nil
		})
		sum := 0
		for _, v := range s.docs {
			sum += len(v.v)
		}
		if sum != s.docBytes || sum > budget {
			t.Fatalf("the document cache holds %d bytes, counts %d, budget %d", sum, s.docBytes, budget)
		}
	}
	mustUpdate(t, s, func(tx truce.Tx) error {
		for j := 0; j < n; j += 97 {
			d, err := tx.Document("c", fmt.Sprint(j))
			if err != nil || string(d.Body) != string(body) {
				t.Errorf("Document(c/%d) = %v, %v", j, d, err)
			}
		}
		return nil
	})
}

// TestCloneCollectionCoversSettings fails when truce.Settings gains a field
// that a shallow copy would share, so that cloneCollection learns to copy it.
func TestCloneCollectionCoversSettings(t *testing.T) {
	cloned := map[string]bool{"Unique": true, "References": true, "Schema": true, "Indexes": true, "IndexBuilds": true}
	typ := reflect.TypeFor[truce.Settings]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Struct, reflect.Array:
			if !cloned[f.Name] {
				t.Errorf("truce.Settings.%s (%s) is shared by cloneCollection's copies; copy it there", f.Name, f.Type)
			}
		}
	}
}

// TestViewCachedReadKeepsSnapshot races Updates that write two documents
// at the same version with Views that read one (through the committed
// cache, as their first read) then the other (through the iterator). Every
// View must see both at one version: the cached read may not be newer, or
// older, than the snapshot the rest of the View reads. The Views also
// count how often the cache answered, so that the test cannot pass by never
// using it.
func TestViewCachedReadKeepsSnapshot(t *testing.T) {
	s := openTest(t)
	mustUpdate(t, s, func(tx truce.Tx) error { return putDocs(tx, 1, "a", "b") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	rewriteTogether(ctx, t, s, &wg, "a", "b")
	var views, cached atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := s.View(ctx, func(rtx truce.ReadTx) error {
					a, err := rtx.Document("c", "a")
					if err != nil {
						return err
					}
					cached.Add(int64(rtx.(*tx).cacheHits))
					b, err := rtx.Document("c", "b")
					if err != nil {
						return err
					}
					if a.Version != b.Version {
						t.Errorf("one View read a at version %d and b at %d", a.Version, b.Version)
					}
					views.Add(1)
					return nil
				})
				if err != nil && ctx.Err() == nil {
					t.Errorf("View: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d Views, %d first reads from the cache", views.Load(), cached.Load())
	if cached.Load() == 0 {
		t.Error("no View read through the cache")
	}
}

// TestViewCachedReadAroundCommit commits a write of both documents right
// before and right after a View opens its iterator, the two moments where a
// cached first read could disagree with the iterator, and checks that the
// View still reads both documents at one version.
func TestViewCachedReadAroundCommit(t *testing.T) {
	for _, stage := range []string{"before iterator", "after iterator"} {
		t.Run(stage, func(t *testing.T) {
			s := openTest(t)
			version := int64(1)
			write := func() {
				mustUpdate(t, s, func(tx truce.Tx) error {
					putDoc(tx, "c", "a", version)
					return putDoc(tx, "c", "b", version)
				})
				version++
			}
			write()
			viewDocumentHook = func(at string) {
				if at == stage {
					write()
				}
			}
			defer func() { viewDocumentHook = nil }()
			err := s.View(context.Background(), func(tx truce.ReadTx) error {
				a, err := tx.Document("c", "a")
				if err != nil {
					return err
				}
				viewDocumentHook = nil
				b, err := tx.Document("c", "b")
				if err != nil {
					return err
				}
				if a.Version != b.Version {
					t.Errorf("the View read a at version %d and b at %d", a.Version, b.Version)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDocumentCacheBudgetBelowOneDocument: a budget smaller than a
// document keeps the document out rather than going over the budget.
func TestDocumentCacheBudgetBelowOneDocument(t *testing.T) {
	s, err := Open(t.TempDir(), Options{DocumentCacheSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	mustUpdate(t, s, func(tx truce.Tx) error {
		seq, _ := tx.NextSeq()
		return tx.PutDocument(&truce.Document{Collection: "c", ID: "x", Version: 1, Seq: seq, Body: make([]byte, 1000)})
	})
	if len(s.docs) != 0 || s.docBytes != 0 {
		t.Fatalf("the document cache holds %d entries, %d bytes; its budget is 512 bytes", len(s.docs), s.docBytes)
	}
	mustUpdate(t, s, func(tx truce.Tx) error {
		if d, err := tx.Document("c", "x"); err != nil || d.Version != 1 {
			t.Errorf("Document(c/x) = %v, %v; want version 1", d, err)
		}
		return nil
	})
}

// TestViewLaterReadsUseCacheOlderThanSnapshot: once a View's iterator is
// open, a read answers from the document cache only with an entry added
// before the snapshot. An Update that commits while the View is open
// replaces the entries; the View must still read the versions of its
// snapshot, and a View opened afterwards must read the new ones from the
// cache.
func TestViewLaterReadsUseCacheOlderThanSnapshot(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	put := func(v int64) {
		mustUpdate(t, s, func(tx truce.Tx) error { return putDocs(tx, v, "a", "b", "c") })
	}
	put(1)
	readAll := func(rtx truce.ReadTx) (versions []int64, hits int) {
		if _, err := rtx.Document("c", "z"); !errors.Is(err, truce.ErrNoRecord) {
			t.Fatalf("read of z: %v", err)
		}
		before := rtx.(*tx).cacheHits
		for _, id := range []string{"a", "b", "c"} {
			d, err := rtx.Document("c", id)
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, d.Version)
		}
		return versions, rtx.(*tx).cacheHits - before
	}
	err := s.View(ctx, func(rtx truce.ReadTx) error {
		if _, err := rtx.Document("c", "z"); !errors.Is(err, truce.ErrNoRecord) {
			t.Fatalf("read of z: %v", err)
		}
		put(2) // commits while the View's iterator is open
		for _, id := range []string{"a", "b", "c"} {
			d, err := rtx.Document("c", id)
			if err != nil {
				return err
			}
			if d.Version != 1 {
				t.Errorf("a View opened before version 2 read %s at version %d", id, d.Version)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(rtx truce.ReadTx) error {
		versions, hits := readAll(rtx)
		if !slices.Equal(versions, []int64{2, 2, 2}) || hits != 3 {
			t.Errorf("a View opened after version 2 read versions %v, %d of 3 from the cache; want all 2, all cached", versions, hits)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readVersions reads the documents ids of collection c in one View, after
// a read that opens its iterator, and returns their versions and how many
// of the reads the cache answered and how many it was given.
func readVersions(ctx context.Context, s *Store, hook func(), ids ...string) (versions []int64, hits, fills int, err error) {
	err = s.View(ctx, func(rtx truce.ReadTx) error {
		if _, err := rtx.Document("c", "z"); !errors.Is(err, truce.ErrNoRecord) {
			return fmt.Errorf("read of z: %v", err)
		}
		if hook != nil {
			hook()
		}
		t := rtx.(*tx)
		for _, id := range ids {
			d, err := rtx.Document("c", id)
			if err != nil {
				return err
			}
			versions = append(versions, d.Version)
		}
		hits, fills = t.cacheHits, t.cacheFills
		return nil
	})
	return versions, hits, fills, err
}

// TestViewMissFillsCache: a View's miss gives the cache what it read when
// that is the committed value, so that a store that is only read warms up;
// not when a commit was applied after the View's snapshot or is under way,
// and never in place of another entry.
func TestViewMissFillsCache(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx truce.Tx) error { return putDocs(tx, 1, "a", "b") })
	size := len(s.docs[string(docKey(nil, "c", "a"))].v)
	s.Close()
	// Room for one document and a half: the cache starts empty.
	s, err = Open(dir, Options{DocumentCacheSize: size * 3 / 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	read := func(what string, hook func(), wantVersion int64, wantHits, wantFills int, ids ...string) {
		t.Helper()
		versions, hits, fills, err := readVersions(ctx, s, hook, ids...)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range versions {
			if v != wantVersion {
				t.Fatalf("%s: versions %v, want %d", what, versions, wantVersion)
			}
		}
		if hits != wantHits || fills != wantFills {
			t.Fatalf("%s: %d reads from the cache and %d given to it, want %d and %d", what, hits, fills, wantHits, wantFills)
		}
	}

	// A commit under way: the View reads its snapshot and leaves the cache.
	s.wlock <- struct{}{}
	read("a commit under way", nil, 1, 0, 0, "a")
	<-s.wlock
	read("the first read", nil, 1, 0, 1, "a")
	read("the next View", nil, 1, 1, 0, "a")
	// No room for b without evicting a: b is read, a stays.
	read("past the budget", nil, 1, 1, 0, "a", "b")
	if _, ok := s.docs[string(docKey(nil, "c", "a"))]; !ok || len(s.docs) != 1 {
		t.Fatalf("after reads past the budget the cache holds %d entries, a: %v", len(s.docs), ok)
	}

	// A commit applied after the View's snapshot, whose entry is evicted
	// at once: the View reads version 1 of b and gives the cache neither
	// document, which a later View reads at version 2.
	evict(s, "a")
	write := func() {
		mustUpdate(t, s, func(tx truce.Tx) error { return putDoc(tx, "c", "b", 2) })
		evict(s, "b")
	}
	read("a commit after the snapshot", write, 1, 0, 0, "a", "b")
	read("after that commit", nil, 2, 0, 1, "b")
}

// evict drops the cache entry of c/id, as the budget does.
func evict(s *Store, id string) {
	s.wlock <- struct{}{}
	s.cacheDocument(string(docKey(nil, "c", id)), nil)
	<-s.wlock
}

// TestViewLaterReadsKeepSnapshotUnderWrites: Updates rewrite a, b and c
// together while Views read them after opening their iterators; every View
// sees the three at one version, and the cache answers many of the reads
// (so that the test cannot pass by never using it).
func TestViewLaterReadsKeepSnapshotUnderWrites(t *testing.T) {
	views, hits, _ := readUnderRewrites(t, false)
	if hits == 0 {
		t.Fatalf("%d Views, none read from the cache", views)
	}
	t.Logf("%d Views, %d of %d later reads from the cache", views, hits, 3*views)
}

// TestViewFillsKeepSnapshotUnderWrites: the same, while the entries of a,
// b and c are evicted again and again, so that the Views' misses fill the
// cache from their snapshots, under way with the commits (a stale fill
// would show as a View that reads two versions, or one older than a View
// before it read).
func TestViewFillsKeepSnapshotUnderWrites(t *testing.T) {
	views, _, fills := readUnderRewrites(t, true)
	if fills == 0 {
		t.Fatalf("%d Views, none gave the cache a document", views)
	}
	t.Logf("%d Views, %d fills", views, fills)
}

// readUnderRewrites runs Views that read a, b and c for 2 s, four at a
// time, while Updates rewrite the three together and, when evicting, their
// cache entries are dropped one at a time, as the budget does. Each View
// must read the three at one version, no older than the one its
// goroutine's previous View read. It returns how many Views ran, and how
// many of their reads the cache answered and how many it was given.
func readUnderRewrites(t *testing.T, evicting bool) (views, hits, fills int64) {
	s := openTest(t)
	ids := []string{"a", "b", "c"}
	mustUpdate(t, s, func(tx truce.Tx) error { return putDocs(tx, 1, ids...) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	rewriteTogether(ctx, t, s, &wg, ids...)
	if evicting {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				evict(s, ids[i%len(ids)])
				time.Sleep(50 * time.Microsecond)
			}
		}()
	}
	var nViews, nHits, nFills atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last int64
			for ctx.Err() == nil {
				seen, h, f, err := readVersions(ctx, s, nil, ids...)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("View: %v", err)
					}
					return
				}
				nViews.Add(1)
				nHits.Add(int64(h))
				nFills.Add(int64(f))
				if seen[0] != seen[1] || seen[1] != seen[2] || seen[0] < last {
					t.Errorf("a View read a, b and c at versions %v after a View read them at %d", seen, last)
					return
				}
				last = seen[0]
			}
		}()
	}
	wg.Wait()
	return nViews.Load(), nHits.Load(), nFills.Load()
}
