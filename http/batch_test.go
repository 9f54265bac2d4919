package http_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

type obj = map[string]any

// TestBatchEveryOp: the JSON ops of POST /v1/tx (every kind, each
// precondition member) reach the Service, and the answer gives each op's
// status as the same request alone would (200, 201, 204), with the ETag
// and the document of what it stored or checked. (What a batch does is
// truce's TestBatchEveryOp.)
func TestBatchEveryOp(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	a := e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	b := e.put("/v1/collections/acc/docs/b", `{"balance":100}`)
	e.put("/v1/collections/acc/docs/c", `{"balance":5}`)
	e.put("/v1/collections/acc/docs/d", `{"balance":7}`)

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
	if ans.Results[0].ETag != a.Header.Get("ETag") || ans.Results[1].ETag != b.Header.Get("ETag") || ans.Results[2].Document != nil || ans.Results[7].Document != nil {
		t.Errorf("check and delete results: %s", r.Body)
	}
	g := e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "")
	if ans.Results[3].ETag != g.Header.Get("ETag") || field(t, ans.Results[3].Document, "balance") != 70.0 || field(t, g.Body, "balance") != 70.0 {
		t.Errorf("result %s is not the stored %s %s", r.Body, g.Header.Get("ETag"), g.Body)
	}
	if field(t, ans.Results[8].Document, "_id") != "l1" {
		t.Errorf("create result: %s", ans.Results[8].Document)
	}
}

// TestBatchFailure: a failed op answers with its own status and problem,
// plus failedOp and one result per op: the failing op's status, code and
// problem, every other op's 424 failed_dependency; the detail names the
// op; nothing is applied. (Every failure at every position is truce's
// TestBatchFailureLeavesNoTrace.)
func TestBatchFailure(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/x", `{"n":1}`)
	e.put("/v1/collections/acc/docs/y", `{"n":1}`)
	e.put("/v1/collections/users", `{"unique":["email"]}`)
	e.put("/v1/collections/users/docs/u1", `{"email":"a@x"}`)
	good := []obj{
		{"op": "patch", "collection": "acc", "id": "x", "version": 1, "mergePatch": obj{"n": 2}},
		{"op": "create", "collection": "acc", "id": "new1", "document": obj{"n": 1}},
	}
	for _, f := range []struct {
		name   string
		op     obj
		status int
		code   string
	}{
		{"stale if-match", obj{"op": "put", "collection": "acc", "id": "y", "ifMatch": `"9-9"`, "document": obj{"n": 5}}, 412, "precondition_failed"},
		{"unique", obj{"op": "create", "collection": "users", "document": obj{"email": "a@x"}}, 409, "unique_violation"},
		{"missing", obj{"op": "delete", "collection": "acc", "id": "nope"}, 404, "not_found"},
	} {
		t.Run(f.name, func(t *testing.T) {
			before := e.lastSeq()
			batch := []obj{good[0], f.op, good[1]}
			r := e.do("POST", "/v1/tx", ops(batch...)).want(t, f.status, f.code)
			a := r.tx(t)
			if a.FailedOp == nil || *a.FailedOp != 1 || len(a.Results) != len(batch) {
				t.Fatalf("failedOp %v, %d results: %s", a.FailedOp, len(a.Results), r.Body)
			}
			for i, res := range a.Results {
				switch {
				case i == 1 && (res.Status != f.status || res.Code != f.code || res.Problem == nil):
					t.Errorf("failing op's result: %+v", res)
				case i != 1 && (res.Status != 424 || res.Code != "failed_dependency"):
					t.Errorf("result %d: %+v, want 424 failed_dependency", i, res)
				}
			}
			if !strings.Contains(string(r.Body), `"detail":"op 1 (`) {
				t.Errorf("the detail does not name the op: %s", r.Body)
			}
			if got := e.lastSeq(); got != before {
				t.Errorf("LastSeq moved from %d to %d", before, got)
			}
		})
	}
}

