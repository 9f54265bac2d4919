package http_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

type obj = map[string]any

// TestBatchEveryOp runs every op kind with each precondition style in one
// batch, and checks the results, the stored state and the events.
func TestBatchEveryOp(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	a := e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	b := e.put("/v1/collections/acc/docs/b", `{"balance":100}`)
	e.put("/v1/collections/acc/docs/c", `{"balance":5}`)
	e.put("/v1/collections/acc/docs/d", `{"balance":7}`)
	before := e.lastSeq()

	r := e.do("POST", "/v1/tx", ops(
		obj{"op": "check", "collection": "acc", "id": "a", "ifMatch": a.Header.Get("ETag")},
		obj{"op": "check", "collection": "acc", "id": "b", "version": 1},
		obj{"op": "check", "collection": "acc", "id": "zz", "ifNoneMatch": "*"},
		obj{"op": "patch", "collection": "acc", "id": "a", "ifMatch": a.Header.Get("ETag"), "mergePatch": obj{"balance": 70}},
		obj{"op": "patch", "collection": "acc", "id": "b", "version": 1, "jsonPatch": []obj{{"op": "replace", "path": "/balance", "value": 130}}},
		obj{"op": "put", "collection": "acc", "id": "c", "version": 1, "document": obj{"balance": 6}},
		obj{"op": "put", "collection": "acc", "id": "e", "ifNoneMatch": "*", "document": obj{"balance": 1}},
		obj{"op": "delete", "collection": "acc", "id": "d", "ifMatch": "*"},
		obj{"op": "create", "collection": "ledger", "id": "l1", "document": obj{"from": "a", "to": "b", "amount": 30}},
	)).want(t, 200, "")
	ans := r.tx(t)
	wantStatus := []int{200, 200, 200, 200, 200, 200, 201, 204, 201}
	if len(ans.Results) != len(wantStatus) {
		t.Fatalf("%d results, want %d: %s", len(ans.Results), len(wantStatus), r.Body)
	}
	for i, w := range wantStatus {
		if ans.Results[i].Status != w {
			t.Errorf("result %d: status %d, want %d", i, ans.Results[i].Status, w)
		}
	}
	if ans.Results[0].ETag != a.Header.Get("ETag") || ans.Results[1].ETag != b.Header.Get("ETag") || ans.Results[2].Document != nil {
		t.Errorf("check results: %s", r.Body)
	}
	for id, want := range map[string]float64{"a": 70, "b": 130, "c": 6, "e": 1} {
		g := e.do("GET", "/v1/collections/acc/docs/"+id, nil).want(t, 200, "")
		if got := field(t, g.Body, "balance"); got != want {
			t.Errorf("%s: balance %v, want %v", id, got, want)
		}
	}
	e.do("GET", "/v1/collections/acc/docs/d", nil).want(t, 404, "not_found")
	e.do("GET", "/v1/collections/ledger/docs/l1", nil).want(t, 200, "")
	if got := ans.Results[3].ETag; got != e.do("GET", "/v1/collections/acc/docs/a", nil).Header.Get("ETag") {
		t.Errorf("result etag %s is not the stored one", got)
	}

	// One seq per write, then the transaction's own event, all in order.
	evs := e.events(before)
	if len(evs) != 7 {
		t.Fatalf("%d events, want 6 document events and 1 transaction event", len(evs))
	}
	last := evs[len(evs)-1]
	if last.Type != truce.EventTransactionCommitted {
		t.Fatalf("last event is %s, want %s", last.Type, truce.EventTransactionCommitted)
	}
	var info struct {
		Transaction       string
		Ops               int
		FirstSeq, LastSeq int64
		Writes            []obj
	}
	if err := json.Unmarshal(last.Info, &info); err != nil {
		t.Fatal(err)
	}
	if info.Transaction == "" || info.Ops != 9 || info.FirstSeq != before+1 || info.LastSeq != before+6 || len(info.Writes) != 6 {
		t.Errorf("transaction event info %s", last.Info)
	}
	for i, ev := range evs[:6] {
		if ev.Seq != before+1+int64(i) || ev.Type == truce.EventTransactionCommitted {
			t.Errorf("event %d: seq %d type %s", i, ev.Seq, ev.Type)
		}
	}
}

