package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
	sdk "github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// sentBatch is a POST /v1/tx as it reached the server.
type sentBatch struct {
	req  *http.Request // its body already read into body
	body []byte
}

// batchRecorder is a server on 127.0.0.1 that records the batches the SDK
// sends and answers each with no results, and the SDK's client for it.
type batchRecorder struct {
	tb   testing.TB
	c    *sdk.Client
	mu   sync.Mutex
	sent []sentBatch
}

func mustRecordBatches(tb testing.TB) *batchRecorder {
	tb.Helper()
	rec := &batchRecorder{tb: tb}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || r.URL.Path != "/v1/tx" {
			http.Error(w, "not a batch", http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.sent = append(rec.sent, sentBatch{req: r, body: body})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"results":[]}`)
	}))
	tb.Cleanup(srv.Close)
	c, err := sdk.New(srv.URL, sdk.WithRetry(sdk.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		tb.Fatal(err)
	}
	rec.c = c
	return rec
}

// send sends b with Client.Batch and returns the request as it arrived.
func (rec *batchRecorder) send(b *sdk.Batch, opts ...sdk.CallOption) sentBatch {
	rec.tb.Helper()
	if _, err := rec.c.Batch(context.Background(), b, opts...); err != nil {
		rec.tb.Fatalf("Client.Batch: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.sent) == 0 {
		rec.tb.Fatal("the SDK sent no batch")
	}
	s := rec.sent[len(rec.sent)-1]
	rec.sent = rec.sent[:0]
	return s
}

// mustBatchHandler returns a truce handler over a Pebble store in a
// temporary directory, to decode batches with.
func mustBatchHandler(tb testing.TB) *trucehttp.Handler {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { store.Close() })
	return trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{})
}

// decodeSent decodes a batch as the server does, failing the test when the
// server refuses it.
func decodeSent(tb testing.TB, h *trucehttp.Handler, s sentBatch) []truce.Op {
	tb.Helper()
	ops, err := trucehttp.DecodeBatch(h, s.req, s.body)
	if err != nil {
		tb.Fatalf("the server refuses the batch: %v\n%s", err, s.body)
	}
	return canonicalOps(tb, ops)
}

// canonicalOps re-encodes the documents and patches of ops, so that ops
// compare by what their JSON means: the SDK re-encodes what it is given
// (compact, with <, > and & escaped).
func canonicalOps(tb testing.TB, ops []truce.Op) []truce.Op {
	tb.Helper()
	canon := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // numbers keep their text
		var v any
		if err := dec.Decode(&v); err != nil {
			tb.Fatalf("not JSON: %v: %s", err, b)
		}
		out, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		return out
	}
	out := make([]truce.Op, len(ops))
	for i, op := range ops {
		op.Document, op.Patch = canon(op.Document), canon(op.Patch)
		out[i] = op
	}
	return out
}

// TestBatchSDKRoundTrip: every op kind of client.Batch, with every option
// each takes, reaches the Service as the op that was meant, read by the
// server's own decoder from the bytes the SDK sent; the request's
// Lock-Token applies to the ops that name none.
func TestBatchSDKRoundTrip(t *testing.T) {
	h := mustBatchHandler(t)
	rec := mustRecordBatches(t)
	doc := json.RawMessage(`{"title":"t"}`)
	b := &sdk.Batch{}
	var want []truce.Op
	add := func(op truce.Op) { want = append(want, op) }
	pre := func(ifMatch, ifNoneMatch []string, version int64, lockToken string) truce.Precondition {
		return truce.Precondition{IfMatch: ifMatch, IfNoneMatch: ifNoneMatch, Version: version, LockToken: lockToken}
	}

	b.Create("notes", json.RawMessage(`{"_id":"c1","title":"a"}`))
	add(truce.Op{Kind: truce.OpCreate, Collection: "notes", Document: []byte(`{"_id":"c1","title":"a"}`)})
	b.Create("notes", map[string]any{"title": "<b> & co", "n": 1.5})
	add(truce.Op{Kind: truce.OpCreate, Collection: "notes", Document: []byte(`{"n":1.5,"title":"<b> & co"}`)})

	b.Put("notes", "p1", json.RawMessage(`{"title":"p","_version":3}`))
	add(truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "p1", Document: []byte(`{"title":"p","_version":3}`)})
	b.Put("notes", "p2", doc, sdk.IfMatch(`"3-17"`))
	add(truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "p2", Document: doc, Pre: pre([]string{`"3-17"`}, nil, 0, "")})
	b.Put("notes", "p3", doc, sdk.IfMatch("3-18")) // quoted by the SDK
	add(truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "p3", Document: doc, Pre: pre([]string{`"3-18"`}, nil, 0, "")})
	b.Put("notes", "p4", doc, sdk.IfMatch(`"1-2", W/"1-3"`))
	add(truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "p4", Document: doc, Pre: pre([]string{`"1-2"`, `W/"1-3"`}, nil, 0, "")})
	b.Put("notes", "p5", doc, sdk.IfNoneMatch("*"))
	add(truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "p5", Document: doc, Pre: pre(nil, []string{"*"}, 0, "")})
	b.Put("notes", "p6", doc, sdk.Version(4), sdk.Header("Lock-Token", "tok-p6"))
	add(truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "p6", Document: doc, Pre: pre(nil, nil, 4, "tok-p6")})

	b.Patch("notes", "m1", sdk.MergePatch(map[string]any{"title": nil, "tags": []string{"x"}}), sdk.IfMatch(`"2-9"`), sdk.Header("Lock-Token", "tok-m1"))
	add(truce.Op{Kind: truce.OpPatch, Collection: "notes", ID: "m1", PatchType: truce.MergePatch, Patch: []byte(`{"tags":["x"],"title":null}`),
		Pre: pre([]string{`"2-9"`}, nil, 0, "tok-m1")})
	b.Patch("notes", "m2", sdk.MergePatch(json.RawMessage(`{"n":1}`)), sdk.IfNoneMatch(`"5-5"`))
	add(truce.Op{Kind: truce.OpPatch, Collection: "notes", ID: "m2", PatchType: truce.MergePatch, Patch: []byte(`{"n":1}`),
		Pre: pre(nil, []string{`"5-5"`}, 0, "")})
	b.Patch("notes", "j1", sdk.JSONPatch([]sdk.PatchOp{
		{Op: "test", Path: "/title", Value: json.RawMessage(`"t"`)},
		{Op: "replace", Path: "/title", Value: json.RawMessage(`"u"`)},
		{Op: "move", From: "/a", Path: "/b"},
		{Op: "remove", Path: "/c"},
	}), sdk.Version(2))
	add(truce.Op{Kind: truce.OpPatch, Collection: "notes", ID: "j1", PatchType: truce.JSONPatch,
		Patch: []byte(`[{"op":"test","path":"/title","value":"t"},{"op":"replace","path":"/title","value":"u"},` +
			`{"from":"/a","op":"move","path":"/b"},{"op":"remove","path":"/c"}]`),
		Pre: pre(nil, nil, 2, "")})

	b.Delete("notes", "d1")
	add(truce.Op{Kind: truce.OpDelete, Collection: "notes", ID: "d1"})
	b.Delete("notes", "d2", sdk.IfMatch(`"4-4"`), sdk.Header("Lock-Token", "tok-d2"))
	add(truce.Op{Kind: truce.OpDelete, Collection: "notes", ID: "d2", Pre: pre([]string{`"4-4"`}, nil, 0, "tok-d2")})
	b.Delete("notes", "d3", sdk.IfNoneMatch(`"9-9"`))
	add(truce.Op{Kind: truce.OpDelete, Collection: "notes", ID: "d3", Pre: pre(nil, []string{`"9-9"`}, 0, "")})
	b.Delete("notes", "d4", sdk.Version(7))
	add(truce.Op{Kind: truce.OpDelete, Collection: "notes", ID: "d4", Pre: pre(nil, nil, 7, "")})

	b.Check("accounts", "k1")
	add(truce.Op{Kind: truce.OpCheck, Collection: "accounts", ID: "k1"})
	b.Check("accounts", "k2", sdk.IfMatch(`"1-1"`))
	add(truce.Op{Kind: truce.OpCheck, Collection: "accounts", ID: "k2", Pre: pre([]string{`"1-1"`}, nil, 0, "")})
	b.Check("accounts", "k3", sdk.IfNoneMatch("*"))
	add(truce.Op{Kind: truce.OpCheck, Collection: "accounts", ID: "k3", Pre: pre(nil, []string{"*"}, 0, "")})
	b.Check("accounts", "k4", sdk.Version(3), sdk.Header("Lock-Token", "tok-k4"))
	add(truce.Op{Kind: truce.OpCheck, Collection: "accounts", ID: "k4", Pre: pre(nil, nil, 3, "tok-k4")})

	want = canonicalOps(t, want)
	if d := cmp.Diff(want, decodeSent(t, h, rec.send(b))); d != "" {
		t.Errorf("the ops the server reads (-meant +read):\n%s", d)
	}

	// The request's Lock-Token is every op's that names none.
	for i := range want {
		if want[i].Pre.LockToken == "" {
			want[i].Pre.LockToken = "tok-request"
		}
	}
	if d := cmp.Diff(want, decodeSent(t, h, rec.send(b, sdk.Header("Lock-Token", "tok-request")))); d != "" {
		t.Errorf("with the request's Lock-Token (-meant +read):\n%s", d)
	}
}

// TestParseBatchAcceptsServerBatches: client.ParseBatch, behind truce tx
// -f, reads every batch the server accepts, as the {"ops": [...]} envelope
// and as the bare array, and the SDK sends it on so that the server reads
// the same ops from it as from the original.
func TestParseBatchAcceptsServerBatches(t *testing.T) {
	h := mustBatchHandler(t)
	rec := mustRecordBatches(t)
	full := &sdk.Batch{}
	full.Create("notes", map[string]string{"_id": "c1"}).
		Put("notes", "p1", map[string]string{"a": "b"}, sdk.IfMatch(`"1-1"`), sdk.Header("Lock-Token", "tok")).
		Patch("notes", "m1", sdk.MergePatch(map[string]any{"a": nil}), sdk.Version(2)).
		Patch("notes", "j1", sdk.JSONPatch([]sdk.PatchOp{{Op: "add", Path: "/a", Value: json.RawMessage(`[1]`)}}), sdk.IfNoneMatch(`"2-2"`)).
		Delete("notes", "d1", sdk.IfMatch("*")).
		Check("notes", "k1", sdk.IfNoneMatch("*"))
	bodies := map[string]string{
		// docs/api.md section 7, with ETags for its "…".
		"docs/api.md": `{"ops": [
  {"op": "check",  "collection": "accounts", "id": "a", "ifMatch": "\"3-7\""},
  {"op": "patch",  "collection": "accounts", "id": "a", "ifMatch": "\"3-7\"", "mergePatch": {"balance": 70}},
  {"op": "put",    "collection": "accounts", "id": "b", "version": 4, "document": {"balance": 130}},
  {"op": "create", "collection": "ledger", "document": {"from": "a", "to": "b", "amount": 30}},
  {"op": "delete", "collection": "holds", "id": "h1"}
]}`,
		"as the SDK builds it": string(rec.send(full).body),
		"every member the server reads": `{"ops":[
  {"op":"create","collection":"notes","id":"c2","lockToken":"t1","document":{"x":"<&>","big":12345678901234567890}},
  {"op":"put","collection":"notes","id":"p2","ifMatch":"\"1-1\", W/\"1-2\"","ifNoneMatch":null,"version":null,"lockToken":"","document":{}},
  {"op":"patch","collection":"notes","id":"j2","jsonPatch":[{"op":"copy","from":"/a","path":"/b"}],"document":null},
  {"op":"delete","collection":"notes","id":"d2","ifNoneMatch":"*"},
  {"op":"check","collection":"notes","id":"k2","version":9,"lockToken":"t2"}
]}`,
		"no ops": `{"ops":[]}`,
	}
	for name, body := range bodies {
		req := httptest.NewRequest(http.MethodPost, "/v1/tx", nil)
		want := decodeSent(t, h, sentBatch{req: req, body: []byte(body)})
		var env struct{ Ops json.RawMessage }
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatal(err)
		}
		for form, data := range map[string]string{"envelope": body, "array": string(env.Ops)} {
			b, err := sdk.ParseBatch([]byte(data))
			if err != nil {
				t.Errorf("%s, %s: ParseBatch refuses what the server accepts: %v", name, form, err)
				continue
			}
			if b.Len() != len(want) {
				t.Errorf("%s, %s: ParseBatch read %d ops, the server %d", name, form, b.Len(), len(want))
				continue
			}
			if b.Len() == 0 {
				continue // Client.Batch does not send an empty batch
			}
			if d := cmp.Diff(want, decodeSent(t, h, rec.send(b))); d != "" {
				t.Errorf("%s, %s: the ops the server reads from what the SDK sent (-original +sent):\n%s", name, form, d)
			}
		}
	}
}
