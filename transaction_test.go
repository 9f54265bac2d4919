package truce_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// stage stages op in transaction txid and fails the test on an error.
func stage(t *testing.T, svc *truce.Service, txid string, op truce.Op) truce.OpResult {
	t.Helper()
	res, err := svc.TransactionWrite(t.Context(), txid, op, nil, nil)
	if err != nil {
		t.Fatalf("staging %s %s/%s: %v", op.Kind, op.Collection, op.ID, err)
	}
	return res
}

func mustBegin(t *testing.T, svc *truce.Service, ttl time.Duration) string {
	t.Helper()
	tx, err := svc.BeginTransaction(t.Context(), ttl, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tx.ID
}

func txPut(id, body string, pre truce.Precondition) truce.Op {
	return truce.Op{Kind: truce.OpPut, Collection: "acc", ID: id, Pre: pre, Document: []byte(body)}
}

func txPatch(id, patch string, pre truce.Precondition) truce.Op {
	return truce.Op{Kind: truce.OpPatch, Collection: "acc", ID: id, Pre: pre, PatchType: truce.MergePatch, Patch: []byte(patch)}
}

// TestTransactionStagesAndCommits: reads join the read set; writes are
// checked as if the staged ones had been applied, and staged: visible
// inside the transaction, invisible outside, the change log unmoved; a
// write that fails stages nothing. The commit applies them all in one
// commit, followed by the transaction's event, and ends the transaction.
func TestTransactionStagesAndCommits(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	a := mustPut(t, svc, "acc", "a", `{"balance":100}`)
	mustPut(t, svc, "acc", "b", `{"balance":100}`)
	mustPut(t, svc, "acc", "gone", `{"balance":0}`)
	id := mustBegin(t, svc, 30*time.Second)
	get := func(c, docID string) (*truce.Document, bool, error) { return svc.TransactionGet(ctx, id, c, docID) }

	if d, staged, err := get("acc", "a"); err != nil || staged || d.ETag() != a.ETag() {
		t.Fatalf("a committed read: %v %v %+v", err, staged, d)
	}
	if _, _, err := get("acc", "none"); !codeIs(t, "a read of a missing document", err, truce.CodeNotFound) {
		return
	}
	before := lastSeq(t, store)
	if res := stage(t, svc, id, txPatch("a", `{"balance":70}`, ifMatch(a.ETag()))); res.Document.Version != 2 || string(res.Document.Body) != `{"balance":70}` {
		t.Errorf("staged patch: %+v", res.Document)
	}
	stage(t, svc, id, txPut("b", `{"balance":130,"_version":1}`, none))
	ledger := stage(t, svc, id, truce.Op{Kind: truce.OpCreate, Collection: "ledger", Document: []byte(`{"from":"a","to":"b","amount":30}`)}).Document.ID
	if res := stage(t, svc, id, truce.Op{Kind: truce.OpDelete, Collection: "acc", ID: "gone"}); !res.Document.Deleted {
		t.Errorf("staged delete: %+v", res.Document)
	}
	// A second write to a staged document builds on the staged version.
	if res := stage(t, svc, id, txPatch("a", `{"note":"x"}`, none)); res.Document.Version != 3 || !sameJSON(res.Document.Body, `{"balance":70,"note":"x"}`) {
		t.Errorf("second staged patch: %+v", res.Document)
	}
	for _, tc := range []struct {
		name string
		op   truce.Op
		code truce.Code
	}{
		{"a stale If-Match", txPut("b", `{"balance":1}`, ifMatch(`"9-9"`)), truce.CodePreconditionFailed},
		{"a stale body version", txPut("b", `{"balance":1,"_version":7}`, none), truce.CodeVersionConflict},
		{"a stale patch version", txPatch("b", `{"balance":1}`, atVersion(7)), truce.CodeVersionConflict},
		{"a delete of a missing document", truce.Op{Kind: truce.OpDelete, Collection: "acc", ID: "none"}, truce.CodeNotFound},
		{"a create of a live id", truce.Op{Kind: truce.OpCreate, Collection: "acc", Document: []byte(`{"_id":"a"}`)}, truce.CodeAlreadyExists},
		{"a patch of the staged delete", txPatch("gone", `{"n":1}`, none), truce.CodeNotFound},
		{"a check", truce.Op{Kind: truce.OpCheck, Collection: "acc", ID: "a"}, truce.CodeInvalidParameter},
	} {
		_, err := svc.TransactionWrite(ctx, id, tc.op, nil, nil)
		codeIs(t, tc.name, err, tc.code)
	}

	// Inside: the staged versions. Outside: nothing changed.
	if d, staged, err := get("acc", "a"); err != nil || !staged || !sameJSON(d.Body, `{"balance":70,"note":"x"}`) {
		t.Errorf("a read of a staged document: %v %v %+v", err, staged, d)
	}
	if _, staged, err := get("acc", "gone"); !codeIs(t, "a read of a staged delete", err, truce.CodeNotFound) || !staged {
		t.Errorf("a read of a staged delete is not marked staged")
	}
	if got := bodyOf(t, svc, "acc", "a"); got != `{"balance":100}` {
		t.Errorf("a staged write is visible outside: %s", got)
	}
	if _, err := svc.GetCollection(ctx, "ledger"); !codeIs(t, "the collection a staged create makes", err, truce.CodeNotFound) {
		return
	}
	if got := lastSeq(t, store); got != before {
		t.Errorf("staging moved the change log from %d to %d", before, got)
	}

	res, err := svc.CommitTransaction(ctx, id, nil, nil)
	if err != nil || len(res) != 5 {
		t.Fatalf("commit: %v, %d results", err, len(res))
	}
	for i, k := range []truce.OpKind{truce.OpPatch, truce.OpPut, truce.OpCreate, truce.OpDelete, truce.OpPatch} {
		if res[i].Kind != k || res[i].Created != (k == truce.OpCreate) {
			t.Errorf("result %d: %s created=%v, want %s", i, res[i].Kind, res[i].Created, k)
		}
	}
	if d, _ := svc.Get(ctx, "acc", "a"); d == nil || d.Version != 3 || !sameJSON(d.Body, `{"balance":70,"note":"x"}`) {
		t.Errorf("a after the commit: %+v", d)
	}
	for c, want := range map[string]string{"acc/b": `{"balance":130}`, "acc/gone": "", "ledger/" + ledger: `{"from":"a","to":"b","amount":30}`} {
		col, docID, _ := strings.Cut(c, "/")
		if got := bodyOf(t, svc, col, docID); got != want {
			t.Errorf("%s holds %q, want %q", c, got, want)
		}
	}
	evs := events(t, store)[before:]
	if len(evs) != 6 || evs[5].Type != truce.EventTransactionCommitted || !strings.Contains(string(evs[5].Info), id) {
		t.Errorf("events after the commit: %d, last %+v", len(evs), evs[len(evs)-1])
	}
	if _, err := svc.CommitTransaction(ctx, id, nil, nil); !codeIs(t, "a second commit", err, truce.CodeTransactionExpired) {
		return
	}
	if _, _, err := get("acc", "a"); !codeIs(t, "a read after the commit", err, truce.CodeTransactionExpired) {
		return
	}
}

// TestTransactionConflict: a document the transaction read, or wrote
// without reading, or saw absent, that changes before the commit makes
// every later read and the commit transaction_conflict listing it; the
// commit applies nothing, and the transaction stays until rolled back.
// A Seq names one version, so a document changed back to what the
// transaction read has still changed.
func TestTransactionConflict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stage func(t *testing.T, svc *truce.Service, id string)
		other func(t *testing.T, svc *truce.Service)
		doc   string
	}{
		{"read then changed", func(t *testing.T, svc *truce.Service, id string) {
			if _, _, err := svc.TransactionGet(t.Context(), id, "acc", "a"); err != nil {
				t.Fatal(err)
			}
			stage(t, svc, id, txPut("b", `{"balance":1}`, none))
		}, func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "acc", "a", `{"balance":5}`) }, "a"},
		{"read then changed back", func(t *testing.T, svc *truce.Service, id string) {
			if _, _, err := svc.TransactionGet(t.Context(), id, "acc", "a"); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "acc", "a", `{"balance":100}`) }, "a"},
		{"written then changed", func(t *testing.T, svc *truce.Service, id string) {
			stage(t, svc, id, txPatch("b", `{"balance":7}`, none))
		}, func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "acc", "b", `{"balance":6}`) }, "b"},
		{"read then deleted", func(t *testing.T, svc *truce.Service, id string) {
			if _, _, err := svc.TransactionGet(t.Context(), id, "acc", "a"); err != nil {
				t.Fatal(err)
			}
			stage(t, svc, id, txPut("b", `{"balance":1}`, none))
		}, func(t *testing.T, svc *truce.Service) { mustDelete(t, svc, "acc", "a") }, "a"},
		{"absent then created", func(t *testing.T, svc *truce.Service, id string) {
			if _, _, err := svc.TransactionGet(t.Context(), id, "acc", "c"); truce.ErrorCode(err) != truce.CodeNotFound {
				t.Fatal(err)
			}
			stage(t, svc, id, txPut("b", `{"balance":1}`, none))
		}, func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "acc", "c", `{"balance":0}`) }, "c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, store := mustService(t)
			ctx := t.Context()
			mustPut(t, svc, "acc", "a", `{"balance":100}`)
			mustPut(t, svc, "acc", "b", `{"balance":100}`)
			id := mustBegin(t, svc, 0)
			tc.stage(t, svc, id)
			tc.other(t, svc)
			// Any read in the transaction now learns that it will fail.
			if _, _, err := svc.TransactionGet(ctx, id, "acc", "zz"); !codeIs(t, "a read after the change", err, truce.CodeTransactionConflict) {
				return
			}
			if _, err := svc.TransactionWrite(ctx, id, txPut("zz", `{}`, none), nil, nil); !codeIs(t, "a write after the change", err, truce.CodeTransactionConflict) {
				return
			}
			before := lastSeq(t, store)
			_, err := svc.CommitTransaction(ctx, id, nil, nil)
			var te *truce.Error
			if !errors.As(err, &te) || te.Code != truce.CodeTransactionConflict || fmt.Sprint(te.Changed) != fmt.Sprint([]truce.DocRef{{Collection: "acc", ID: tc.doc}}) {
				t.Fatalf("commit: %v, changed %+v", err, te)
			}
			if got := lastSeq(t, store); got != before {
				t.Errorf("a conflicting commit moved the change log from %d to %d", before, got)
			}
			if got := bodyOf(t, svc, "acc", "b"); got != `{"balance":100}` && got != `{"balance":6}` {
				t.Errorf("a conflicting commit wrote b: %s", got)
			}
			if err := svc.RollbackTransaction(ctx, id); err != nil {
				t.Fatalf("rollback after a conflict: %v", err)
			}
		})
	}
}

