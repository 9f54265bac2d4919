package http_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

// begin starts an interactive transaction and returns its id.
func (e *txEnv) begin(ttl string) string {
	e.tb.Helper()
	body := ""
	if ttl != "" {
		body = `{"ttl":"` + ttl + `"}`
	}
	r := e.do("POST", "/v1/transactions", body).want(e.tb, 201, "")
	id, _ := r.JSON(e.tb)["id"].(string)
	if id == "" || r.Header.Get("Location") != "/v1/transactions/"+id {
		e.tb.Fatalf("begin: %v %s", r.Header, r.Body)
	}
	return id
}

func tx(id string) string { return "Truce-Transaction: " + id }

const mergeType = "Content-Type: application/merge-patch+json"

// TestTxnStagesAndCommits: the HTTP face of an interactive transaction:
// POST /v1/transactions is 201 with Location; document requests with
// Truce-Transaction read (a committed read with its ETag, a staged one
// with Truce-Staged and no ETag) and stage (202 with the document it
// would write, no ETag); a write that fails answers as it would alone;
// the commit is 200 with one result per staged write; after it the
// transaction is 410. (The rules are truce's
// TestTransactionStagesAndCommits.)
func TestTxnStagesAndCommits(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	e.put("/v1/collections/acc/docs/b", `{"balance":100}`)
	e.put("/v1/collections/acc/docs/gone", `{"balance":0}`)
	id := e.begin("30s")

	r := e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
	if r.Header.Get("ETag") == "" || r.Header.Get("Truce-Staged") != "" {
		t.Errorf("a committed read in a transaction: %v", r.Header)
	}
	e.do("GET", "/v1/collections/acc/docs/none", nil, tx(id)).want(t, 404, "not_found")

	s := e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":70}`, tx(id), mergeType, "If-Match: "+r.Header.Get("ETag")).want(t, 202, "")
	if field(t, s.Body, "balance") != 70.0 || field(t, s.Body, "_version") != 2.0 || s.Header.Get("ETag") != "" || s.Header.Get("Truce-Staged") != "true" {
		t.Errorf("staged patch: %v %s", s.Header, s.Body)
	}
	e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":130,"_version":1}`, tx(id)).want(t, 202, "")
	c := e.do("POST", "/v1/collections/ledger/docs", `{"from":"a","to":"b","amount":30}`, tx(id)).want(t, 202, "")
	ledgerID, _ := field(t, c.Body, "_id").(string)
	d := e.do("DELETE", "/v1/collections/acc/docs/gone", nil, tx(id)).want(t, 202, "")
	if field(t, d.Body, "_deleted") != true {
		t.Errorf("staged delete: %s", d.Body)
	}
	e.do("PATCH", "/v1/collections/acc/docs/a", `{"note":"x"}`, tx(id), mergeType).want(t, 202, "")
	e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id), `If-Match: "9-9"`).want(t, 412, "precondition_failed")
	e.do("PATCH", "/v1/collections/acc/docs/b?version=7", `{"balance":1}`, tx(id), mergeType).want(t, 409, "version_conflict")
	e.do("POST", "/v1/collections/acc/docs", `{"_id":"a"}`, tx(id)).want(t, 409, "already_exists")

	in := e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
	if in.Header.Get("Truce-Staged") != "true" || in.Header.Get("ETag") != "" || field(t, in.Body, "balance") != 70.0 || field(t, in.Body, "note") != "x" {
		t.Errorf("read of a staged document: %v %s", in.Header, in.Body)
	}
	e.do("GET", "/v1/collections/acc/docs/gone", nil, tx(id)).want(t, 404, "not_found")
	e.do("GET", "/v1/collections/ledger/docs/"+ledgerID, nil).want(t, 404, "not_found")

	res := e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 200, "").tx(t)
	want := []int{200, 200, 201, 204, 200}
	if len(res.Results) != len(want) {
		t.Fatalf("commit results %+v", res.Results)
	}
	for i, w := range want {
		if res.Results[i].Status != w {
			t.Errorf("result %d: status %d, want %d", i, res.Results[i].Status, w)
		}
	}
	a := e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "")
	if res.Results[4].ETag != a.Header.Get("ETag") || field(t, a.Body, "note") != "x" {
		t.Errorf("a after the commit: %s %s", a.Header.Get("ETag"), a.Body)
	}
	e.do("GET", "/v1/collections/ledger/docs/"+ledgerID, nil).want(t, 200, "")
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 410, "transaction_expired")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 410, "transaction_expired")
}

