package http_test

import (
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

// TestLockFencesTransactions: a lock's refusal of a batch op, a staged
// write and a commit is 423 with the holder (and, for a batch, failedOp
// and the results); the token reaches the Service per op (lockToken) or
// as the request's Lock-Token header, which applies to every op that
// names none. (The fencing rules are truce's TestBatchLockFencing and
// TestTransactionLockFencing.)
func TestLockFencesTransactions(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	e.put("/v1/collections/acc/docs/b", `{"balance":100}`)
	r := e.do("POST", "/v1/collections/acc/docs/b/lock", `{"owner":"alice","ttl":"1m"}`).want(t, 201, "")
	tok := r.Header.Get("Lock-Token")
	transfer := func(lockToken string) map[string]any {
		b := obj{"op": "patch", "collection": "acc", "id": "b", "mergePatch": obj{"balance": 130}}
		if lockToken != "" {
			b["lockToken"] = lockToken
		}
		return ops(obj{"op": "patch", "collection": "acc", "id": "a", "mergePatch": obj{"balance": 70}}, b)
	}
	r = e.do("POST", "/v1/tx", transfer(""))
	wantLocked(t, r, "alice")
	if a := r.tx(t); a.FailedOp == nil || *a.FailedOp != 1 || a.Results[0].Status != 424 || a.Results[1].Status != 423 {
		t.Fatalf("locked batch: %s", r.Body)
	}
	// The request's Lock-Token applies to every op without its own
	// lockToken, so it suits a batch on locked documents only; a mixed
	// batch names the token per op.
	e.do("POST", "/v1/tx", transfer(""), "Lock-Token: "+tok).want(t, 412, "lock_expired")
	e.do("POST", "/v1/tx", ops(obj{"op": "patch", "collection": "acc", "id": "b", "mergePatch": obj{"n": 1}}), "Lock-Token: "+tok).want(t, 200, "")
	e.do("POST", "/v1/tx", transfer(tok)).want(t, 200, "")

	// Interactive: staging without the token is refused; with it, staged;
	// a lock taken by someone else before the commit refuses the commit.
	id := e.begin("30s")
	wantLocked(t, e.do("PATCH", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id), mergeType), "alice")
	e.do("PATCH", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id), mergeType, "Lock-Token: "+tok).want(t, 202, "")
	e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":1}`, tx(id), mergeType).want(t, 202, "")
	e.do("POST", "/v1/collections/acc/docs/a/lock", `{"owner":"bob","ttl":"1m"}`).want(t, 201, "")
	wantLocked(t, e.do("POST", "/v1/transactions/"+id+"/commit", nil), "bob")
}
