package truce_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// wantOpError checks that err is the failure of op index with code, and
// returns its *truce.Error.
func wantOpError(t *testing.T, what string, err error, index int, code truce.Code) *truce.Error {
	t.Helper()
	var oe *truce.OpError
	var te *truce.Error
	if !errors.As(err, &oe) || oe.Index != index || !errors.As(err, &te) || te.Code != code {
		t.Fatalf("%s: %v, want op %d failing with %s", what, err, index, code)
	}
	return te
}

// TestBatchEveryOp runs every op kind with each precondition style in one
// batch: each op's result, the stored state, one event per write with
// consecutive seqs, then the transaction's own event.
func TestBatchEveryOp(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	a := mustPut(t, svc, "acc", "a", `{"balance":100}`)
	b := mustPut(t, svc, "acc", "b", `{"balance":100}`)
	mustPut(t, svc, "acc", "c", `{"balance":5}`)
	mustPut(t, svc, "acc", "d", `{"balance":7}`)
	before := lastSeq(t, store)

	ops := []truce.Op{
		{Kind: truce.OpCheck, Collection: "acc", ID: "a", Pre: ifMatch(a.ETag())},
		{Kind: truce.OpCheck, Collection: "acc", ID: "b", Pre: atVersion(1)},
		{Kind: truce.OpCheck, Collection: "acc", ID: "zz", Pre: ifNoneMatch("*")},
		{Kind: truce.OpPatch, Collection: "acc", ID: "a", Pre: ifMatch(a.ETag()), PatchType: truce.MergePatch, Patch: []byte(`{"balance":70}`)},
		{Kind: truce.OpPatch, Collection: "acc", ID: "b", Pre: atVersion(1), PatchType: truce.JSONPatch, Patch: []byte(`[{"op":"replace","path":"/balance","value":130}]`)},
		{Kind: truce.OpPut, Collection: "acc", ID: "c", Pre: atVersion(1), Document: []byte(`{"balance":6}`)},
		{Kind: truce.OpPut, Collection: "acc", ID: "e", Pre: ifNoneMatch("*"), Document: []byte(`{"balance":1}`)},
		{Kind: truce.OpDelete, Collection: "acc", ID: "d", Pre: ifMatch("*")},
		{Kind: truce.OpCreate, Collection: "ledger", ID: "l1", Document: []byte(`{"from":"a","to":"b","amount":30}`)},
		{Kind: truce.OpCreate, Collection: "ledger", Document: []byte(`{"amount":0}`)},
	}
	res, err := svc.Batch(ctx, ops, nil, nil)
	if err != nil || len(res) != len(ops) {
		t.Fatalf("batch: %v, %d results", err, len(res))
	}
	for i, r := range res {
		if r.Kind != ops[i].Kind {
			t.Errorf("result %d is a %s, want %s", i, r.Kind, ops[i].Kind)
		}
	}
	if res[0].Document.ETag() != a.ETag() || res[1].Document.ETag() != b.ETag() || res[2].Document != nil {
		t.Errorf("checks answer the current document: %+v %+v %+v", res[0].Document, res[1].Document, res[2].Document)
	}
	created := []bool{false, false, false, false, false, false, true, false, true, true}
	for i, c := range created {
		if res[i].Created != c {
			t.Errorf("result %d: created %v, want %v", i, res[i].Created, c)
		}
	}
	if !res[7].Document.Deleted || res[7].Document.Version != 2 {
		t.Errorf("the delete's tombstone: %+v", res[7].Document)
	}
	if ops[9].ID == "" || res[9].Document.ID != ops[9].ID || bodyOf(t, svc, "ledger", ops[9].ID) != `{"amount":0}` {
		t.Errorf("a create without an id: op id %q, result %+v", ops[9].ID, res[9].Document)
	}
	for id, want := range map[string]string{"a": `{"balance":70}`, "b": `{"balance":130}`, "c": `{"balance":6}`, "e": `{"balance":1}`, "d": ""} {
		if got := bodyOf(t, svc, "acc", id); got != want {
			t.Errorf("acc/%s holds %q, want %q", id, got, want)
		}
	}
	if cur, _ := svc.Get(ctx, "acc", "a"); cur.ETag() != res[3].Document.ETag() {
		t.Errorf("result ETag %s is not the stored one, %s", res[3].Document.ETag(), cur.ETag())
	}

	evs := events(t, store)[before:]
	if len(evs) != 8 {
		t.Fatalf("%d events, want 7 document events and 1 transaction event", len(evs))
	}
	for i, ev := range evs[:7] {
		if ev.Seq != before+1+int64(i) || ev.Type == truce.EventTransactionCommitted {
			t.Errorf("event %d: seq %d type %s", i, ev.Seq, ev.Type)
		}
	}
	last := evs[7]
	var info struct {
		Transaction       string
		Ops               int
		FirstSeq, LastSeq int64
		Writes            []json.RawMessage
	}
	if err := json.Unmarshal(last.Info, &info); err != nil || last.Type != truce.EventTransactionCommitted {
		t.Fatalf("last event %s: %s %v", last.Type, last.Info, err)
	}
	if info.Transaction == "" || info.Ops != len(ops) || info.FirstSeq != before+1 || info.LastSeq != before+7 || len(info.Writes) != 7 {
		t.Errorf("transaction event info %s", last.Info)
	}
}

