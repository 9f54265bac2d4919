package storetest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// expiryTests check document expiry (_expiresAt and a collection's ttl)
// end to end through a truce.Service over the store under test, with a
// clock the test moves: reads between the expiry and the sweep, the
// sweep's versioned delete, writes that meet an expired document, and
// updates that race the expiry.
var expiryTests = []test{
	{"Expiry/TTLAndSweep", testExpiryTTLAndSweep},
	{"Expiry/Field", testExpiryField},
	{"Expiry/WriteAfterExpiry", testExpiryWriteAfterExpiry},
	{"Expiry/ReferencedStays", testExpiryReferencedStays},
	{"Expiry/ReadsInsideWrites", testExpiryReadsInsideWrites},
	{"Expiry/RaceWithUpdates", testExpiryRaceWithUpdates},
}

// clock is a time the test sets, read by the Service as its Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(base.UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (h *harness) clockedService(c *clock) *truce.Service {
	return truce.NewService(h.store, truce.Options{Now: c.now})
}

func mustGet(t *testing.T, svc *truce.Service, collection, id string) *truce.Document {
	t.Helper()
	d, err := svc.Get(ctx(t), collection, id)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", collection, id, err)
	}
	return d
}

func wantCode(t *testing.T, what string, err error, code truce.Code) {
	t.Helper()
	if got := truce.ErrorCode(err); got != code {
		t.Fatalf("%s: %v (code %q), want code %q", what, err, got, code)
	}
}

func mustExpire(t *testing.T, svc *truce.Service, want int) {
	t.Helper()
	n, err := svc.ExpireDocuments(ctx(t))
	if err != nil {
		t.Fatalf("ExpireDocuments: %v", err)
	}
	if n != want {
		t.Fatalf("ExpireDocuments deleted %d documents, want %d", n, want)
	}
}

