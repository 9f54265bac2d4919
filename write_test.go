package truce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// write is one write through the Service, answered as a WriteResult.
type write func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error)

func create(collection, body string) write {
	return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
		d, err := svc.Create(ctx, collection, []byte(body))
		return truce.WriteResult{Document: d, Created: d != nil}, err
	}
}

func put(collection, id, body string, pre truce.Precondition) write {
	return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
		return svc.Put(ctx, collection, id, []byte(body), pre, nil)
	}
}

func mergePatch(collection, id, patch string, pre truce.Precondition) write {
	return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
		return svc.Patch(ctx, collection, id, truce.MergePatch, []byte(patch), pre, nil)
	}
}

func jsonPatch(collection, id, patch string, pre truce.Precondition) write {
	return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
		return svc.Patch(ctx, collection, id, truce.JSONPatch, []byte(patch), pre, nil)
	}
}

func del(collection, id string, pre truce.Precondition) write {
	return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
		d, err := svc.Delete(ctx, collection, id, pre, nil)
		return truce.WriteResult{Document: d}, err
	}
}

// writeCase is one row of a write table: a write on a fresh Service set
// up by the table's setup (then the row's own), and what it must give.
type writeCase struct {
	name  string
	setup func(t *testing.T, svc *truce.Service)
	write write
	// code is the refusal's code, "" for success. A refused write must
	// leave the change log as it was, unless records is set (a manual
	// policy records a conflict).
	code    truce.Code
	records bool
	// On success: the version stored (0: not checked), its body ("": not
	// checked), whether it is a tombstone and whether it brought the
	// document to life.
	version int64
	body    string
	deleted bool
	created bool
	// check, if set, looks further at the outcome.
	check func(t *testing.T, res truce.WriteResult, err error)
}

// runWrites runs each case on its own Service, after setup.
func runWrites(t *testing.T, setup func(t *testing.T, svc *truce.Service), cases []writeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, store := mustService(t)
			if setup != nil {
				setup(t, svc)
			}
			if tc.setup != nil {
				tc.setup(t, svc)
			}
			before := lastSeq(t, store)
			res, err := tc.write(t.Context(), svc)
			if !codeIs(t, "write", err, tc.code) {
				return
			}
			if tc.check != nil {
				tc.check(t, res, err)
			}
			if tc.code != "" {
				if after := lastSeq(t, store); after != before && !tc.records {
					t.Errorf("a refused write moved the change log from %d to %d", before, after)
				}
				return
			}
			d := res.Document
			if d == nil {
				t.Fatal("no document")
			}
			if (tc.version != 0 && d.Version != tc.version) || (tc.body != "" && !sameJSON(d.Body, tc.body)) ||
				d.Deleted != tc.deleted || res.Created != tc.created {
				t.Errorf("stored version %d %s deleted=%v created=%v; want %d %s deleted=%v created=%v",
					d.Version, d.Body, d.Deleted, res.Created, tc.version, tc.body, tc.deleted, tc.created)
			}
			if got := bodyOf(t, svc, d.Collection, d.ID); (got == "") != d.Deleted || (!d.Deleted && got != string(d.Body)) {
				t.Errorf("the store holds %q, the write answered %s (deleted=%v)", got, d.Body, d.Deleted)
			}
		})
	}
}

// sameJSON reports whether a and b are the same JSON value, whatever the
// order of their members.
func sameJSON(a []byte, b string) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

var none truce.Precondition

func ifMatch(tags ...string) truce.Precondition     { return truce.Precondition{IfMatch: tags} }
func ifNoneMatch(tags ...string) truce.Precondition { return truce.Precondition{IfNoneMatch: tags} }
func atVersion(v int64) truce.Precondition          { return truce.Precondition{Version: v} }