// TestBatchFailureLeavesNoTrace makes each op of a batch fail in turn,
// for every kind of failure: the error names the op, with the code the
// same request would get on its own, and nothing is applied: the change
// log does not move, not even for a collection the batch would create.
func TestBatchFailureLeavesNoTrace(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	for _, id := range []string{"x", "y", "g1", "g2", "g3"} {
		mustPut(t, svc, "acc", id, `{"n":1}`)
	}
	mustSettings(t, svc, "users", truce.Settings{Unique: []string{"email"}})
	mustPut(t, svc, "users", "u1", `{"email":"a@x"}`)
	good := []truce.Op{
		{Kind: truce.OpPatch, Collection: "acc", ID: "g1", Pre: atVersion(1), PatchType: truce.MergePatch, Patch: []byte(`{"n":2}`)},
		{Kind: truce.OpCreate, Collection: "fresh", ID: "new1", Document: []byte(`{"n":1}`)},
		{Kind: truce.OpPut, Collection: "acc", ID: "g2", Pre: ifMatch("*"), Document: []byte(`{"n":3}`)},
		{Kind: truce.OpCheck, Collection: "acc", ID: "g3", Pre: atVersion(1)},
	}
	for _, f := range []struct {
		name string
		op   truce.Op
		code truce.Code
	}{
		{"stale if-match", truce.Op{Kind: truce.OpPatch, Collection: "acc", ID: "x", Pre: ifMatch(`"9-9"`), PatchType: truce.MergePatch, Patch: []byte(`{"n":5}`)}, truce.CodePreconditionFailed},
		{"stale version", truce.Op{Kind: truce.OpPut, Collection: "acc", ID: "y", Pre: atVersion(7), Document: []byte(`{"n":5}`)}, truce.CodeVersionConflict},
		{"check stale", truce.Op{Kind: truce.OpCheck, Collection: "acc", ID: "y", Pre: atVersion(4)}, truce.CodeVersionConflict},
		{"check missing", truce.Op{Kind: truce.OpCheck, Collection: "acc", ID: "nope"}, truce.CodeNotFound},
		{"missing", truce.Op{Kind: truce.OpDelete, Collection: "acc", ID: "nope"}, truce.CodeNotFound},
		{"exists", truce.Op{Kind: truce.OpCreate, Collection: "users", ID: "u1", Document: []byte(`{"email":"b@x"}`)}, truce.CodeAlreadyExists},
		{"unique", truce.Op{Kind: truce.OpCreate, Collection: "users", Document: []byte(`{"email":"a@x"}`)}, truce.CodeUniqueViolation},
		{"bad patch", truce.Op{Kind: truce.OpPatch, Collection: "acc", ID: "y", PatchType: truce.JSONPatch, Patch: []byte(`{"op":"add"}`)}, truce.CodeInvalidPatch},
		{"reserved", truce.Op{Kind: truce.OpPut, Collection: "acc", ID: "z", Document: []byte(`{"_x":1}`)}, truce.CodeReservedField},
		{"test failed", truce.Op{Kind: truce.OpPatch, Collection: "acc", ID: "y", PatchType: truce.JSONPatch, Patch: []byte(`[{"op":"test","path":"/n","value":42}]`)}, truce.CodePatchTestFailed},
	} {
		for pos := 0; pos <= len(good); pos++ {
			t.Run(fmt.Sprintf("%s at %d", f.name, pos), func(t *testing.T) {
				before := lastSeq(t, store)
				batch := append(append(append([]truce.Op{}, good[:pos]...), f.op), good[pos:]...)
				res, err := svc.Batch(ctx, batch, nil, nil)
				wantOpError(t, "batch", err, pos, f.code)
				var oe *truce.OpError
				if errors.As(err, &oe) && (oe.Total != len(batch) || oe.Op != f.op.Kind) || res != nil {
					t.Errorf("the op error %+v, results %v", oe, res)
				}
				if got := lastSeq(t, store); got != before {
					t.Errorf("the change log moved from %d to %d", before, got)
				}
			})
		}
	}
	for _, id := range []string{"x", "y", "g1", "g2"} {
		if d, err := svc.Get(ctx, "acc", id); err != nil || d.Version != 1 {
			t.Errorf("acc/%s after only failed batches: %v %+v", id, err, d)
		}
	}
	if _, err := svc.GetCollection(ctx, "fresh"); !codeIs(t, "a collection only a failed batch wrote to", err, truce.CodeNotFound) {
		return
	}
}

