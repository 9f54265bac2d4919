package truce_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trucedb/truce"
)

// TestReferences: a reference field must name a live document of its
// collection (or be null); a document that live documents reference
// cannot be deleted, and the refusal lists them; a document may
// reference itself and still be deleted. posts.authorId references
// users; p1 and p2 name ann, p3 names nobody.
func TestReferences(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustSettings(t, svc, "posts", truce.Settings{References: map[string]string{"authorId": "users"}})
		mustPut(t, svc, "users", "ann", `{}`)
		mustPut(t, svc, "users", "bob", `{}`)
		mustPut(t, svc, "posts", "p1", `{"authorId":"ann"}`)
		mustPut(t, svc, "posts", "p2", `{"authorId":"ann"}`)
		mustPut(t, svc, "posts", "p3", `{"authorId":null}`)
		mustSettings(t, svc, "nodes", truce.Settings{References: map[string]string{"parent": "nodes"}})
	}
	runWrites(t, setup, []writeCase{
		{name: "a missing document", write: put("posts", "p9", `{"authorId":"carl"}`, none), code: truce.CodeInvalidReference},
		{name: "a deleted document", setup: func(t *testing.T, svc *truce.Service) {
			mustPut(t, svc, "users", "carl", `{}`)
			mustDelete(t, svc, "users", "carl")
		}, write: put("posts", "p9", `{"authorId":"carl"}`, none), code: truce.CodeInvalidReference},
		{name: "not a string", write: put("posts", "p9", `{"authorId":7}`, none), code: truce.CodeInvalidReference},
		{name: "not an id", write: put("posts", "p9", `{"authorId":"a/b"}`, none), code: truce.CodeInvalidReference},
		{name: "a live document", write: create("posts", `{"authorId":"bob"}`), version: 1, created: true},
		{name: "null", write: put("posts", "p9", `{"authorId":null}`, none), version: 1, created: true},
		{name: "a patch to a missing document", write: mergePatch("posts", "p1", `{"authorId":"carl"}`, none), code: truce.CodeInvalidReference},
		{name: "delete a referenced document", write: del("users", "ann", none), code: truce.CodeInUse,
			check: func(t *testing.T, _ truce.WriteResult, err error) {
				var te *truce.Error
				want := []truce.DocRef{{Collection: "posts", ID: "p1", Field: "authorId"}, {Collection: "posts", ID: "p2", Field: "authorId"}}
				if !errors.As(err, &te) || fmt.Sprint(te.Referrers) != fmt.Sprint(want) {
					t.Errorf("in_use does not list the referrers: %+v", te)
				}
			}},
		{name: "delete once the referrers moved or left", setup: func(t *testing.T, svc *truce.Service) {
			mustPut(t, svc, "posts", "p1", `{"authorId":"bob"}`)
			mustDelete(t, svc, "posts", "p2")
		}, write: del("users", "ann", none), version: 2, deleted: true},
		{name: "delete the new target", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "posts", "p1", `{"authorId":"bob"}`) },
			write: del("users", "bob", none), code: truce.CodeInUse},
		{name: "delete once the referrer dropped the field", setup: func(t *testing.T, svc *truce.Service) {
			mustPut(t, svc, "posts", "p1", `{}`)
			mustPut(t, svc, "posts", "p2", `{"authorId":null}`)
		}, write: del("users", "ann", none), version: 2, deleted: true},
		{name: "a document names itself", write: put("nodes", "root", `{"parent":"root"}`, none), version: 1, created: true},
		{name: "a document that names itself is deleted", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "nodes", "root", `{"parent":"root"}`) },
			write: del("nodes", "root", none), version: 2, deleted: true},
	})
}

// TestReferenceSettings: declaring a reference checks the documents
// already there, and once declared it protects their targets.
func TestReferenceSettings(t *testing.T) {
	svc, _ := mustService(t)
	refs := truce.Settings{References: map[string]string{"postId": "posts"}}
	runSteps(t, svc, []step{
		{"p1", do(put("posts", "p1", `{}`, none)), ""},
		{"c1 names a missing post", do(put("comments", "c1", `{"postId":"nope"}`, none)), ""},
		{"postId references posts", settings("comments", refs), truce.CodeInvalidReference},
		{"the refused settings did not apply", do(put("comments", "c2", `{"postId":"nope"}`, none)), ""},
		{"c2 leaves", do(del("comments", "c2", none)), ""},
		{"c1 names p1", do(put("comments", "c1", `{"postId":"p1"}`, none)), ""},
		{"postId references posts at last", settings("comments", refs), ""},
		{"p1 is referenced", do(del("posts", "p1", none)), truce.CodeInUse},
		{"a dangling write", do(put("comments", "c3", `{"postId":"nope"}`, none)), truce.CodeInvalidReference},
		{"the reference dropped", settings("comments", truce.Settings{}), ""},
		{"p1 is free", do(del("posts", "p1", none)), ""},
	})
}
