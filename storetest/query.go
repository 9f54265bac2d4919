package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// queryTests check queries and the secondary indexes end to end, through a
// truce.Service over the store under test: the answers against a model,
// the index entries after every kind of write, and background builds that
// race writes and survive a reopen. secondary_index.go checks the Store
// methods the indexes rest on one by one.
var queryTests = []test{
	{"Query/Model", testQueryModel},
	{"Query/IndexMaintenance", testIndexMaintenance},
	{"Query/IndexConflictResolution", testIndexConflictResolution},
	{"Query/IndexBuildResume", testIndexBuildResume},
	{"Query/IndexBuildConcurrentWrites", testIndexBuildConcurrentWrites},
}

// service returns a Service over the store under test. Call it again after
// reopen: a Service belongs to one store.
func (h *harness) service() *truce.Service {
	return truce.NewService(h.store, truce.Options{})
}

func mustPut(t *testing.T, svc *truce.Service, collection, id, body string) {
	t.Helper()
	if _, err := svc.Put(ctx(t), collection, id, []byte(body), truce.Precondition{}, nil); err != nil {
		t.Fatalf("Put %s/%s %s: %v", collection, id, body, err)
	}
}

func mustDelete(t *testing.T, svc *truce.Service, collection, id string) {
	t.Helper()
	if _, err := svc.Delete(ctx(t), collection, id, truce.Precondition{}, nil); err != nil {
		t.Fatalf("Delete %s/%s: %v", collection, id, err)
	}
}

func mustSettings(t *testing.T, svc *truce.Service, name string, s truce.Settings) {
	t.Helper()
	if _, _, err := svc.PutCollection(ctx(t), name, s); err != nil {
		t.Fatalf("PutCollection %s %+v: %v", name, s, err)
	}
}

// checkIndexes fails the test at once when the indexes of collection
// disagree with its documents.
func checkIndexes(t *testing.T, svc *truce.Service, collection, after string) {
	t.Helper()
	if err := svc.CheckIndexes(ctx(t), collection); err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
}

// queryIDs runs q to its last page and returns the ids in order.
func queryIDs(t *testing.T, svc *truce.Service, collection string, q truce.Query) ([]string, error) {
	t.Helper()
	out := []string{}
	for range 1000 {
		page, err := svc.Query(ctx(t), collection, q)
		if err != nil {
			return nil, err
		}
		out = append(out, ids(page.Items)...)
		if page.Next == "" {
			return out, nil
		}
		q.After = page.Next
	}
	t.Fatal("more than 1000 pages")
	return nil, nil
}

func where(s string) truce.Query { return truce.Query{Where: json.RawMessage(s)} }

func docID(i int) string { return fmt.Sprintf("d%04d", i) }