// TestDocumentWrites: what each kind of write stores and what it refuses,
// with notes/n1 at version 2 and notes/gone deleted at version 2. Deletes
// are tombstones, so a deleted id comes back at the next version, never at 1.
func TestDocumentWrites(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustPut(t, svc, "notes", "n1", `{"a":1}`)
		mustPut(t, svc, "notes", "n1", `{"a":2}`)
		mustPut(t, svc, "notes", "gone", `{"a":1}`)
		mustDelete(t, svc, "notes", "gone")
	}
	runWrites(t, setup, []writeCase{
		{name: "create generates a sortable id", write: create("notes", `{"t":"x"}`), version: 1, body: `{"t":"x"}`, created: true,
			check: func(t *testing.T, res truce.WriteResult, _ error) {
				if len(res.Document.ID) != 26 {
					t.Errorf("generated id %q is not a ULID", res.Document.ID)
				}
			}},
		{name: "create names its id", write: create("notes", `{"_id":"n9","t":1}`), version: 1, body: `{"t":1}`, created: true},
		{name: "create on a live id", write: create("notes", `{"_id":"n1"}`), code: truce.CodeAlreadyExists},
		{name: "create on a deleted id continues its versions", write: create("notes", `{"_id":"gone"}`), version: 3, body: `{}`, created: true},
		{name: "create with _version", write: create("notes", `{"_version":1}`), code: truce.CodeInvalidPrecondition},
		{name: "create with a reserved field", write: create("notes", `{"_secret":1}`), code: truce.CodeReservedField},
		{name: "create into a new collection", write: create("fresh", `{}`), version: 1, created: true},

		{name: "put replaces", write: put("notes", "n1", `{"b":1}`, none), version: 3, body: `{"b":1}`},
		{name: "put creates", write: put("notes", "n2", `{"b":1}`, none), version: 1, body: `{"b":1}`, created: true},
		{name: "put on a deleted id continues its versions", write: put("notes", "gone", `{"b":1}`, none), version: 3, created: true},
		{name: "put with its own _id", write: put("notes", "n1", `{"_id":"n1","b":1}`, none), version: 3, body: `{"b":1}`},
		{name: "put with another _id", write: put("notes", "n1", `{"_id":"n2"}`, none), code: truce.CodeInvalidID},
		{name: "put with _deleted", write: put("notes", "n1", `{"_deleted":true}`, none), code: truce.CodeReservedField},
		{name: "put with _createdAt of a new value", write: put("notes", "n1", `{"_createdAt":"x","b":1}`, none), version: 3, body: `{"b":1}`},
		{name: "a document read can be written back as it is", write: func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			d, err := svc.Get(ctx, "notes", "n1")
			if err != nil {
				return truce.WriteResult{}, err
			}
			return svc.Put(ctx, "notes", "n1", bytes.Replace(d.JSON(), []byte(`"a":2`), []byte(`"a":5`), 1), none, nil)
		}, version: 3, body: `{"a":5}`},

		{name: "patch", write: mergePatch("notes", "n1", `{"b":1}`, none), version: 3, body: `{"a":2,"b":1}`},
		{name: "patch a deleted document", write: mergePatch("notes", "gone", `{"b":1}`, none), code: truce.CodeNotFound},
		{name: "patch a missing document", write: mergePatch("notes", "nope", `{"b":1}`, none), code: truce.CodeNotFound},

		{name: "delete writes a tombstone", write: del("notes", "n1", none), version: 3, deleted: true},
		{name: "delete a deleted document", write: del("notes", "gone", none), code: truce.CodeNotFound},
		{name: "delete a missing document", write: del("notes", "nope", none), code: truce.CodeNotFound},

		{name: "collection name with a capital", write: put("Notes", "x", `{}`, none), code: truce.CodeInvalidCollection},
		{name: "id with a slash", write: put("notes", "a/b", `{}`, none), code: truce.CodeInvalidID},
		{name: "id with a space", write: put("notes", "a b", `{}`, none), code: truce.CodeInvalidID},
		{name: "id ..", write: put("notes", "..", `{}`, none), code: truce.CodeInvalidID},
		{name: "id not ASCII", write: put("notes", "é", `{}`, none), code: truce.CodeInvalidID},
		{name: "id of 256 bytes", write: put("notes", strings.Repeat("x", 256), `{}`, none), code: truce.CodeInvalidID},
		{name: "id of 255 bytes", write: put("notes", strings.Repeat("x", 255), `{}`, none), version: 1, created: true},
		{name: "id with every allowed punctuation", write: put("notes", "a.b~c:d@e-f_g", `{}`, none), version: 1, created: true},
		{name: "create with an invalid _id", write: create("notes", `{"_id":".."}`), code: truce.CodeInvalidID},
	})
}

// TestReadsOfDeletedDocuments: a deleted document is not found, but its
// history stays readable.
func TestReadsOfDeletedDocuments(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	mustPut(t, svc, "notes", "n1", `{"a":1}`)
	tomb := mustDelete(t, svc, "notes", "n1")
	if _, err := svc.Get(ctx, "notes", "n1"); !codeIs(t, "Get of a deleted document", err, truce.CodeNotFound) {
		return
	}
	if v, err := svc.GetVersion(ctx, "notes", "n1", 1); err != nil || string(v.Body) != `{"a":1}` {
		t.Errorf("version 1 of a deleted document: %v %+v", err, v)
	}
	if v, err := svc.GetVersion(ctx, "notes", "n1", 2); err != nil || !v.Deleted || v.ETag() != tomb.ETag() {
		t.Errorf("the tombstone: %v %+v", err, v)
	}
}

