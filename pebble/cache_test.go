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

// TestViewLaterReadsKeepSnapshotUnderWrites: Updates rewrite a, b and c
// together while Views read them after opening their iterators; every View
// sees the three at one version, and the cache answers many of the reads
// (so that the test cannot pass by never using it).
func TestViewLaterReadsKeepSnapshotUnderWrites(t *testing.T) {
	s := openTest(t)
	ids := []string{"a", "b", "c"}
	mustUpdate(t, s, func(tx truce.Tx) error { return putDocs(tx, 1, ids...) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	rewriteTogether(ctx, t, s, &wg, ids...)
	var views, hits atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := s.View(ctx, func(rtx truce.ReadTx) error {
					if _, err := rtx.Document("c", "z"); !errors.Is(err, truce.ErrNoRecord) {
						return fmt.Errorf("read of z: %v", err)
					}
					before := rtx.(*tx).cacheHits
					var seen []int64
					for _, id := range ids {
						d, err := rtx.Document("c", id)
						if err != nil {
							return err
						}
						seen = append(seen, d.Version)
					}
					hits.Add(int64(rtx.(*tx).cacheHits - before))
					if seen[0] != seen[1] || seen[1] != seen[2] {
						t.Errorf("one View read a, b and c at versions %v", seen)
					}
					return nil
				})
				if err != nil && ctx.Err() == nil {
					t.Errorf("View: %v", err)
					return
				}
				views.Add(1)
			}
		}()
	}
	wg.Wait()
	if hits.Load() == 0 {
		t.Fatalf("%d Views, none read from the cache", views.Load())
	}
	t.Logf("%d Views, %d of %d later reads from the cache", views.Load(), hits.Load(), 3*views.Load())
}