// TestBatchRulesInOrder: every rule applies as if the ops ran in order:
// a create may reference a document created earlier in the batch, a
// unique value freed by one op may be taken by a later one, a referrer
// deleted first frees its target; in the other order each fails.
func TestBatchRulesInOrder(t *testing.T) {
	svc, _ := mustService(t)
	mustSettings(t, svc, "users", truce.Settings{Unique: []string{"email"}})
	mustSettings(t, svc, "posts", truce.Settings{References: map[string]string{"authorId": "users"}})
	user := truce.Op{Kind: truce.OpCreate, Collection: "users", ID: "ann", Document: []byte(`{"email":"ann@x"}`)}
	post := truce.Op{Kind: truce.OpCreate, Collection: "posts", ID: "p1", Document: []byte(`{"authorId":"ann","title":"hi"}`)}
	bob := truce.Op{Kind: truce.OpCreate, Collection: "users", ID: "bob", Document: []byte(`{"email":"ann@x"}`)}
	free := truce.Op{Kind: truce.OpPatch, Collection: "users", ID: "ann", PatchType: truce.MergePatch, Patch: []byte(`{"email":"ann@y"}`)}
	delAnn := truce.Op{Kind: truce.OpDelete, Collection: "users", ID: "ann"}
	delP1 := truce.Op{Kind: truce.OpDelete, Collection: "posts", ID: "p1"}
	batch := func(ops ...truce.Op) func(context.Context, *truce.Service) error {
		return func(ctx context.Context, svc *truce.Service) error { return second(svc.Batch(ctx, ops, nil, nil)) }
	}
	runSteps(t, svc, []step{
		{"a post before its author", batch(post, user), truce.CodeInvalidReference},
		{"the author, then the post", batch(user, post), ""},
		{"bob takes ann's address before she frees it", batch(bob, free), truce.CodeUniqueViolation},
		{"ann frees her address, then bob takes it", batch(free, bob), ""},
		{"a third taker of ann@x", do(create("users", `{"email":"ann@x"}`)), truce.CodeUniqueViolation},
		{"a taker of ann's new address", do(create("users", `{"email":"ann@y"}`)), truce.CodeUniqueViolation},
		{"ann deleted before her post", batch(delAnn, delP1), truce.CodeInUse},
		{"her post, then ann", batch(delP1, delAnn), ""},
	})
	if got := bodyOf(t, svc, "users", "bob"); got != `{"email":"ann@x"}` {
		t.Errorf("bob holds %s", got)
	}
}

