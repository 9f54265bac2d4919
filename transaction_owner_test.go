package truce_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// txCall is one call of an interactive transaction, as a caller makes it.
type txCall struct {
	name string
	run  func(ctx context.Context, svc *truce.Service, txid string) error
}

var txCalls = []txCall{
	{"get", func(ctx context.Context, svc *truce.Service, txid string) error {
		_, _, err := svc.TransactionGet(ctx, txid, "acc", "a")
		return err
	}},
	{"stage", func(ctx context.Context, svc *truce.Service, txid string) error {
		return second(svc.TransactionWrite(ctx, txid, txPatch("a", `{"n":1}`, none), nil, nil))
	}},
	{"commit", func(ctx context.Context, svc *truce.Service, txid string) error {
		return second(svc.CommitTransaction(ctx, txid, nil, nil))
	}},
	{"rollback", func(ctx context.Context, svc *truce.Service, txid string) error {
		return svc.RollbackTransaction(ctx, txid)
	}},
}

// transactionRev returns the Rev of the stored transaction txid.
func transactionRev(t *testing.T, store *pebble.Store, txid string) int64 {
	t.Helper()
	var rev int64
	err := store.View(t.Context(), func(tx truce.ReadTx) error {
		tr, err := tx.Transaction(txid)
		if err == nil {
			rev = tr.Rev
		}
		return err
	})
	if err != nil {
		t.Fatalf("transaction %s: %v", txid, err)
	}
	return rev
}

