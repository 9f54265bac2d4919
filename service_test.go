package truce_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

func mustService(tb testing.TB) (*truce.Service, *pebble.Store) {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	return truce.NewService(store, truce.Options{}), store
}

func events(tb testing.TB, store truce.Store) []*truce.Event {
	tb.Helper()
	var evs []*truce.Event
	err := store.View(context.Background(), func(tx truce.ReadTx) error {
		var err error
		evs, err = tx.Events(0, 1000)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// TestChangeLog: every committed write appends exactly one event with the
// next seq, in the same commit; a refused write appends nothing.
func TestChangeLog(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	d1, err := svc.Create(ctx, "notes", []byte(`{"_id":"n1","a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.Put(ctx, "notes", "n1", []byte(`{"a":2}`), truce.Precondition{IfMatch: []string{d1.ETag()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Refused writes: stale If-Match, stale version, bad body.
	if _, err := svc.Put(ctx, "notes", "n1", []byte(`{"a":3}`), truce.Precondition{IfMatch: []string{d1.ETag()}}, nil); truce.ErrorCode(err) != truce.CodePreconditionFailed {
		t.Fatalf("stale If-Match: %v", err)
	}
	var te *truce.Error
	if _, err := svc.Put(ctx, "notes", "n1", []byte(`{"a":3,"_version":1}`), truce.Precondition{}, nil); !errors.As(err, &te) || te.Code != truce.CodeVersionConflict || te.Current.Version != 2 {
		t.Fatalf("stale version: %v", err)
	}
	if _, err := svc.Put(ctx, "notes", "n1", []byte(`[]`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeInvalidDocument {
		t.Fatalf("bad body: %v", err)
	}
	del, err := svc.Delete(ctx, "notes", "n1", truce.Precondition{Version: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}

	evs := events(t, store)
	want := []struct {
		typ     truce.EventType
		version int64
		etag    string
	}{
		{truce.EventDocumentCreated, 1, d1.ETag()},
		{truce.EventDocumentUpdated, 2, res.Document.ETag()},
		{truce.EventDocumentDeleted, 3, del.ETag()},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		e := evs[i]
		if e.Seq != int64(i+1) || e.Type != w.typ || e.Version != w.version || e.ETag != w.etag || e.Collection != "notes" || e.ID != "n1" {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	if evs[0].Document == nil || evs[2].Document != nil {
		t.Errorf("documents in events: %q / %q", evs[0].Document, evs[2].Document)
	}
}

// TestLastWriteWins: the policy applies a stale body version and keeps the
// overwritten version in history.
func TestLastWriteWins(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	if _, _, err := svc.PutCollection(ctx, "cfg", truce.Settings{ConflictPolicy: truce.PolicyLastWriteWins}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"v":1}`, `{"v":2}`} {
		if _, err := svc.Put(ctx, "cfg", "k", []byte(body), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := svc.Put(ctx, "cfg", "k", []byte(`{"v":3,"_version":1}`), truce.Precondition{}, nil)
	if err != nil || res.Document.Version != 3 {
		t.Fatalf("stale write under last-write-wins: %v %+v", err, res)
	}
	old, err := svc.GetVersion(ctx, "cfg", "k", 2)
	if err != nil || string(old.Body) != `{"v":2}` {
		t.Fatalf("overwritten version: %v %s", err, old.Body)
	}
	// Header preconditions are never overridden by the policy.
	if _, err := svc.Put(ctx, "cfg", "k", []byte(`{}`), truce.Precondition{IfMatch: []string{old.ETag()}}, nil); truce.ErrorCode(err) != truce.CodePreconditionFailed {
		t.Fatalf("If-Match under last-write-wins: %v", err)
	}
	if _, _, err := svc.PutCollection(ctx, "cfg", truce.Settings{ConflictPolicy: "first-write-wins"}); truce.ErrorCode(err) != truce.CodeInvalidSettings {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestInvalidNamesNeverReachTheStore(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	if _, err := svc.Put(ctx, "Bad", "x", []byte(`{}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeInvalidCollection {
		t.Fatal(err)
	}
	if _, err := svc.Put(ctx, "ok", "a/b", []byte(`{}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeInvalidID {
		t.Fatal(err)
	}
	if len(events(t, store)) != 0 {
		t.Fatal("refused writes left events")
	}
}

// TestIdempotencyExpiry: an answer is kept for the TTL, then treated as
// absent and swept.
func TestIdempotencyExpiry(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := truce.NewService(store, truce.Options{IdempotencyTTL: time.Hour, Now: func() time.Time { return now }})
	ctx := context.Background()
	k := &truce.IdempotencyKey{Caller: "c", Key: "k", Fingerprint: []byte("f")}
	if _, err := svc.CreateLocked(ctx, "notes", []byte(`{}`), "", k); err != nil {
		t.Fatalf("create: %v", err)
	}
	if rec, err := svc.GetIdempotency(ctx, "c", "k"); err != nil || rec == nil || rec.Result == nil || !rec.Result.Created {
		t.Fatalf("stored answer: %+v %v", rec, err)
	}
	now = now.Add(59 * time.Minute)
	if n, err := svc.SweepIdempotency(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: %d %v", n, err)
	}
	now = now.Add(2 * time.Minute)
	if rec, err := svc.GetIdempotency(ctx, "c", "k"); err != nil || rec != nil {
		t.Fatalf("expired answer still served: %+v %v", rec, err)
	}
	if n, err := svc.SweepIdempotency(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry: %d %v", n, err)
	}
	// The key can be used again once its answer expired.
	k2 := &truce.IdempotencyKey{Caller: "c", Key: "k", Fingerprint: []byte("other")}
	if _, err := svc.CreateLocked(ctx, "notes", []byte(`{}`), "", k2); err != nil {
		t.Fatalf("reuse after expiry: %v", err)
	}
	if rec, err := svc.GetIdempotency(ctx, "c", "k"); err != nil || rec == nil || !rec.Matches([]byte("other")) {
		t.Fatalf("answer after reuse: %+v %v", rec, err)
	}
}

// TestIdempotentWrites: a write given an idempotency key stores its answer
// in its own commit exactly when it succeeds: its result for a document
// write, the bytes its AnswerFunc made, untouched, for a batch or a
// transaction; a second request with the key is refused, and a failed
// write stores nothing.
func TestIdempotentWrites(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	key := func(name string) *truce.IdempotencyKey {
		return &truce.IdempotencyKey{Caller: "c", Key: name, Fingerprint: []byte(name)}
	}
	stored := func(name string) *truce.IdempotencyRecord {
		t.Helper()
		rec, err := svc.GetIdempotency(ctx, "c", name)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	answer := []byte{0, 'a', 0xff} // opaque: any bytes
	encode := func(results []truce.OpResult) []byte {
		if len(results) != 1 || results[0].Document == nil {
			t.Errorf("answer made of %+v", results)
		}
		return answer
	}

	res, err := svc.Put(ctx, "notes", "n1", []byte(`{"a":1}`), truce.Precondition{}, key("put"))
	if rec := stored("put"); err != nil || rec == nil || rec.Result == nil || rec.Result.Document.Seq != res.Document.Seq || rec.Answer != nil {
		t.Fatalf("put: %v, stored %+v", err, rec)
	}
	if _, err := svc.Put(ctx, "notes", "n1", []byte(`{"a":2}`), truce.Precondition{}, key("put")); truce.ErrorCode(err) != truce.CodeIdempotencyKeyInUse {
		t.Fatalf("second put with the key: %v", err)
	}
	if _, err := svc.Put(ctx, "notes", "n1", []byte(`{"a":3}`), truce.Precondition{Version: 9}, key("stale")); truce.ErrorCode(err) != truce.CodeVersionConflict || stored("stale") != nil {
		t.Fatalf("refused put: %v, stored %+v", err, stored("stale"))
	}
	if _, err := svc.Batch(ctx, []truce.Op{{Kind: truce.OpPut, Collection: "notes", ID: "n2", Document: []byte(`{}`)}}, key("batch"), encode); err != nil {
		t.Fatal(err)
	}
	if rec := stored("batch"); rec == nil || rec.Result != nil || string(rec.Answer) != string(answer) {
		t.Fatalf("batch stored %+v", rec)
	}
	tx, err := svc.BeginTransaction(ctx, 0, key("begin"), func(*truce.Transaction) []byte { return answer })
	if rec := stored("begin"); err != nil || rec == nil || string(rec.Answer) != string(answer) {
		t.Fatalf("begin: %v, stored %+v", err, rec)
	}
	if _, err := svc.TransactionWrite(ctx, tx.ID, truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "n3", Document: []byte(`{}`)}, key("stage"), encode); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CommitTransaction(ctx, tx.ID, key("commit"), encode); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stage", "commit"} {
		if rec := stored(name); rec == nil || string(rec.Answer) != string(answer) {
			t.Fatalf("%s stored %+v", name, rec)
		}
	}
	if _, err := svc.CommitTransaction(ctx, tx.ID, key("again"), encode); truce.ErrorCode(err) != truce.CodeTransactionExpired || stored("again") != nil {
		t.Fatalf("second commit: %v, stored %+v", err, stored("again"))
	}
}

// mustPut writes body to collection/id with no precondition, failing the
// test on an error, and returns the stored version.
func mustPut(tb testing.TB, svc *truce.Service, collection, id, body string) *truce.Document {
	tb.Helper()
	res, err := svc.Put(context.Background(), collection, id, []byte(body), truce.Precondition{}, nil)
	if err != nil {
		tb.Fatalf("Put %s/%s %s: %v", collection, id, body, err)
	}
	return res.Document
}

// mustDelete deletes collection/id with no precondition, failing the test
// on an error, and returns the tombstone.
func mustDelete(tb testing.TB, svc *truce.Service, collection, id string) *truce.Document {
	tb.Helper()
	d, err := svc.Delete(context.Background(), collection, id, truce.Precondition{}, nil)
	if err != nil {
		tb.Fatalf("Delete %s/%s: %v", collection, id, err)
	}
	return d
}

// mustSettings creates a collection or replaces its settings, failing the
// test on an error.
func mustSettings(tb testing.TB, svc *truce.Service, name string, s truce.Settings) {
	tb.Helper()
	if _, _, err := svc.PutCollection(context.Background(), name, s); err != nil {
		tb.Fatalf("PutCollection %s %+v: %v", name, s, err)
	}
}

// lastSeq returns the change log's last seq: a refused write leaves it
// where it was, since every commit takes the next one.
func lastSeq(tb testing.TB, store truce.Store) int64 {
	tb.Helper()
	var seq int64
	err := store.View(context.Background(), func(tx truce.ReadTx) error {
		var err error
		seq, err = tx.LastSeq()
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// bodyOf returns the body of the live document collection/id, or "" when
// there is none.
func bodyOf(tb testing.TB, svc *truce.Service, collection, id string) string {
	tb.Helper()
	d, err := svc.Get(context.Background(), collection, id)
	if truce.ErrorCode(err) == truce.CodeNotFound {
		return ""
	}
	if err != nil {
		tb.Fatalf("Get %s/%s: %v", collection, id, err)
	}
	return string(d.Body)
}

// codeIs reports whether err has the code want ("" for no error), and
// reports the difference as a test error when it does not.
func codeIs(tb testing.TB, what string, err error, want truce.Code) bool {
	tb.Helper()
	if got := truce.ErrorCode(err); got != want {
		tb.Errorf("%s: %v, want code %q", what, err, want)
		return false
	}
	return true
}