// TestBatchLimits: the refusals of a batch as a whole (no ops, more than
// MaxOps, a document in two write ops) and of ops that are malformed on
// their own; none of them writes anything.
func TestBatchLimits(t *testing.T) {
	store := mustStore(t)
	svc := truce.NewService(store, truce.Options{MaxOps: 3, MaxDocBytes: 1 << 10})
	if svc.MaxOps() != 3 {
		t.Fatalf("MaxOps %d", svc.MaxOps())
	}
	put := func(id string) truce.Op {
		return truce.Op{Kind: truce.OpPut, Collection: "c", ID: id, Document: []byte(`{"n":1}`)}
	}
	before := lastSeq(t, store)
	for _, tc := range []struct {
		name  string
		ops   []truce.Op
		code  truce.Code
		index int // of the failing op; -1 for the batch as a whole
	}{
		{"no ops", nil, truce.CodeInvalidParameter, -1},
		{"more than MaxOps", []truce.Op{put("a"), put("b"), put("c"), put("d")}, truce.CodeTooManyOps, -1},
		{"a document written twice", []truce.Op{put("a"), {Kind: truce.OpCheck, Collection: "c", ID: "b", Pre: ifNoneMatch("*")}, put("a")}, truce.CodeTooManyOps, 2},
		{"a check after a write of its document", []truce.Op{put("a"), {Kind: truce.OpCheck, Collection: "c", ID: "a", Pre: ifNoneMatch("*")}}, truce.CodePreconditionFailed, 1},
		{"an unknown kind", []truce.Op{{Kind: "upsert", Collection: "c", ID: "a"}}, truce.CodeInvalidParameter, 0},
		{"an invalid collection", []truce.Op{put("a"), {Kind: truce.OpPut, Collection: "Bad", ID: "a", Document: []byte(`{}`)}}, truce.CodeInvalidCollection, 1},
		{"a delete without an id", []truce.Op{{Kind: truce.OpDelete, Collection: "c"}}, truce.CodeInvalidID, 0},
		{"a create with a precondition", []truce.Op{{Kind: truce.OpCreate, Collection: "c", Pre: ifNoneMatch("*"), Document: []byte(`{}`)}}, truce.CodeInvalidPrecondition, 0},
		{"a create whose _id is not its id", []truce.Op{{Kind: truce.OpCreate, Collection: "c", ID: "a", Document: []byte(`{"_id":"b"}`)}}, truce.CodeInvalidID, 0},
		{"a check with a document", []truce.Op{{Kind: truce.OpCheck, Collection: "c", ID: "a", Document: []byte(`{}`)}}, truce.CodeInvalidParameter, 0},
		{"a delete with a document", []truce.Op{{Kind: truce.OpDelete, Collection: "c", ID: "a", Document: []byte(`{}`)}}, truce.CodeInvalidParameter, 0},
		{"a patch of no known type", []truce.Op{{Kind: truce.OpPatch, Collection: "c", ID: "a", PatchType: "text/plain", Patch: []byte(`{}`)}}, truce.CodeUnsupportedMediaType, 0},
		{"a put without a document", []truce.Op{{Kind: truce.OpPut, Collection: "c", ID: "a"}}, truce.CodeInvalidDocument, 0},
		{"a create without a document", []truce.Op{{Kind: truce.OpCreate, Collection: "c"}}, truce.CodeInvalidDocument, 0},
		{"a document over MaxDocBytes", []truce.Op{put("a"), put("b"), {Kind: truce.OpPut, Collection: "c", ID: "z", Document: fmt.Appendf(nil, `{"s":"%02000d"}`, 0)}}, truce.CodeTooLarge, 2},
	} {
		_, err := svc.Batch(t.Context(), tc.ops, nil, nil)
		if tc.index >= 0 {
			wantOpError(t, tc.name, err, tc.index, tc.code)
			continue
		}
		var oe *truce.OpError
		if codeIs(t, tc.name, err, tc.code) && errors.As(err, &oe) {
			t.Errorf("%s: a refusal of the whole batch names op %d", tc.name, oe.Index)
		}
	}
	if got := lastSeq(t, store); got != before {
		t.Errorf("refused batches moved the change log from %d to %d", before, got)
	}
}