// TestPreconditions: the header forms (If-Match, If-None-Match) fail with
// precondition_failed and the body form (_version, ?version=) with
// version_conflict under the default policy, both carrying the current
// document; headers are checked first; weak tags never match If-Match.
// notes/n1 is at version 2, notes/gone is deleted.
func TestPreconditions(t *testing.T) {
	var e1, e2 string // n1's ETags at versions 1 and 2
	setup := func(t *testing.T, svc *truce.Service) {
		e1 = mustPut(t, svc, "notes", "n1", `{"v":1}`).ETag()
		e2 = mustPut(t, svc, "notes", "n1", `{"v":2}`).ETag()
		mustPut(t, svc, "notes", "gone", `{}`)
		mustDelete(t, svc, "notes", "gone")
	}
	// lazy builds the write when it runs, after setup set the ETags.
	lazy := func(f func() write) write {
		return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) { return f()(ctx, svc) }
	}
	current := func(t *testing.T, _ truce.WriteResult, err error) {
		var te *truce.Error
		if !errors.As(err, &te) || te.Current == nil || te.Current.Version != 2 || te.Current.ETag() != e2 || string(te.Current.Body) != `{"v":2}` {
			t.Errorf("the refusal does not carry the current document: %v", err)
		}
	}
	runWrites(t, setup, []writeCase{
		{name: "If-None-Match * on a new id", write: put("notes", "n2", `{}`, ifNoneMatch("*")), version: 1, created: true},
		{name: "If-None-Match * on a live id", write: put("notes", "n1", `{}`, ifNoneMatch("*")), code: truce.CodePreconditionFailed, check: current},
		{name: "If-None-Match * on a deleted id", write: put("notes", "gone", `{}`, ifNoneMatch("*")), version: 3, created: true},
		{name: "If-None-Match the current tag", write: lazy(func() write { return put("notes", "n1", `{}`, ifNoneMatch(e2)) }), code: truce.CodePreconditionFailed},
		{name: "If-None-Match the current tag, weak", write: lazy(func() write { return put("notes", "n1", `{}`, ifNoneMatch("W/"+e2)) }), code: truce.CodePreconditionFailed},
		{name: "If-None-Match an old tag", write: lazy(func() write { return put("notes", "n1", `{"v":3}`, ifNoneMatch(e1)) }), version: 3},

		{name: "If-Match the current tag", write: lazy(func() write { return put("notes", "n1", `{"v":3}`, ifMatch(e2)) }), version: 3, body: `{"v":3}`},
		{name: "If-Match a stale tag", write: lazy(func() write { return put("notes", "n1", `{"v":3}`, ifMatch(e1)) }), code: truce.CodePreconditionFailed, check: current},
		{name: "If-Match the current tag, weak", write: lazy(func() write { return put("notes", "n1", `{}`, ifMatch("W/"+e2)) }), code: truce.CodePreconditionFailed},
		{name: "If-Match a list with the current tag", write: lazy(func() write { return put("notes", "n1", `{}`, ifMatch(`"nope"`, e2)) }), version: 3},
		{name: "If-Match * on a live document", write: put("notes", "n1", `{}`, ifMatch("*")), version: 3},
		{name: "If-Match * on a missing document", write: put("notes", "nope", `{}`, ifMatch("*")), code: truce.CodePreconditionFailed},
		{name: "If-Match * on a deleted document", write: put("notes", "gone", `{}`, ifMatch("*")), code: truce.CodePreconditionFailed},
		{name: "If-Match on a patch", write: lazy(func() write { return mergePatch("notes", "n1", `{"w":1}`, ifMatch(e1)) }), code: truce.CodePreconditionFailed},
		{name: "If-Match on a delete", write: lazy(func() write { return del("notes", "n1", ifMatch(e2)) }), version: 3, deleted: true},

		{name: "the current version", write: put("notes", "n1", `{"v":3,"_version":2}`, none), version: 3, body: `{"v":3}`},
		{name: "a stale version in the body", write: put("notes", "n1", `{"v":3,"_version":1}`, none), code: truce.CodeVersionConflict, check: current},
		{name: "a stale version on a put", write: put("notes", "n1", `{"v":3}`, atVersion(1)), code: truce.CodeVersionConflict, check: current},
		{name: "a stale version on a patch", write: mergePatch("notes", "n1", `{"v":4}`, atVersion(1)), code: truce.CodeVersionConflict, check: current},
		{name: "a stale version on a delete", write: del("notes", "n1", atVersion(1)), code: truce.CodeVersionConflict, check: current},
		{name: "a version from the future", write: put("notes", "n1", `{}`, atVersion(9)), code: truce.CodeVersionConflict},
		{name: "the current version on a patch", write: mergePatch("notes", "n1", `{"w":1}`, atVersion(2)), version: 3, body: `{"v":2,"w":1}`},
		{name: "the current version on a delete", write: del("notes", "n1", atVersion(2)), version: 3, deleted: true},
		{name: "body and query versions differ", write: put("notes", "n1", `{"_version":1}`, atVersion(2)), code: truce.CodeInvalidPrecondition},
		{name: "a version of a missing document", write: put("notes", "nope", `{"_version":3}`, none), code: truce.CodeNotFound},
		{name: "a version of a deleted document", write: put("notes", "gone", `{}`, atVersion(2)), code: truce.CodeNotFound},

		{name: "a stale header and a stale body: the header first", write: lazy(func() write { return put("notes", "n1", `{"_version":1}`, ifMatch(e1)) }), code: truce.CodePreconditionFailed},
		{name: "a current header and a stale body", write: lazy(func() write { return put("notes", "n1", `{"_version":1}`, ifMatch(e2)) }), code: truce.CodeVersionConflict},
	})
}