// TestBatchFailureLeavesNoTrace makes each op of a batch fail in turn, for
// every kind of failure: the answer is the op's status with failedOp, the
// others are 424, and nothing is applied (the change log does not move).
func TestBatchFailureLeavesNoTrace(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/x", `{"n":1}`)
	e.put("/v1/collections/acc/docs/y", `{"n":1}`)
	e.put("/v1/collections/users", `{"unique":["email"]}`)
	e.put("/v1/collections/users/docs/u1", `{"email":"a@x"}`)

	for _, id := range []string{"g1", "g2", "g3"} {
		e.put("/v1/collections/acc/docs/"+id, `{"n":1}`)
	}
	good := []obj{
		{"op": "patch", "collection": "acc", "id": "g1", "version": 1, "mergePatch": obj{"n": 2}},
		{"op": "create", "collection": "acc", "id": "new1", "document": obj{"n": 1}},
		{"op": "put", "collection": "acc", "id": "g2", "ifMatch": "*", "document": obj{"n": 3}},
		{"op": "check", "collection": "acc", "id": "g3", "version": 1},
	}
	failures := []struct {
		name   string
		op     obj
		status int
		code   string
	}{
		{"stale if-match", obj{"op": "patch", "collection": "acc", "id": "x", "ifMatch": `"9-9"`, "mergePatch": obj{"n": 5}}, 412, "precondition_failed"},
		{"stale version", obj{"op": "put", "collection": "acc", "id": "y", "version": 7, "document": obj{"n": 5}}, 409, "version_conflict"},
		{"check stale", obj{"op": "check", "collection": "acc", "id": "y", "version": 4}, 409, "version_conflict"},
		{"missing", obj{"op": "delete", "collection": "acc", "id": "nope"}, 404, "not_found"},
		{"exists", obj{"op": "create", "collection": "users", "id": "u1", "document": obj{"email": "b@x"}}, 409, "already_exists"},
		{"unique", obj{"op": "create", "collection": "users", "document": obj{"email": "a@x"}}, 409, "unique_violation"},
		{"bad patch", obj{"op": "patch", "collection": "acc", "id": "y", "jsonPatch": obj{"op": "add"}}, 400, "invalid_patch"},
		{"reserved", obj{"op": "put", "collection": "acc", "id": "z", "document": obj{"_x": 1}}, 400, "reserved_field"},
		{"test failed", obj{"op": "patch", "collection": "acc", "id": "y", "jsonPatch": []obj{{"op": "test", "path": "/n", "value": 42}}}, 409, "patch_test_failed"},
	}
	for _, f := range failures {
		for pos := 0; pos <= len(good); pos++ {
			t.Run(fmt.Sprintf("%s at %d", f.name, pos), func(t *testing.T) {
				before := e.lastSeq()
				batch := append(append(append([]obj{}, good[:pos]...), f.op), good[pos:]...)
				r := e.do("POST", "/v1/tx", ops(batch...)).want(t, f.status, f.code)
				a := r.tx(t)
				if a.FailedOp == nil || *a.FailedOp != pos {
					t.Fatalf("failedOp %v, want %d: %s", a.FailedOp, pos, r.Body)
				}
				if len(a.Results) != len(batch) {
					t.Fatalf("%d results for %d ops", len(a.Results), len(batch))
				}
				for i, res := range a.Results {
					switch {
					case i == pos && (res.Status != f.status || res.Code != f.code || res.Problem == nil):
						t.Errorf("failing op's result: %+v", res)
					case i != pos && (res.Status != 424 || res.Code != "failed_dependency"):
						t.Errorf("result %d: %+v, want 424 failed_dependency", i, res)
					}
				}
				if !strings.Contains(string(r.Body), fmt.Sprintf(`"detail":"op %d (`, pos)) {
					t.Errorf("the detail does not name the op: %s", r.Body)
				}
				if got := e.lastSeq(); got != before {
					t.Errorf("LastSeq moved from %d to %d", before, got)
				}
			})
		}
	}
	for _, id := range []string{"x", "y", "g1", "g2"} {
		if v := field(t, e.do("GET", "/v1/collections/acc/docs/"+id, nil).want(t, 200, "").Body, "_version"); v != 1.0 {
			t.Errorf("%s is at version %v after only failed batches", id, v)
		}
	}
	e.do("GET", "/v1/collections/acc/docs/new1", nil).want(t, 404, "not_found")
	// A collection that a failed batch would have created does not exist.
	e.do("POST", "/v1/tx", ops(obj{"op": "create", "collection": "fresh", "document": obj{}},
		obj{"op": "delete", "collection": "acc", "id": "nope"})).want(t, 404, "not_found")
	e.do("GET", "/v1/collections/fresh", nil).want(t, 404, "not_found")
}