// TestBatchPolicies: under merge a stale version merges inside a batch;
// under manual an unmergeable one fails the batch with merge_conflict and
// records no conflict, because nothing of the batch happened.
func TestBatchPolicies(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	for _, p := range []truce.ConflictPolicy{truce.PolicyMerge, truce.PolicyManual} {
		mustSettings(t, svc, string(p), truce.Settings{ConflictPolicy: p})
		mustPut(t, svc, string(p), "d", `{"a":1,"b":1}`)
		mustPut(t, svc, string(p), "d", `{"a":2,"b":1}`)
	}
	stale := func(c, patch string) []truce.Op {
		return []truce.Op{{Kind: truce.OpPatch, Collection: c, ID: "d", Pre: atVersion(1), PatchType: truce.MergePatch, Patch: []byte(patch)}}
	}
	res, err := svc.Batch(ctx, stale("merge", `{"b":5}`), nil, nil)
	if err != nil || res[0].Merged == nil || *res[0].Merged != (truce.MergeInfo{Base: 1, Current: 2}) {
		t.Fatalf("a stale patch under merge: %v %+v", err, res)
	}
	if got := bodyOf(t, svc, "merge", "d"); !sameJSON([]byte(got), `{"a":2,"b":5}`) {
		t.Errorf("merged document %s", got)
	}
	before := lastSeq(t, store)
	_, err = svc.Batch(ctx, stale("manual", `{"a":9}`), nil, nil)
	if te := wantOpError(t, "an unmergeable patch under manual", err, 0, truce.CodeMergeConflict); te.ConflictID != "" {
		t.Errorf("the batch names conflict %s", te.ConflictID)
	}
	if p, err := svc.ListConflicts(ctx, truce.ConflictFilter{}, "", 0); err != nil || len(p.Items) != 0 {
		t.Errorf("a conflict was recorded for a batch that did not happen: %v %+v", err, p)
	}
	if got := lastSeq(t, store); got != before {
		t.Errorf("the refused batch moved the change log from %d to %d", before, got)
	}
}

// TestBatchLockFencing: an op on a locked document is refused without
// the holder's token, failing the whole batch, and passes with it; the
// token of a released lock is lock_expired.
func TestBatchLockFencing(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	mustPut(t, svc, "acc", "a", `{"balance":100}`)
	mustPut(t, svc, "acc", "b", `{"balance":100}`)
	l := mustLock(t, svc, truce.LockRequest{Collection: "acc", ID: "b", Owner: "alice", TTL: time.Minute})
	transfer := func(token string) []truce.Op {
		return []truce.Op{
			{Kind: truce.OpPatch, Collection: "acc", ID: "a", PatchType: truce.MergePatch, Patch: []byte(`{"balance":70}`)},
			{Kind: truce.OpPatch, Collection: "acc", ID: "b", Pre: truce.Precondition{LockToken: token}, PatchType: truce.MergePatch, Patch: []byte(`{"balance":130}`)},
		}
	}
	before := lastSeq(t, store)
	_, err := svc.Batch(ctx, transfer(""), nil, nil)
	if te := wantOpError(t, "a batch without the token", err, 1, truce.CodeLocked); te.LockOwner != "alice" || te.RetryAfter <= 0 {
		t.Errorf("locked without the holder: %+v", te)
	}
	if got := lastSeq(t, store); got != before {
		t.Fatalf("a refused batch moved the change log from %d to %d", before, got)
	}
	if _, err := svc.Batch(ctx, transfer(l.Token), nil, nil); err != nil {
		t.Fatalf("a batch with the token: %v", err)
	}
	if err := svc.Unlock(ctx, "acc", "b", l.Token); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Batch(ctx, transfer(l.Token), nil, nil)
	wantOpError(t, "a batch with a released lock's token", err, 1, truce.CodeLockExpired)
}