// TestTransactionRollbackAndExpiry: a rollback drops what was staged and
// ends the transaction; past its TTL a transaction is
// transaction_expired for everything and the sweeper removes it; TTLs
// default and are capped.
func TestTransactionRollbackAndExpiry(t *testing.T) {
	c := &clock{}
	store := mustStore(t)
	svc := truce.NewService(store, truce.Options{Now: c.now, MaxTransactionTTL: time.Hour})
	ctx := t.Context()
	mustPut(t, svc, "acc", "a", `{"balance":100}`)

	id := mustBegin(t, svc, 0)
	stage(t, svc, id, txPut("a", `{"balance":1}`, none))
	runSteps(t, svc, []step{
		{"rollback", func(ctx context.Context, svc *truce.Service) error { return svc.RollbackTransaction(ctx, id) }, ""},
		{"rollback again", func(ctx context.Context, svc *truce.Service) error { return svc.RollbackTransaction(ctx, id) }, truce.CodeTransactionExpired},
		{"commit after the rollback", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.CommitTransaction(ctx, id, nil, nil))
		}, truce.CodeTransactionExpired},
	})
	if d, _ := svc.Get(ctx, "acc", "a"); d.Version != 1 {
		t.Error("a rolled-back write was applied")
	}

	id = mustBegin(t, svc, 2*time.Second)
	stage(t, svc, id, txPut("a", `{"balance":2}`, none))
	c.advance(3 * time.Second)
	runSteps(t, svc, []step{
		{"read", func(ctx context.Context, svc *truce.Service) error {
			_, _, err := svc.TransactionGet(ctx, id, "acc", "a")
			return err
		}, truce.CodeTransactionExpired},
		{"write", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.TransactionWrite(ctx, id, txPut("a", `{"balance":3}`, none), nil, nil))
		}, truce.CodeTransactionExpired},
		{"commit", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.CommitTransaction(ctx, id, nil, nil))
		}, truce.CodeTransactionExpired},
		{"a transaction that never began", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.CommitTransaction(ctx, "no-such-tx", nil, nil))
		}, truce.CodeTransactionExpired},
		{"no transaction id", func(ctx context.Context, svc *truce.Service) error {
			_, _, err := svc.TransactionGet(ctx, "", "acc", "a")
			return err
		}, truce.CodeTransactionExpired},
		{"a negative TTL", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.BeginTransaction(ctx, -time.Second, nil, nil))
		}, truce.CodeInvalidParameter},
	})
	if n, err := svc.SweepTransactions(ctx); err != nil || n != 1 {
		t.Errorf("SweepTransactions = %d, %v; want 1 expired transaction", n, err)
	}
	if d, _ := svc.Get(ctx, "acc", "a"); d.Version != 1 {
		t.Error("an expired transaction's write was applied")
	}
	for _, tc := range []struct{ ttl, want time.Duration }{{0, truce.DefaultTransactionTTL}, {time.Minute, time.Minute}, {100 * time.Hour, time.Hour}} {
		tx, err := svc.BeginTransaction(ctx, tc.ttl, nil, nil)
		if err != nil || tx.ExpiresAt.Sub(tx.CreatedAt) != tc.want {
			t.Errorf("ttl %s: %v, lives %s, want %s", tc.ttl, err, tx.ExpiresAt.Sub(tx.CreatedAt), tc.want)
		}
	}
}

// TestTransactionLimits: a transaction reads and stages at most MaxOps
// documents and writes.
func TestTransactionLimits(t *testing.T) {
	svc := truce.NewService(mustStore(t), truce.Options{MaxOps: 2})
	ctx := t.Context()
	id := mustBegin(t, svc, 0)
	stage(t, svc, id, txPut("a", `{}`, none))
	stage(t, svc, id, txPut("b", `{}`, none))
	if _, err := svc.TransactionWrite(ctx, id, txPut("c", `{}`, none), nil, nil); !codeIs(t, "a third staged write", err, truce.CodeTooManyOps) {
		return
	}
	if _, _, err := svc.TransactionGet(ctx, id, "acc", "c"); !codeIs(t, "a third document read", err, truce.CodeTooManyOps) {
		return
	}
	if _, _, err := svc.TransactionGet(ctx, id, "acc", "a"); err != nil {
		t.Errorf("a read of a staged document: %v", err)
	}
	if res, err := svc.CommitTransaction(ctx, id, nil, nil); err != nil || len(res) != 2 {
		t.Errorf("commit: %v %+v", err, res)
	}
}