// TestTransactionOwner: a transaction belongs to the caller ID that began
// it. Any other ID gets, from every call, exactly what an id that names
// no transaction gets, and changes nothing; the owner then commits what
// it staged. A caller without an ID (a Go embedder) may use any
// transaction, and anyone may use one begun without an ID, as before
// transactions had owners.
func TestTransactionOwner(t *testing.T) {
	c := &clock{}
	store := mustStore(t)
	svc := truce.NewService(store, truce.Options{Now: c.now})
	bg := t.Context()
	mustPut(t, svc, "acc", "a", `{"balance":100}`)
	as := func(id string) context.Context { return truce.WithCaller(bg, truce.Caller{ID: id, Name: id + "-name"}) }
	const unknown = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
	for _, tc := range []struct {
		name           string
		owner, caller  context.Context
		refused, stale bool
	}{
		{"the owner", as("ann"), as("ann"), false, false},
		{"another caller", as("ann"), as("bob"), true, false},
		{"another caller, once the transaction expired", as("ann"), as("bob"), true, true},
		{"another caller with the owner's name", as("ann"), truce.WithCaller(bg, truce.Caller{ID: "bob", Name: "ann-name"}), true, false},
		{"a caller without an ID", as("ann"), truce.WithCaller(bg, truce.Caller{Name: "bob"}), false, false},
		{"no caller", as("ann"), bg, false, false},
		{"another caller of a transaction without owner", bg, as("bob"), false, false},
	} {
		for _, call := range txCalls {
			t.Run(tc.name+"/"+call.name, func(t *testing.T) {
				tr, err := svc.BeginTransaction(tc.owner, time.Minute, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svc.TransactionWrite(tc.owner, tr.ID, txPut("b", `{"staged":true}`, none), nil, nil); err != nil {
					t.Fatal(err)
				}
				if tc.stale {
					c.advance(2 * time.Minute)
					defer c.advance(-2 * time.Minute)
				}
				rev := transactionRev(t, store, tr.ID)
				err = call.run(tc.caller, svc, tr.ID)
				if !tc.refused {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				// The refusal is the unknown id's, word for word but the id.
				want := call.run(tc.caller, svc, unknown)
				var got, wantErr *truce.Error
				if !errors.As(err, &got) || !errors.As(want, &wantErr) || got.Code != truce.CodeTransactionExpired ||
					strings.ReplaceAll(got.Detail, tr.ID, "ID") != strings.ReplaceAll(wantErr.Detail, unknown, "ID") {
					t.Fatalf("refused with %v; an unknown id gets %v", err, want)
				}
				if tc.stale {
					return
				}
				if got := transactionRev(t, store, tr.ID); got != rev {
					t.Errorf("the refused call changed the transaction: rev %d, was %d", got, rev)
				}
				res, err := svc.CommitTransaction(tc.owner, tr.ID, nil, nil)
				if err != nil || len(res) != 1 || res[0].Document.ID != "b" || res[0].Document.UpdatedBy != "ann-name" {
					t.Fatalf("the owner's commit after the refusal: %v %+v", err, res)
				}
			})
		}
	}
	if tr, err := svc.BeginTransaction(as("ann"), 0, nil, nil); err != nil || tr.Owner != "ann" {
		t.Errorf("BeginTransaction as ann: owner %q, %v", tr.Owner, err)
	}
}

// TestTransactionCommitChecksScopes: a commit checks again that the caller
// may write every collection the transaction staged writes in and read
// every collection it read, since scopes may have shrunk after staging.
// A refusal names the scope, applies nothing, keeps the transaction, and
// comes before a conflict, whose list of changed documents it would show.
func TestTransactionCommitChecksScopes(t *testing.T) {
	svc, _ := mustService(t)
	bg := t.Context()
	mustPut(t, svc, "acc", "a", `{"balance":100}`)
	for _, tc := range []struct {
		name    string
		revoke  string
		change  bool // acc/a changes after the transaction read it
		want    truce.Code
		scope   string
		applied bool
	}{
		{"all scopes kept", "", false, "", "", true},
		{"write on a staged collection revoked", "write:ledger", false, truce.CodeForbidden, "write:ledger", false},
		{"read on a read collection revoked", "read:acc", false, truce.CodeForbidden, "read:acc", false},
		{"read revoked and the document read changed", "read:acc", true, truce.CodeForbidden, "read:acc", false},
		{"the document read changed", "", true, truce.CodeTransactionConflict, "", false},
		{"an unrelated scope revoked", "write:acc", false, "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scopes := map[string]bool{"read:acc": true, "write:acc": true, "read:ledger": true, "write:ledger": true}
			ctx := truce.WithCaller(bg, truce.Caller{ID: "ann", Name: "ann",
				CanRead:  func(c string) bool { return scopes["read:"+c] },
				CanWrite: func(c string) bool { return scopes["write:"+c] },
			})
			tr, err := svc.BeginTransaction(ctx, time.Minute, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.TransactionGet(ctx, tr.ID, "acc", "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.TransactionWrite(ctx, tr.ID, truce.Op{Kind: truce.OpPut, Collection: "ledger", ID: tr.ID, Document: []byte(`{}`)}, nil, nil); err != nil {
				t.Fatal(err)
			}
			if tc.change {
				mustPut(t, svc, "acc", "a", `{"balance":1}`)
			}
			delete(scopes, tc.revoke)
			// A read in the transaction is refused as the commit is, before
			// it tells what changed.
			if _, _, err := svc.TransactionGet(ctx, tr.ID, "acc", "a"); truce.ErrorCode(err) != tc.want {
				t.Fatalf("read after the revocation: %v, want %q", err, tc.want)
			}
			if tc.want == truce.CodeForbidden {
				op := truce.Op{Kind: truce.OpPut, Collection: "acc", ID: "z", Document: []byte(`{}`)}
				if _, err := svc.TransactionWrite(ctx, tr.ID, op, nil, nil); truce.ErrorCode(err) != tc.want {
					t.Fatalf("a write after the revocation: %v, want %q", err, tc.want)
				}
			}
			_, err = svc.CommitTransaction(ctx, tr.ID, nil, nil)
			if truce.ErrorCode(err) != tc.want {
				t.Fatalf("commit: %v, want %q", err, tc.want)
			}
			var te *truce.Error
			if tc.scope != "" && (!errors.As(err, &te) || te.Scope != tc.scope || len(te.Changed) != 0) {
				t.Errorf("commit: %+v, want scope %s and no changed documents", te, tc.scope)
			}
			if _, err := svc.Get(bg, "ledger", tr.ID); (err == nil) != tc.applied {
				t.Errorf("ledger/%s after the commit: %v, applied should be %v", tr.ID, err, tc.applied)
			}
			if !tc.applied {
				if err := svc.RollbackTransaction(ctx, tr.ID); err != nil {
					t.Errorf("the refused transaction is not kept: %v", err)
				}
			}
		})
	}
}