// TestRequirePreconditions: a collection with requirePreconditions
// refuses every write that carries no precondition, except a create
// (create-only by nature); a Lock-Token is not a precondition.
func TestRequirePreconditions(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustSettings(t, svc, "strict", truce.Settings{RequirePreconditions: true})
		if _, err := svc.Put(t.Context(), "strict", "a", []byte(`{"x":1}`), ifNoneMatch("*"), nil); err != nil {
			t.Fatal(err)
		}
	}
	restore := func(pre truce.Precondition) write {
		return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			return svc.Restore(ctx, "strict", "a", 1, pre, nil)
		}
	}
	var token string // of a lock on strict/a
	runWrites(t, setup, []writeCase{
		{name: "put a new id without", write: put("strict", "b", `{}`, none), code: truce.CodePreconditionRequired},
		{name: "put a new id with If-None-Match *", write: put("strict", "b", `{}`, ifNoneMatch("*")), version: 1, created: true},
		{name: "put without", write: put("strict", "a", `{"x":2}`, none), code: truce.CodePreconditionRequired},
		{name: "patch without", write: mergePatch("strict", "a", `{"x":2}`, none), code: truce.CodePreconditionRequired},
		{name: "delete without", write: del("strict", "a", none), code: truce.CodePreconditionRequired},
		{name: "restore without", write: restore(none), code: truce.CodePreconditionRequired},
		{name: "the holder's lock token alone", setup: func(t *testing.T, svc *truce.Service) {
			token = mustLock(t, svc, truce.LockRequest{Collection: "strict", ID: "a", Owner: "ann", TTL: time.Minute}).Token
		}, write: func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			return svc.Put(ctx, "strict", "a", []byte(`{}`), truce.Precondition{LockToken: token}, nil)
		}, code: truce.CodePreconditionRequired},
		{name: "patch with If-Match", write: mergePatch("strict", "a", `{"x":2}`, ifMatch("*")), version: 2, body: `{"x":2}`},
		{name: "delete with a version", write: del("strict", "a", atVersion(1)), version: 2, deleted: true},
		{name: "restore with a version", write: restore(atVersion(1)), version: 2},
		{name: "create needs none", write: create("strict", `{"x":1}`), version: 1, created: true},
	})
}

// step is one row of a scenario: a call on the scenario's Service, made
// after the rows before it, and the code it must give ("" for success).
type step struct {
	name string
	call func(ctx context.Context, svc *truce.Service) error
	code truce.Code
}

// runSteps runs steps in order on svc and stops at the first that gives
// another code.
func runSteps(t *testing.T, svc *truce.Service, steps []step) {
	t.Helper()
	for i, s := range steps {
		if err := s.call(t.Context(), svc); truce.ErrorCode(err) != s.code {
			t.Fatalf("step %d (%s): %v, want code %q", i, s.name, err, s.code)
		}
	}
}

// do turns a write into a step's call.
func do(w write) func(context.Context, *truce.Service) error {
	return func(ctx context.Context, svc *truce.Service) error {
		_, err := w(ctx, svc)
		return err
	}
}

// settings is a step's call that replaces a collection's settings.
func settings(name string, s truce.Settings) func(context.Context, *truce.Service) error {
	return func(ctx context.Context, svc *truce.Service) error {
		_, _, err := svc.PutCollection(ctx, name, s)
		return err
	}
}