// putKs writes n documents to collection c, docID(i) with the body
// {"k": i%mod}, in batches of 100.
func putKs(t *testing.T, svc *truce.Service, n, mod int) {
	t.Helper()
	for i := 0; i < n; i += 100 {
		var ops []truce.Op
		for j := i; j < min(i+100, n); j++ {
			ops = append(ops, truce.Op{Kind: truce.OpPut, Collection: "c", ID: docID(j), Document: fmt.Appendf(nil, `{"k":%d}`, j%mod)})
		}
		if _, err := svc.Batch(ctx(t), ops, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// testQueryModel runs random queries, with and without indexes, alone and
// while other goroutines write, and compares every answer with the model.
func testQueryModel(t *testing.T, h *harness) {
	for _, indexed := range []bool{false, true} {
		for _, concurrent := range []bool{false, true} {
			t.Run(fmt.Sprintf("indexed=%v,concurrent=%v", indexed, concurrent), func(t *testing.T) {
				queryModel(t, h.service(), fmt.Sprintf("m-%v-%v", indexed, concurrent), indexed, concurrent)
			})
		}
	}
}

func queryModel(t *testing.T, svc *truce.Service, collection string, indexed, concurrent bool) {
	seed := uint64(1)
	if indexed {
		seed += 2
	}
	if concurrent {
		seed++
	}
	r := rand.New(rand.NewPCG(seed, 7))
	m := &model{collection: collection}
	const ids = 120
	// Half the documents before the indexes are declared, so that they
	// are built; half after, so that writes keep them.
	for range 150 {
		m.write(t, svc, r, ids)
	}
	if indexed {
		mustSettings(t, svc, collection, truce.Settings{Indexes: modelIndexes})
		if err := svc.BuildIndexes(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	for range 150 {
		m.write(t, svc, r, ids)
	}
	queries := 120
	if testing.Short() {
		queries = 40
	}
	var runs []*queryRun
	if !concurrent {
		for range queries {
			runs = append(runs, runQuery(t, svc, collection, r, indexed))
		}
	} else {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wr := rand.New(rand.NewPCG(uint64(w), 7))
				for {
					select {
					case <-stop:
						return
					default:
					}
					m.write(t, svc, wr, ids)
				}
			}()
		}
		for range queries / 2 {
			runs = append(runs, runQuery(t, svc, collection, r, indexed))
		}
		close(stop)
		wg.Wait()
	}
	var byIndex, exact, pages int
	for _, run := range runs {
		run.check(t, m)
		for _, p := range run.pages {
			pages++
			if p.Index != nil {
				byIndex++
				if !p.Scanned {
					exact++
				}
			}
		}
	}
	t.Logf("%d queries, %d pages, %d read from an index, %d of them exactly", len(runs), pages, byIndex, exact)
	if indexed && exact < pages/10 {
		t.Errorf("only %d of %d pages were read exactly from an index: the test does not exercise the planner", exact, pages)
	}
	if indexed {
		checkIndexes(t, svc, collection, "the writes")
	}
}

// testIndexMaintenance: every kind of write keeps the indexes in its
// commit: puts, patches, deletes, batches, interactive transactions,
// restores, changes of the settings, and dropping the collection.
func testIndexMaintenance(t *testing.T, h *harness) {
	svc := h.service()
	c := ctx(t)
	indexes := [][]string{{"status", "total"}, {"email"}, {"_updatedAt"}}
	mustSettings(t, svc, "c", truce.Settings{Indexes: indexes})
	mustPut(t, svc, "c", "a", `{"status":"open","total":1,"email":"a@x"}`)
	mustPut(t, svc, "c", "b", `{"status":"open","total":2}`)
	checkIndexes(t, svc, "c", "puts")
	mustPut(t, svc, "c", "a", `{"status":"closed","total":1,"email":"a@y"}`)
	if _, err := svc.Patch(c, "c", "b", truce.MergePatch, []byte(`{"total":3}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "a replace and a patch")
	mustDelete(t, svc, "c", "b")
	checkIndexes(t, svc, "c", "a delete")
	if _, err := svc.Batch(c, []truce.Op{
		{Kind: truce.OpCreate, Collection: "c", ID: "c", Document: []byte(`{"status":"open","total":5}`)},
		{Kind: truce.OpPut, Collection: "c", ID: "b", Document: []byte(`{"status":"draft"}`)},
		{Kind: truce.OpDelete, Collection: "c", ID: "a"},
	}, nil, nil); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "a batch")
	// A batch that fails leaves no entry behind.
	if _, err := svc.Batch(c, []truce.Op{
		{Kind: truce.OpPut, Collection: "c", ID: "d", Document: []byte(`{"status":"open","total":9}`)},
		{Kind: truce.OpCreate, Collection: "c", ID: "c", Document: []byte(`{}`)},
	}, nil, nil); truce.ErrorCode(err) != truce.CodeAlreadyExists {
		t.Fatalf("failing batch: %v", err)
	}
	checkIndexes(t, svc, "c", "a failed batch")
	open := where(`{"status":"open"}`)
	tx, err := svc.BeginTransaction(c, time.Minute, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []truce.Op{
		{Kind: truce.OpPut, Collection: "c", ID: "e", Document: []byte(`{"status":"open","total":0}`)},
		{Kind: truce.OpDelete, Collection: "c", ID: "c"},
	} {
		if _, err := svc.TransactionWrite(c, tx.ID, op, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := queryIDs(t, svc, "c", open); err != nil || !slices.Equal(got, []string{"c"}) {
		t.Errorf("staged writes are visible to queries: %v, %v", got, err)
	}
	if _, err := svc.CommitTransaction(c, tx.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "an interactive transaction")
	if got, err := queryIDs(t, svc, "c", open); err != nil || !slices.Equal(got, []string{"e"}) {
		t.Errorf("after the commit: %v, %v", got, err)
	}
	if _, err := svc.Restore(c, "c", "a", 1, truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "a restore")
	if got, err := queryIDs(t, svc, "c", where(`{"email":"a@x"}`)); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Errorf("after the restore: %v, %v", got, err)
	}
	// Removing an index drops its entries.
	mustSettings(t, svc, "c", truce.Settings{Indexes: indexes[:1]})
	checkIndexes(t, svc, "c", "removing indexes")
	if _, err := svc.Query(c, "c", where(`{"email":"a@x"}`)); truce.ErrorCode(err) != truce.CodeIndexRequired {
		t.Errorf("a removed index: %v", err)
	}
	h.view(func(tx truce.ReadTx) error {
		es, err := tx.IndexEntries("c", `["email"]`, nil, nil, false, 100)
		if len(es) != 0 {
			t.Errorf("a removed index keeps %d entries", len(es))
		}
		return err
	})
	// Adding it back builds it afresh.
	mustSettings(t, svc, "c", truce.Settings{Indexes: indexes})
	if err := svc.BuildIndexes(c); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "adding the indexes back")
	// Dropping the collection drops its indexes: a new one starts empty.
	if err := svc.DeleteCollection(c, "c", true); err != nil {
		t.Fatal(err)
	}
	mustSettings(t, svc, "c", truce.Settings{Indexes: indexes})
	checkIndexes(t, svc, "c", "a dropped and re-created collection")
	mustPut(t, svc, "c", "a", `{"status":"open"}`)
	if got, err := queryIDs(t, svc, "c", open); err != nil || !slices.Equal(got, []string{"a"}) {
		t.Errorf("a re-created collection: %v, %v", got, err)
	}
}

// testIndexConflictResolution: resolving a recorded conflict writes the
// resolution's entries in the same commit.
func testIndexConflictResolution(t *testing.T, h *harness) {
	svc := h.service()
	c := ctx(t)
	mustSettings(t, svc, "c", truce.Settings{ConflictPolicy: truce.PolicyManual, Indexes: [][]string{{"k"}}})
	mustPut(t, svc, "c", "x", `{"k":1}`)
	mustPut(t, svc, "c", "x", `{"k":2}`)
	_, err := svc.Put(c, "c", "x", []byte(`{"k":3,"_version":1}`), truce.Precondition{}, nil)
	var te *truce.Error
	if !errors.As(err, &te) || te.ConflictID == "" {
		t.Fatalf("no conflict: %v", err)
	}
	cur, err := svc.Get(c, "c", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ResolveConflict(c, te.ConflictID, "take-proposed", nil, truce.Precondition{IfMatch: []string{cur.ETag()}}, nil); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "the resolution")
	if got, err := queryIDs(t, svc, "c", where(`{"k":3}`)); err != nil || !slices.Equal(got, []string{"x"}) {
		t.Errorf("after the resolution: %v, %v", got, err)
	}
	if got, err := queryIDs(t, svc, "c", where(`{"k":2}`)); err != nil || len(got) != 0 {
		t.Errorf("the replaced value: %v, %v", got, err)
	}
}

// stopAfterUpdate is a Store whose Updates, once armed, cancel a context
// after they commit: it stops a build after one step, where a restart
// would.
type stopAfterUpdate struct {
	truce.Store
	mu     sync.Mutex
	cancel context.CancelFunc // guarded by mu
}

func (s *stopAfterUpdate) Update(c context.Context, fn func(truce.Tx) error) error {
	err := s.Store.Update(c, fn)
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	s.mu.Unlock()
	return err
}

// testIndexBuildResume: an index added to a collection with documents is
// built in the background, in steps whose progress survives a reopen;
// until it is done the collection says so, queries that need it are
// refused with a Retry-After, and scans still answer.
func testIndexBuildResume(t *testing.T, h *harness) {
	svc := h.service()
	c := ctx(t)
	const n = 700 // more than two steps
	putKs(t, svc, n, 7)
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"k"}}})
	info, err := svc.GetCollection(c, "c")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(info); !strings.Contains(string(b), `"building":true`) || !strings.Contains(string(b), `"buildingIndexes":[["k"]]`) {
		t.Errorf("collection while building: %s", b)
	}
	_, err = svc.Query(c, "c", where(`{"k":3}`))
	var te *truce.Error
	if !errors.As(err, &te) || te.Code != truce.CodeIndexBuilding || te.RetryAfter <= 0 {
		t.Errorf("a query while building: %v", err)
	}
	scan := where(`{"k":3}`)
	scan.Scan = true
	if got, err := queryIDs(t, svc, "c", scan); err != nil || len(got) != n/7 {
		t.Errorf("a scan while building: %d, %v", len(got), err)
	}
	// One step, then writes behind the build and ahead of it, a reopen,
	// and the rest.
	stopper := &stopAfterUpdate{Store: h.store}
	stepCtx, cancel := context.WithCancel(c)
	stopper.cancel = cancel
	if err := truce.NewService(stopper, truce.Options{}).BuildIndexes(stepCtx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a build stopped after a step: %v", err)
	}
	checkIndexes(t, svc, "c", "one step of the build")
	mustPut(t, svc, "c", docID(1), `{"k":3}`)
	mustPut(t, svc, "c", docID(n-1), `{"k":3}`)
	mustDelete(t, svc, "c", docID(n-2))
	checkIndexes(t, svc, "c", "writes during the build")
	h.reopen()
	svc = h.service()
	if info, err := svc.GetCollection(c, "c"); err != nil || len(info.Settings.IndexBuilds) == 0 {
		t.Fatalf("the build is forgotten by a reopen: %+v, %v", info, err)
	}
	runCtx, stop := context.WithCancel(c)
	done := make(chan error)
	go func() { done <- svc.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := svc.GetCollection(c, "c")
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Settings.IndexBuilds) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not finish the build after a reopen")
		}
		time.Sleep(10 * time.Millisecond)
	}
	checkIndexes(t, svc, "c", "the build")
	got, err := queryIDs(t, svc, "c", where(`{"k":3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range n {
		if (i%7 == 3 || i == 1 || i == n-1) && i != n-2 {
			want++
		}
	}
	if len(got) != want {
		t.Errorf("after the build: %d documents, want %d", len(got), want)
	}
}

// testIndexBuildConcurrentWrites: writes that race a build, before and
// after its position, leave the index holding exactly the live documents.
func testIndexBuildConcurrentWrites(t *testing.T, h *harness) {
	svc := h.service()
	c := ctx(t)
	const n = 900
	putKs(t, svc, n, 5)
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"k"}}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := docID((i*37 + w*401) % (n + 100))
				var err error
				if i%4 == 0 {
					_, err = svc.Delete(c, "c", id, truce.Precondition{}, nil)
					if truce.ErrorCode(err) == truce.CodeNotFound {
						err = nil
					}
				} else {
					_, err = svc.Put(c, "c", id, fmt.Appendf(nil, `{"k":%d}`, i%7), truce.Precondition{}, nil)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	err := svc.BuildIndexes(c)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, svc, "c", "a build racing writes")
}