// TestTxnConflict: a commit refused because a document changed is 409
// transaction_conflict listing it in changed, and so is any request in
// the transaction from then on; DELETE ends the transaction. (Read-set
// validation is truce's TestTransactionConflict.)
func TestTxnConflict(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	id := e.begin("")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
	e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id)).want(t, 202, "")
	e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":5}`, mergeType).want(t, 200, "")
	e.do("GET", "/v1/collections/acc/docs/zz", nil, tx(id)).want(t, 409, "transaction_conflict")
	e.do("PUT", "/v1/collections/acc/docs/zz", `{}`, tx(id)).want(t, 409, "transaction_conflict")
	r := e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 409, "transaction_conflict")
	if a := r.tx(t); len(a.Changed) != 1 || a.Changed[0].(map[string]any)["id"] != "a" || a.Changed[0].(map[string]any)["collection"] != "acc" {
		t.Errorf("changed: %s", r.Body)
	}
	e.do("DELETE", "/v1/transactions/"+id, nil).want(t, 204, "")
	e.do("DELETE", "/v1/transactions/"+id, nil).want(t, 410, "transaction_expired")
}

// TestTxnRollbackAndExpiry: a rollback is 204, and a transaction that is
// gone, rolled back or past its TTL is 410 for every request; the body of
// POST /v1/transactions is read strictly and its answer says when the
// transaction expires; Truce-Transaction applies to document reads and
// writes only. (The rules are truce's TestTransactionRollbackAndExpiry.)
func TestTxnRollbackAndExpiry(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)

	id := e.begin("")
	e.do("PUT", "/v1/collections/acc/docs/a", `{"balance":1}`, tx(id)).want(t, 202, "")
	e.do("DELETE", "/v1/transactions/"+id, nil).want(t, 204, "")
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 410, "transaction_expired")

	id = e.begin("2s")
	e.do("PUT", "/v1/collections/acc/docs/a", `{"balance":2}`, tx(id)).want(t, 202, "")
	e.advance(3 * time.Second)
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 410, "transaction_expired")
	e.do("PUT", "/v1/collections/acc/docs/a", `{"balance":3}`, tx(id)).want(t, 410, "transaction_expired")
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 410, "transaction_expired")
	if field(t, e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "").Body, "_version") != 1.0 {
		t.Error("a rolled-back or expired transaction's write was applied")
	}

	e.do("POST", "/v1/transactions", `{"ttl":"soon"}`).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/transactions", `{"ttl":"-1s"}`).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/transactions", `{"tl":"1s"}`).want(t, 400, "invalid_json")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx("no-such-tx")).want(t, 410, "transaction_expired")
	e.do("GET", "/v1/collections/acc/docs", nil, tx(e.begin(""))).want(t, 400, "invalid_parameter")
	r := e.do("POST", "/v1/transactions", `{"ttl":"100h"}`).want(t, 201, "")
	exp, err := time.Parse(time.RFC3339, r.JSON(t)["expiresAt"].(string))
	if d := time.Until(exp) - time.Duration(e.skew.Load()); err != nil || d > truce.DefaultMaxTransactionTTL+time.Minute || d < time.Minute {
		t.Errorf("expiresAt %v (%v): expires in %s", r.JSON(t)["expiresAt"], err, d)
	}
}

// TestTxnIdempotency: a staged write or a begin repeated with its
// Idempotency-Key is replayed, not done twice.
func TestTxnIdempotency(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/c/docs/n", `{"n":0,"log":[]}`)
	b1 := e.do("POST", "/v1/transactions", `{"ttl":"30s"}`, "Idempotency-Key: b").want(t, 201, "")
	b2 := e.do("POST", "/v1/transactions", `{"ttl":"30s"}`, "Idempotency-Key: b").want(t, 201, "")
	if string(b1.Body) != string(b2.Body) || b2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("begin replay: %s / %s", b1.Body, b2.Body)
	}
	id, _ := b1.JSON(t)["id"].(string)
	patch := `[{"op":"add","path":"/log/-","value":"x"}]`
	for range 2 {
		e.do("PATCH", "/v1/collections/c/docs/n", patch, tx(id), "Content-Type: application/json-patch+json", "Idempotency-Key: p").want(t, 202, "")
	}
	res := e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 200, "").tx(t)
	if len(res.Results) != 1 || !strings.Contains(string(res.Results[0].Document), `"log":["x"]`) {
		t.Errorf("a replayed staged patch was staged twice: %+v", res.Results)
	}
}