// TestBatchRulesInOrder: a create may reference a document created earlier
// in the batch, and a unique value freed by one op may be taken by a later
// one; in the other order both fail.
func TestBatchRulesInOrder(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/users", `{"unique":["email"]}`)
	e.put("/v1/collections/posts", `{"references":{"authorId":"users"}}`)

	user := obj{"op": "create", "collection": "users", "id": "ann", "document": obj{"email": "ann@x"}}
	post := obj{"op": "create", "collection": "posts", "id": "p1", "document": obj{"authorId": "ann", "title": "hi"}}
	e.do("POST", "/v1/tx", ops(post, user)).want(t, 400, "invalid_reference")
	e.do("POST", "/v1/tx", ops(user, post)).want(t, 200, "")
	e.do("GET", "/v1/collections/posts/docs/p1", nil).want(t, 200, "")

	// ann gives up her address and bob takes it, in one batch.
	bob := obj{"op": "create", "collection": "users", "id": "bob", "document": obj{"email": "ann@x"}}
	free := obj{"op": "patch", "collection": "users", "id": "ann", "mergePatch": obj{"email": "ann@y"}}
	e.do("POST", "/v1/tx", ops(bob, free)).want(t, 409, "unique_violation")
	e.do("POST", "/v1/tx", ops(free, bob)).want(t, 200, "")
	if got := field(t, e.do("GET", "/v1/collections/users/docs/bob", nil).want(t, 200, "").Body, "email"); got != "ann@x" {
		t.Errorf("bob's email %v", got)
	}
	// The index follows: a third taker of ann@x is refused, ann@y is ann's.
	e.do("POST", "/v1/collections/users/docs", `{"email":"ann@x"}`).want(t, 409, "unique_violation")
	e.do("POST", "/v1/collections/users/docs", `{"email":"ann@y"}`).want(t, 409, "unique_violation")
	// Deleting a referenced user fails unless the referrer goes first.
	delAnn := obj{"op": "delete", "collection": "users", "id": "ann"}
	delP1 := obj{"op": "delete", "collection": "posts", "id": "p1"}
	e.do("POST", "/v1/tx", ops(delAnn, delP1)).want(t, 409, "in_use")
	e.do("POST", "/v1/tx", ops(delP1, delAnn)).want(t, 200, "")
}

// TestBatchLimits checks the refusals of a batch as a whole.
func TestBatchLimits(t *testing.T) {
	e := mustServeTx(t, truce.Options{MaxOps: 3, MaxDocBytes: 1 << 10}, trucehttp.Options{MaxTxBodyBytes: 4 << 10})
	put := func(id string) obj {
		return obj{"op": "put", "collection": "c", "id": id, "document": obj{"n": 1}}
	}
	before := e.lastSeq()
	e.do("POST", "/v1/tx", ops(put("a"), put("b"), put("c"), put("d"))).want(t, 400, "too_many_ops")
	r := e.do("POST", "/v1/tx", ops(put("a"), obj{"op": "check", "collection": "c", "id": "b", "ifNoneMatch": "*"}, put("a"))).want(t, 400, "too_many_ops")
	if a := r.tx(t); a.FailedOp == nil || *a.FailedOp != 2 {
		t.Errorf("a document written twice: failedOp %v, want 2", a.FailedOp)
	}
	e.do("POST", "/v1/tx", ops(put("a"), obj{"op": "check", "collection": "c", "id": "a", "ifNoneMatch": "*"})).want(t, 412, "precondition_failed")
	e.do("POST", "/v1/tx", ops()).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", `{"ops":[`).want(t, 400, "invalid_json")
	e.do("POST", "/v1/tx", `{"ops":[],"extra":1}`).want(t, 400, "invalid_json")
	e.do("POST", "/v1/tx", `[]`).want(t, 400, "invalid_json")
	r = e.do("POST", "/v1/tx", ops(put("a"), obj{"op": "put", "collection": "c", "id": "b", "documnet": obj{}})).want(t, 400, "invalid_json")
	if a := r.tx(t); a.FailedOp == nil || *a.FailedOp != 1 {
		t.Errorf("unknown member: failedOp %v, want 1", a.FailedOp)
	}
	e.do("POST", "/v1/tx", ops(obj{"op": "upsert", "collection": "c", "id": "a"})).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "c", "id": "a", "mergePatch": obj{}, "jsonPatch": []obj{}})).want(t, 400, "invalid_patch")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a"})).want(t, 400, "invalid_document")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "version": 0, "document": obj{}})).want(t, 400, "invalid_precondition")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "ifMatch": "nope", "document": obj{}})).want(t, 400, "invalid_precondition")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "Bad", "id": "a", "document": obj{}})).want(t, 400, "invalid_collection")
	e.do("POST", "/v1/tx", ops(obj{"op": "delete", "collection": "c"})).want(t, 400, "invalid_id")
	big := strings.Repeat("x", 3<<10)
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "document": obj{"s": big}})).want(t, 413, "too_large")
	e.do("POST", "/v1/tx", ops(put("a"), put("b"), obj{"op": "put", "collection": "c", "id": "z", "document": obj{"s": big + big}})).want(t, 413, "too_large")
	if got := e.lastSeq(); got != before {
		t.Errorf("refused batches moved LastSeq from %d to %d", before, got)
	}
}