func testExpiryTTLAndSweep(t *testing.T, h *harness) {
	clk := newClock()
	svc := h.clockedService(clk)
	mustSettings(t, svc, "s", truce.Settings{TTL: "1h", Indexes: [][]string{{"k"}}})
	mustPut(t, svc, "s", "a", `{"k":1}`)
	mustPut(t, svc, "s", "b", `{"k":1}`)
	d := mustGet(t, svc, "s", "a")
	if got, want := d.ExpiresAt(), clk.now().Add(time.Hour).Truncate(time.Millisecond); !got.Equal(want) {
		t.Fatalf("a write under ttl 1h expires at %v, want %v", got, want)
	}
	if got := string(d.JSON()); !strings.Contains(got, `"_expiresAt":"`+string(truce.AppendTime(nil, d.ExpiresAt()))+`"`) {
		t.Fatalf("the document does not show its _expiresAt: %s", got)
	}
	mustExpire(t, svc, 0)

	clk.advance(30 * time.Minute)
	mustPut(t, svc, "s", "b", `{"k":1}`) // a put renews it: b now expires at 1h30
	clk.advance(30 * time.Minute)

	// Between the expiry and the sweep, a reads as deleted everywhere.
	_, err := svc.Get(ctx(t), "s", "a")
	wantCode(t, "Get of an expired document", err, truce.CodeNotFound)
	l, err := svc.GetMany(ctx(t), "s", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Items[0].Document != nil || l.Items[1].Document == nil {
		t.Fatalf("GetMany after a expired: a found %v, b found %v", l.Items[0].Document != nil, l.Items[1].Document != nil)
	}
	page, err := svc.List(ctx(t), "s", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page.Items); len(got) != 1 || got[0] != "b" || page.Next != "" {
		t.Fatalf("List after a expired: %v next %q, want [b] and no next", got, page.Next)
	}
	for _, q := range []truce.Query{{}, {Where: []byte(`{"k":1}`)}} {
		got, err := queryIDs(t, svc, "s", q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0] != "b" {
			t.Fatalf("query %+v after a expired: %v, want [b]", q, got)
		}
	}

	before := events(t, h)
	mustExpire(t, svc, 1)
	mustExpire(t, svc, 0)
	var cur *truce.Document
	h.view(func(tx truce.ReadTx) error {
		var err error
		cur, err = tx.Document("s", "a")
		return err
	})
	if !cur.Deleted || cur.Version != 2 {
		t.Fatalf("after the sweep a is version %d deleted %v, want a tombstone at version 2", cur.Version, cur.Deleted)
	}
	vs, err := svc.ListVersions(ctx(t), "s", "a", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Items) != 2 {
		t.Fatalf("a's history has %d versions, want 2 (the write and the tombstone)", len(vs.Items))
	}
	evs := events(t, h)[len(before):]
	if len(evs) != 1 || evs[0].Type != truce.EventDocumentDeleted || evs[0].ID != "a" || evs[0].Version != 2 || !strings.Contains(string(evs[0].Info), `"expired":true`) {
		t.Fatalf("the sweep appended %+v, want one document.deleted of a at version 2 marked expired", evs)
	}
	checkIndexes(t, svc, "s", "the sweep")
	// Re-created, the document continues from its tombstone.
	mustPut(t, svc, "s", "a", `{"k":2}`)
	if d := mustGet(t, svc, "s", "a"); d.Version != 3 {
		t.Fatalf("re-created a is at version %d, want 3", d.Version)
	}
	h.reopen()
	svc = h.clockedService(clk)
	clk.advance(2 * time.Hour)
	mustExpire(t, svc, 2)
	checkIndexes(t, svc, "s", "the sweep after a reopen")
}

func testExpiryField(t *testing.T, h *harness) {
	clk := newClock()
	svc := h.clockedService(clk)
	mustSettings(t, svc, "f", truce.Settings{TTL: "1h", Schema: []byte(`{"type":"object","additionalProperties":false,"properties":{"k":{"type":"integer"}}}`)})
	// An explicit time, in any offset, is kept (in UTC, milliseconds) and
	// wins over the ttl; the schema never sees _expiresAt.
	exp := clk.now().Add(10 * time.Minute)
	mustPut(t, svc, "f", "x", `{"k":1,"_expiresAt":"`+exp.In(time.FixedZone("", 2*3600)).Format(time.RFC3339Nano)+`"}`)
	d := mustGet(t, svc, "f", "x")
	if !d.ExpiresAt().Equal(exp.Truncate(time.Millisecond)) {
		t.Fatalf("explicit _expiresAt: got %v, want %v", d.ExpiresAt(), exp)
	}
	// A merge patch leaves it alone, or changes it.
	if _, err := svc.Patch(ctx(t), "f", "x", truce.MergePatch, []byte(`{"k":2}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := mustGet(t, svc, "f", "x"); !d.ExpiresAt().Equal(exp.Truncate(time.Millisecond)) {
		t.Fatalf("a patch of k changed _expiresAt to %v", d.ExpiresAt())
	}
	later := clk.now().Add(48 * time.Hour)
	if _, err := svc.Patch(ctx(t), "f", "x", truce.MergePatch, []byte(`{"_expiresAt":"`+later.Format(time.RFC3339)+`"}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := mustGet(t, svc, "f", "x"); !d.ExpiresAt().Equal(later.Truncate(time.Second)) {
		t.Fatalf("a patch of _expiresAt: got %v, want %v", d.ExpiresAt(), later)
	}
	// null removes it, and the ttl gives a new one.
	if _, err := svc.Patch(ctx(t), "f", "x", truce.MergePatch, []byte(`{"_expiresAt":null}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	if d := mustGet(t, svc, "f", "x"); !d.ExpiresAt().Equal(clk.now().Add(time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("after _expiresAt null under ttl 1h: %v", d.ExpiresAt())
	}
	// Without a ttl, null means never.
	mustPut(t, svc, "g", "y", `{"_expiresAt":null,"k":1}`)
	if d := mustGet(t, svc, "g", "y"); !d.ExpiresAt().IsZero() || string(d.Body) != `{"k":1}` {
		t.Fatalf("null _expiresAt without a ttl: expires %v, body %s", d.ExpiresAt(), d.Body)
	}
	// Bad values change nothing.
	for _, body := range []string{
		`{"_expiresAt":"tomorrow"}`, `{"_expiresAt":12}`,
		`{"_expiresAt":"` + clk.now().Add(-time.Second).Format(time.RFC3339) + `"}`,
		`{"_expiresAt":"` + clk.now().Format(time.RFC3339Nano) + `"}`,
	} {
		_, err := svc.Put(ctx(t), "f", "x", []byte(body), truce.Precondition{}, nil)
		wantCode(t, "put "+body, err, truce.CodeInvalidDocument)
	}
	if d := mustGet(t, svc, "f", "x"); d.Version != 4 {
		t.Fatalf("refused writes changed x to version %d", d.Version)
	}
	if _, err := truce.DecodeSettings([]byte(`{"ttl":"soon"}`)); truce.ErrorCode(err) != truce.CodeInvalidSettings {
		t.Fatalf(`ttl "soon": %v`, err)
	}
	if _, err := truce.DecodeSettings([]byte(`{"ttl":"10ms"}`)); truce.ErrorCode(err) != truce.CodeInvalidSettings {
		t.Fatalf(`ttl "10ms": %v`, err)
	}
}

func testExpiryWriteAfterExpiry(t *testing.T, h *harness) {
	clk := newClock()
	svc := h.clockedService(clk)
	mustSettings(t, svc, "w", truce.Settings{TTL: "1m", Unique: []string{"email"}})
	mustPut(t, svc, "w", "a", `{"email":"a@x"}`)
	old := mustGet(t, svc, "w", "a")
	clk.advance(time.Minute)
	// Every write meets a tombstone: the expiry is written first, in the
	// same commit, or not at all when the write is refused.
	_, err := svc.Put(ctx(t), "w", "a", []byte(`{"email":"a@x"}`), truce.Precondition{IfMatch: []string{old.ETag()}}, nil)
	wantCode(t, "If-Match of the expired version", err, truce.CodePreconditionFailed)
	_, err = svc.Patch(ctx(t), "w", "a", truce.MergePatch, []byte(`{"n":1}`), truce.Precondition{}, nil)
	wantCode(t, "patch of an expired document", err, truce.CodeNotFound)
	_, err = svc.Delete(ctx(t), "w", "a", truce.Precondition{Version: 1}, nil)
	wantCode(t, "delete at the expired version", err, truce.CodeNotFound)
	// Another document may take its unique value, as if it were deleted.
	mustPut(t, svc, "w", "b", `{"email":"a@x"}`)
	res, err := svc.Put(ctx(t), "w", "a", []byte(`{"email":"other"}`), truce.Precondition{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Document.Version != 3 {
		t.Fatalf("put after the expiry: created %v version %d, want created at version 3 (after the tombstone)", res.Created, res.Document.Version)
	}
	v2 := versionOf(t, h, "w", "a", 2)
	if !v2.Deleted {
		t.Fatalf("version 2 of a is not the expiry's tombstone: %+v", v2)
	}
	checkIndexes(t, svc, "w", "writes after an expiry")
	mustExpire(t, svc, 0)
}

// testExpiryReadsInsideWrites: a batch's check and a transaction's read
// meet an expired document as a write would, deleted.
func testExpiryReadsInsideWrites(t *testing.T, h *harness) {
	clk := newClock()
	svc := h.clockedService(clk)
	mustSettings(t, svc, "b", truce.Settings{TTL: "1m"})
	mustPut(t, svc, "b", "x", `{}`)
	mustPut(t, svc, "b", "y", `{}`)
	old := mustGet(t, svc, "b", "x")
	tr, err := svc.BeginTransaction(ctx(t), time.Hour, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	_, err = svc.Batch(ctx(t), []truce.Op{{Kind: truce.OpCheck, Collection: "b", ID: "x", Pre: truce.Precondition{IfMatch: []string{old.ETag()}}}}, nil, nil)
	wantCode(t, "a batch's If-Match check of the expired version", err, truce.CodePreconditionFailed)
	_, err = svc.Batch(ctx(t), []truce.Op{{Kind: truce.OpCheck, Collection: "b", ID: "x"}}, nil, nil)
	wantCode(t, "a batch's check of an expired document", err, truce.CodeNotFound)
	_, _, err = svc.TransactionGet(ctx(t), tr.ID, "b", "y")
	wantCode(t, "a transaction's read of an expired document", err, truce.CodeNotFound)
	if d := versionOf(t, h, "b", "y", 2); !d.Deleted {
		t.Fatalf("the transaction's read did not delete y: %+v", d)
	}
	mustExpire(t, svc, 1) // x: the refused batches wrote nothing
}

func versionOf(t *testing.T, h *harness, collection, id string, v int64) *truce.Document {
	t.Helper()
	var d *truce.Document
	h.view(func(tx truce.ReadTx) error {
		var err error
		d, err = tx.Version(collection, id, v)
		return err
	})
	return d
}

func testExpiryReferencedStays(t *testing.T, h *harness) {
	clk := newClock()
	svc := h.clockedService(clk)
	mustSettings(t, svc, "users", truce.Settings{TTL: "1m"})
	mustSettings(t, svc, "posts", truce.Settings{References: map[string]string{"author": "users"}})
	mustPut(t, svc, "users", "u", `{}`)
	mustPut(t, svc, "posts", "p", `{"author":"u"}`)
	mustPut(t, svc, "users", "v", `{}`)
	clk.advance(time.Minute)
	_, err := svc.Get(ctx(t), "users", "u")
	wantCode(t, "Get of an expired, referenced document", err, truce.CodeNotFound)
	// An expired document is no target for a new reference.
	_, err = svc.Put(ctx(t), "posts", "q", []byte(`{"author":"v"}`), truce.Precondition{}, nil)
	wantCode(t, "a reference to an expired document", err, truce.CodeInvalidReference)
	mustExpire(t, svc, 1) // v; u is referenced: it stays
	mustDelete(t, svc, "posts", "p")
	mustExpire(t, svc, 1)
}

// testExpiryRaceWithUpdates races conditional updates against the expiry
// and the sweeper: every acknowledged update must be in the history at its
// version, and a document that ends deleted must have been deleted by a
// tombstone after the last acknowledged update: never acknowledged, then
// dropped without a versioned delete.
func testExpiryRaceWithUpdates(t *testing.T, h *harness) {
	clk := newClock()
	svc := h.clockedService(clk)
	mustSettings(t, svc, "r", truce.Settings{TTL: "1m"})
	const docs, writers = 8, 3
	for i := range docs {
		mustPut(t, svc, "r", fmt.Sprint("d", i), `{"n":0}`)
	}
	type ack struct {
		id      string
		version int64
		etag    string
	}
	var (
		mu   sync.Mutex
		acks []ack
		wg   sync.WaitGroup
		stop atomic.Bool
		// attempts counts finished patches, running the writers still
		// writing: the clock moves only as the writers make progress.
		attempts, running atomic.Int64
	)
	errc := make(chan error, docs*writers+1)
	for i := range docs {
		id := fmt.Sprint("d", i)
		for w := range writers {
			wg.Add(1)
			running.Add(1)
			go func() {
				defer wg.Done()
				defer running.Add(-1)
				for n := 1; !stop.Load(); n++ {
					d, err := svc.Get(ctx(t), "r", id)
					if truce.ErrorCode(err) == truce.CodeNotFound {
						return
					}
					if err != nil {
						errc <- err
						return
					}
					res, err := svc.Patch(ctx(t), "r", id, truce.MergePatch, []byte(fmt.Sprintf(`{"w%d":%d}`, w, n)), truce.Precondition{IfMatch: []string{d.ETag()}}, nil)
					attempts.Add(1)
					switch truce.ErrorCode(err) {
					case "":
						mu.Lock()
						acks = append(acks, ack{id, res.Document.Version, res.Document.ETag()})
						mu.Unlock()
					case truce.CodePreconditionFailed, truce.CodeNotFound:
					default:
						errc <- fmt.Errorf("patch of %s: %w", id, err)
						return
					}
				}
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 40; i++ {
			// Wait for a round of patches, while anyone still writes.
			for seen := attempts.Load(); attempts.Load() < seen+docs && running.Load() > 0; {
				time.Sleep(time.Millisecond)
			}
			clk.advance(2 * time.Second) // the clock crosses the expiry while writers write
			if _, err := svc.ExpireDocuments(ctx(t)); err != nil {
				errc <- err
			}
		}
		stop.Store(true)
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	mustExpire(t, svc, 0)
	last := map[string]int64{}
	for _, a := range acks {
		v := versionOf(t, h, "r", a.id, a.version)
		if v.ETag() != a.etag || v.Deleted {
			t.Fatalf("acknowledged %s version %d (%s), history holds %s deleted %v", a.id, a.version, a.etag, v.ETag(), v.Deleted)
		}
		last[a.id] = max(last[a.id], a.version)
	}
	for i := range docs {
		id := fmt.Sprint("d", i)
		var cur *truce.Document
		h.view(func(tx truce.ReadTx) error {
			var err error
			cur, err = tx.Document("r", id)
			return err
		})
		if !cur.Deleted {
			t.Fatalf("%s is live at version %d after the clock passed its expiry and a sweep", id, cur.Version)
		}
		if cur.Version <= last[id] {
			t.Fatalf("%s ends deleted at version %d, not after its last acknowledged update (version %d)", id, cur.Version, last[id])
		}
		for v := int64(1); v <= cur.Version; v++ {
			if d := versionOf(t, h, "r", id, v); d.Version != v {
				t.Fatalf("%s: history lacks version %d", id, v)
			}
		}
	}
	if len(acks) == 0 {
		t.Fatal("no update was acknowledged: the race did not run")
	}
}

// events returns the whole change log.
func events(t *testing.T, h *harness) []*truce.Event {
	t.Helper()
	var evs []*truce.Event
	h.view(func(tx truce.ReadTx) error {
		var err error
		evs, err = tx.Events(0, 100000)
		return err
	})
	return evs
}