// TestTxnBelongsToItsToken: a transaction belongs to the token that
// began it. Another token, even admin, gets from a read, a staged write,
// a commit or a rollback in it what an id that names no transaction gets
// (410, not 403, which would confirm the id); the owner then reads what
// it staged and commits it, and the version names the owner. A commit
// after the owner lost a scope it staged or read with is 403 naming the
// scope, with nothing applied.
func TestTxnBelongsToItsToken(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	id := s.begin(tokWriter)
	s.send("PUT", "/v1/collections/orders/docs/o2", tokWriter, `{"n":1}`, tx(id)).want(t, 202, "")

	const unknown = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
	for _, rq := range []struct{ method, path, body, token string }{
		{"GET", "/v1/collections/orders/docs/o2", "", tokReader},
		{"GET", "/v1/collections/orders/docs/o2", "", tokAdmin},
		{"PUT", "/v1/collections/orders/docs/o2", `{"n":2}`, tokAdmin},
		{"DELETE", "/v1/collections/orders/docs/o1", "", tokAdmin},
		{"POST", "/v1/transactions/{tid}/commit", "", tokAdmin},
		{"DELETE", "/v1/transactions/{tid}", "", tokAdmin},
	} {
		var headers []string
		path := strings.ReplaceAll(rq.path, "{tid}", id)
		if !strings.Contains(rq.path, "{tid}") {
			headers = []string{tx(id)}
		}
		got := s.send(rq.method, path, rq.token, rq.body, headers...).want(t, 410, "transaction_expired").JSON(t)
		if !strings.Contains(rq.path, "{tid}") {
			headers = []string{tx(unknown)}
		}
		want := s.send(rq.method, strings.ReplaceAll(rq.path, "{tid}", unknown), rq.token, rq.body, headers...).want(t, 410, "transaction_expired").JSON(t)
		if strings.ReplaceAll(got["detail"].(string), id, "ID") != strings.ReplaceAll(want["detail"].(string), unknown, "ID") {
			t.Errorf("%s %s as another token: %v; an unknown id gets %v", rq.method, rq.path, got["detail"], want["detail"])
		}
	}
	s.send("GET", "/v1/collections/orders/docs/o2", tokAdmin, "").want(t, 404, "not_found")

	r := s.send("GET", "/v1/collections/orders/docs/o2", tokWriter, "", tx(id)).want(t, 200, "")
	if r.Header.Get("Truce-Staged") != "true" || field(t, r.Body, "n") != 1.0 {
		t.Fatalf("the owner's read of its staged write: %v %s", r.Header, r.Body)
	}
	res := s.send("POST", "/v1/transactions/"+id+"/commit", tokWriter, "").want(t, 200, "").tx(t)
	if len(res.Results) != 1 {
		t.Fatalf("commit: %+v", res)
	}
	d := s.send("GET", "/v1/collections/orders/docs/o2", tokAdmin, "").want(t, 200, "")
	if field(t, d.Body, "n") != 1.0 || field(t, d.Body, "_updatedBy") != "writer" {
		t.Errorf("committed: %s", d.Body)
	}

	// The writer is left with read:orders: it may no longer commit the
	// write it staged, but may still roll it back.
	id = s.begin(tokWriter)
	s.send("PUT", "/v1/collections/orders/docs/o3", tokWriter, `{"n":1}`, tx(id)).want(t, 202, "")
	for i := range s.file.Tokens {
		if s.file.Tokens[i].Name == "writer" {
			s.file.Tokens[i].Scopes = []string{"read:orders"}
		}
	}
	if err := s.file.Save(s.authFile); err != nil {
		t.Fatal(err)
	}
	if err := s.keeper.Reload(); err != nil {
		t.Fatal(err)
	}
	p := s.send("POST", "/v1/transactions/"+id+"/commit", tokWriter, "").want(t, 403, "forbidden").JSON(t)
	if p["scope"] != "write:orders" {
		t.Errorf("scope %v, want write:orders", p["scope"])
	}
	s.send("GET", "/v1/collections/orders/docs/o3", tokAdmin, "").want(t, 404, "not_found")
	s.send("DELETE", "/v1/transactions/"+id, tokWriter, "").want(t, 204, "")
}