// TestBatchLimits: the refusals of the body of POST /v1/tx: more ops
// than allowed, a body over the limit, malformed JSON, unknown members
// (with failedOp), unknown ops, and members that do not fit the op.
// (The limits of a batch as the Service sees it are truce's
// TestBatchLimits.)
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
	e.do("POST", "/v1/tx", ops()).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", `{}`).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", `{"ops":[`).want(t, 400, "invalid_json")
	e.do("POST", "/v1/tx", `{"ops":[],"extra":1}`).want(t, 400, "invalid_json")
	e.do("POST", "/v1/tx", `[]`).want(t, 400, "invalid_json")
	r = e.do("POST", "/v1/tx", ops(put("a"), obj{"op": "put", "collection": "c", "id": "b", "documnet": obj{}})).want(t, 400, "invalid_json")
	if a := r.tx(t); a.FailedOp == nil || *a.FailedOp != 1 {
		t.Errorf("unknown member: failedOp %v, want 1", a.FailedOp)
	}
	e.do("POST", "/v1/tx", ops(obj{"op": "upsert", "collection": "c", "id": "a"})).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", ops(obj{"collection": "c", "id": "a"})).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "c", "id": "a", "mergePatch": obj{}, "jsonPatch": []obj{}})).want(t, 400, "invalid_patch")
	e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "c", "id": "a"})).want(t, 400, "invalid_patch")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "mergePatch": obj{}, "document": obj{}})).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", ops(obj{"op": "delete", "collection": "c", "id": "a", "document": obj{}})).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a"})).want(t, 400, "invalid_document")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "version": 0, "document": obj{}})).want(t, 400, "invalid_precondition")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "ifMatch": "nope", "document": obj{}})).want(t, 400, "invalid_precondition")
	big := strings.Repeat("x", 3<<10)
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "document": obj{"s": big}})).want(t, 413, "too_large")
	e.do("POST", "/v1/tx", ops(put("a"), put("b"), obj{"op": "put", "collection": "c", "id": "z", "document": obj{"s": big + big}})).want(t, 413, "too_large")
	if got := e.lastSeq(); got != before {
		t.Errorf("refused batches moved LastSeq from %d to %d", before, got)
	}
}

// TestBatchBodyLimitBelowDocuments: a --max-tx-bytes below the document
// limit holds as given: a transaction body over it is 413, while a single
// document write of that size is taken.
func TestBatchBodyLimitBelowDocuments(t *testing.T) {
	e := mustServeTx(t, truce.Options{MaxDocBytes: 64 << 10}, trucehttp.Options{MaxTxBodyBytes: 1 << 10})
	doc := obj{"s": strings.Repeat("x", 2<<10)}
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "document": doc})).want(t, 413, "too_large")
	e.do("POST", "/v1/tx", ops(obj{"op": "put", "collection": "c", "id": "a", "document": obj{"n": 1}})).want(t, 200, "")
	e.do("PUT", "/v1/collections/c/docs/b", doc).want(t, 201, "")
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

// TestBatchMerged: an op that the merge policy merged says so in its
// result, as Truce-Merged does for a single write. (Policies in a batch
// are truce's TestBatchPolicies.)
func TestBatchMerged(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/merge", `{"conflictPolicy":"merge"}`)
	e.put("/v1/collections/merge/docs/d", `{"a":1,"b":1}`)
	e.do("PATCH", "/v1/collections/merge/docs/d", `{"a":2}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
	r := e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "merge", "id": "d", "version": 1, "mergePatch": obj{"b": 5}})).want(t, 200, "")
	if !strings.Contains(string(r.Body), `"merged":{"base":1,"current":2}`) {
		t.Errorf("merge result: %s", r.Body)
	}
	if a := r.tx(t); fmt.Sprint(field(t, a.Results[0].Document, "a"), field(t, a.Results[0].Document, "b")) != "2 5" {
		t.Errorf("merged document %s", a.Results[0].Document)
	}
}
