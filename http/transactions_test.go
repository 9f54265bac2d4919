package http_test

import (
	"context"
	"strings"
	"sync"
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

// TestTxnStagesAndCommits: reads join the read set, writes are staged
// (202, visible inside, invisible outside), and the commit applies them
// all in one commit.
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
	e.do("GET", "/v1/collections/acc/docs/b", nil, tx(id)).want(t, 200, "")
	e.do("GET", "/v1/collections/acc/docs/none", nil, tx(id)).want(t, 404, "not_found")

	before := e.lastSeq()
	s := e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":70}`, tx(id), mergeType, "If-Match: "+r.Header.Get("ETag")).want(t, 202, "")
	if field(t, s.Body, "balance") != 70.0 || field(t, s.Body, "_version") != 2.0 || s.Header.Get("ETag") != "" {
		t.Errorf("staged patch: %v %s", s.Header, s.Body)
	}
	e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":130,"_version":1}`, tx(id)).want(t, 202, "")
	c := e.do("POST", "/v1/collections/ledger/docs", `{"from":"a","to":"b","amount":30}`, tx(id)).want(t, 202, "")
	ledgerID, _ := field(t, c.Body, "_id").(string)
	e.do("DELETE", "/v1/collections/acc/docs/gone", nil, tx(id)).want(t, 202, "")
	// A second write to a staged document builds on the staged version.
	e.do("PATCH", "/v1/collections/acc/docs/a", `{"note":"x"}`, tx(id), mergeType).want(t, 202, "")
	// A write that fails stages nothing and answers as it would alone.
	e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id), `If-Match: "9-9"`).want(t, 412, "precondition_failed")
	e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":1,"_version":7}`, tx(id)).want(t, 409, "version_conflict")
	e.do("PATCH", "/v1/collections/acc/docs/b?version=7", `{"balance":1}`, tx(id), mergeType).want(t, 409, "version_conflict")
	e.do("DELETE", "/v1/collections/acc/docs/none", nil, tx(id)).want(t, 404, "not_found")
	e.do("POST", "/v1/collections/acc/docs", `{"_id":"a"}`, tx(id)).want(t, 409, "already_exists")

	// Inside: the staged versions. Outside: nothing changed.
	in := e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
	if in.Header.Get("Truce-Staged") != "true" || field(t, in.Body, "balance") != 70.0 || field(t, in.Body, "note") != "x" {
		t.Errorf("read of a staged document: %v %s", in.Header, in.Body)
	}
	e.do("GET", "/v1/collections/acc/docs/gone", nil, tx(id)).want(t, 404, "not_found")
	if got := field(t, e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "").Body, "balance"); got != 100.0 {
		t.Errorf("a staged write is visible outside: balance %v", got)
	}
	e.do("GET", "/v1/collections/ledger/docs/"+ledgerID, nil).want(t, 404, "not_found")
	e.do("GET", "/v1/collections/ledger", nil).want(t, 404, "not_found") // nor is the collection it creates
	if got := e.lastSeq(); got != before {
		t.Errorf("staging moved LastSeq from %d to %d", before, got)
	}

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
	if field(t, a.Body, "balance") != 70.0 || field(t, a.Body, "note") != "x" || field(t, a.Body, "_version") != 3.0 {
		t.Errorf("a after the commit: %s", a.Body)
	}
	if field(t, e.do("GET", "/v1/collections/acc/docs/b", nil).want(t, 200, "").Body, "balance") != 130.0 {
		t.Error("b not written")
	}
	e.do("GET", "/v1/collections/ledger/docs/"+ledgerID, nil).want(t, 200, "")
	e.do("GET", "/v1/collections/acc/docs/gone", nil).want(t, 404, "not_found")
	evs := e.events(before)
	if len(evs) != 6 || evs[5].Type != truce.EventTransactionCommitted || !strings.Contains(string(evs[5].Info), id) {
		t.Errorf("events after the commit: %d, last %+v", len(evs), evs[len(evs)-1])
	}
	// The transaction is over.
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 410, "transaction_expired")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 410, "transaction_expired")
}

// TestTxnConflict: a document the transaction read, or wrote without
// reading, that changes before the commit makes the commit 409
// transaction_conflict listing it, and nothing is applied.
func TestTxnConflict(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	e.put("/v1/collections/acc/docs/b", `{"balance":100}`)

	for _, tc := range []struct {
		name  string
		stage func(id string)
		other func()
	}{
		{"read then changed", func(id string) {
			e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
			e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id)).want(t, 202, "")
		}, func() { e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":5}`, mergeType).want(t, 200, "") }},
		{"written then changed", func(id string) {
			e.do("PATCH", "/v1/collections/acc/docs/b", `{"balance":7}`, tx(id), mergeType).want(t, 202, "")
		}, func() { e.do("PATCH", "/v1/collections/acc/docs/b", `{"balance":6}`, mergeType).want(t, 200, "") }},
		{"absent then created", func(id string) {
			e.do("GET", "/v1/collections/acc/docs/c", nil, tx(id)).want(t, 404, "not_found")
			e.do("PUT", "/v1/collections/acc/docs/b", `{"balance":1}`, tx(id)).want(t, 202, "")
		}, func() { e.put("/v1/collections/acc/docs/c", `{"balance":0}`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := e.begin("")
			tc.stage(id)
			tc.other()
			// Any read in the transaction now learns that it will fail.
			e.do("GET", "/v1/collections/acc/docs/zz", nil, tx(id)).want(t, 409, "transaction_conflict")
			before := e.lastSeq()
			r := e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 409, "transaction_conflict")
			if a := r.tx(t); len(a.Changed) != 1 {
				t.Errorf("changed: %s", r.Body)
			}
			if got := e.lastSeq(); got != before {
				t.Errorf("a conflicting commit moved LastSeq %d -> %d", before, got)
			}
			// Reading the changed document again in the transaction
			// fails at once; a rollback ends it.
			e.do("DELETE", "/v1/transactions/"+id, nil).want(t, 204, "")
		})
	}
}