// TestBatchIdempotency: a batch repeated with its Idempotency-Key is
// replayed, not applied twice; the same key with another batch is 422.
func TestBatchIdempotency(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	body := ops(obj{"op": "create", "collection": "ledger", "document": obj{"amount": 1}},
		obj{"op": "create", "collection": "ledger", "document": obj{"amount": 2}})
	first := e.do("POST", "/v1/tx", body, "Idempotency-Key: k1").want(t, 200, "")
	seq := e.lastSeq()
	again := e.do("POST", "/v1/tx", body, "Idempotency-Key: k1").want(t, 200, "")
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Errorf("replay: %v %s, want the first answer %s", again.Header, again.Body, first.Body)
	}
	if got := e.lastSeq(); got != seq {
		t.Errorf("the replay committed: LastSeq %d -> %d", seq, got)
	}
	e.do("POST", "/v1/tx", ops(obj{"op": "create", "collection": "ledger", "document": obj{"amount": 3}}), "Idempotency-Key: k1").
		want(t, 422, "idempotency_key_reused")
	// A failed batch's answer is replayed too.
	bad := ops(obj{"op": "delete", "collection": "ledger", "id": "nope"})
	f1 := e.do("POST", "/v1/tx", bad, "Idempotency-Key: k2").want(t, 404, "not_found")
	f2 := e.do("POST", "/v1/tx", bad, "Idempotency-Key: k2").want(t, 404, "not_found")
	if f2.Header.Get("Idempotent-Replayed") != "true" || string(f1.Body) != string(f2.Body) {
		t.Errorf("failed batch replay: %s", f2.Body)
	}
}

// TestBatchPolicies: under merge a stale version merges inside a batch;
// under manual an unmergeable one fails the batch with merge_conflict and
// records no conflict, because nothing of the batch happened.
func TestBatchPolicies(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	for _, p := range []string{"merge", "manual"} {
		e.put("/v1/collections/"+p, `{"conflictPolicy":"`+p+`"}`)
		e.put("/v1/collections/"+p+"/docs/d", `{"a":1,"b":1}`)
		e.do("PATCH", "/v1/collections/"+p+"/docs/d", `{"a":2}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
	}
	r := e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "merge", "id": "d", "version": 1, "mergePatch": obj{"b": 5}})).want(t, 200, "")
	if !strings.Contains(string(r.Body), `"merged":{"base":1,"current":2}`) {
		t.Errorf("merge result: %s", r.Body)
	}
	g := e.do("GET", "/v1/collections/merge/docs/d", nil).want(t, 200, "")
	if field(t, g.Body, "a") != 2.0 || field(t, g.Body, "b") != 5.0 {
		t.Errorf("merged document %s", g.Body)
	}
	e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "manual", "id": "d", "version": 1, "mergePatch": obj{"a": 9}})).
		want(t, 409, "merge_conflict")
	if l := e.do("GET", "/v1/conflicts", nil).want(t, 200, ""); strings.Contains(string(l.Body), `"id"`) {
		t.Errorf("a conflict was recorded for a batch that did not happen: %s", l.Body)
	}
}