// TestTxnRollbackAndExpiry: a rollback drops what was staged; a
// transaction past its TTL is 410 for everything, and the sweeper removes
// it from the store.
func TestTxnRollbackAndExpiry(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)

	id := e.begin("")
	e.do("PUT", "/v1/collections/acc/docs/a", `{"balance":1}`, tx(id)).want(t, 202, "")
	e.do("DELETE", "/v1/transactions/"+id, nil).want(t, 204, "")
	e.do("DELETE", "/v1/transactions/"+id, nil).want(t, 410, "transaction_expired")
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 410, "transaction_expired")
	if field(t, e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "").Body, "_version") != 1.0 {
		t.Error("a rolled-back write was applied")
	}

	id = e.begin("2s")
	e.do("PUT", "/v1/collections/acc/docs/a", `{"balance":2}`, tx(id)).want(t, 202, "")
	e.advance(3 * time.Second)
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 410, "transaction_expired")
	e.do("PUT", "/v1/collections/acc/docs/a", `{"balance":3}`, tx(id)).want(t, 410, "transaction_expired")
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 410, "transaction_expired")
	n, err := e.svc.SweepTransactions(context.Background())
	if err != nil || n != 1 {
		t.Errorf("SweepTransactions = %d, %v; want 1 expired transaction", n, err)
	}
	if field(t, e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "").Body, "_version") != 1.0 {
		t.Error("an expired transaction's write was applied")
	}

	// Bad requests.
	e.do("POST", "/v1/transactions", `{"ttl":"soon"}`).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/transactions", `{"ttl":"-1s"}`).want(t, 400, "invalid_parameter")
	e.do("POST", "/v1/transactions", `{"tl":"1s"}`).want(t, 400, "invalid_json")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx("no-such-tx")).want(t, 410, "transaction_expired")
	e.do("GET", "/v1/collections/acc/docs", nil, tx(e.begin(""))).want(t, 400, "invalid_parameter")
	// A TTL past the server's cap is capped.
	r := e.do("POST", "/v1/transactions", `{"ttl":"100h"}`).want(t, 201, "")
	exp, _ := time.Parse(time.RFC3339, r.JSON(t)["expiresAt"].(string))
	if d := time.Until(exp) - time.Duration(e.skew.Load()); d > truce.DefaultMaxTransactionTTL+time.Minute {
		t.Errorf("ttl not capped: expires in %s", d)
	}
}

// TestTxnSurvivesRestart: what a transaction read and staged is in the
// store, so a commit after a restart applies it.
func TestTxnSurvivesRestart(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/acc/docs/a", `{"balance":100}`)
	id := e.begin("")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
	e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":50}`, tx(id), mergeType).want(t, 202, "")
	e.restart()
	if in := e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, ""); field(t, in.Body, "balance") != 50.0 {
		t.Errorf("staged write lost by the restart: %s", in.Body)
	}
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 200, "")
	if got := field(t, e.do("GET", "/v1/collections/acc/docs/a", nil).want(t, 200, "").Body, "balance"); got != 50.0 {
		t.Errorf("balance %v after the commit", got)
	}
	// And the read set survives too: a change made after the restart is
	// a conflict.
	id = e.begin("")
	e.do("GET", "/v1/collections/acc/docs/a", nil, tx(id)).want(t, 200, "")
	e.restart()
	e.do("PATCH", "/v1/collections/acc/docs/a", `{"balance":1}`, mergeType).want(t, 200, "")
	e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 409, "transaction_conflict")
}

// TestTxnConcurrentCommits: of many concurrent commits of one
// transaction, exactly one applies; and staging from many goroutines at
// once loses no write.
func TestTxnConcurrentCommits(t *testing.T) {
	e := mustServeTx(t, truce.Options{}, trucehttp.Options{})
	e.put("/v1/collections/c/docs/n", `{"n":0}`)
	for round := 0; round < 3; round++ {
		id := e.begin("")
		e.do("PATCH", "/v1/collections/c/docs/n", `{"n":1}`, tx(id), mergeType).want(t, 202, "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := rawDo(e.client, "POST", "/v1/transactions/"+id+"/commit", nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if statuses[200] != 1 || statuses[410] != 11 {
			t.Fatalf("round %d: statuses %v, want one 200 and eleven 410", round, statuses)
		}
	}
	if v := field(t, e.do("GET", "/v1/collections/c/docs/n", nil).want(t, 200, "").Body, "_version"); v != 4.0 {
		t.Errorf("version %v after three committed transactions, want 4", v)
	}

	// 8 goroutines stage one create each in the same transaction.
	id := e.begin("")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := rawDo(e.client, "PUT", "/v1/collections/c/docs/s"+string(rune('0'+g)), obj{"g": 1}, tx(id))
			if err != nil || r.Status != 202 {
				t.Errorf("staging: %v %v", err, r)
			}
		}()
	}
	wg.Wait()
	res := e.do("POST", "/v1/transactions/"+id+"/commit", nil).want(t, 200, "").tx(t)
	if len(res.Results) != 8 {
		t.Errorf("%d results, want 8 staged writes", len(res.Results))
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
