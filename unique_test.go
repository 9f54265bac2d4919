package truce_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/trucedb/truce"
)

// TestUnique: a unique field's value is held by at most one live
// document; a document keeps its own value, gives it up by changing it,
// removing it or being deleted; null and missing values are not indexed;
// numbers collide by value, not by spelling. users has unique email, u1
// holds a@x; nums has unique n, a holds 1.
func TestUnique(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustSettings(t, svc, "users", truce.Settings{Unique: []string{"email"}})
		mustPut(t, svc, "users", "u1", `{"email":"a@x"}`)
		mustSettings(t, svc, "nums", truce.Settings{Unique: []string{"n"}})
		mustPut(t, svc, "nums", "a", `{"n":1}`)
	}
	held := func(t *testing.T, _ truce.WriteResult, err error) {
		var te *truce.Error
		if !errors.As(err, &te) || te.Field != "email" || fmt.Sprintf("%s", te.Value) != `"a@x"` || te.Holder == nil || *te.Holder != (truce.DocRef{Collection: "users", ID: "u1"}) {
			t.Errorf("unique_violation does not name the field, value and holder: %+v", te)
		}
	}
	runWrites(t, setup, []writeCase{
		{name: "another document takes the value", write: put("users", "u2", `{"email":"a@x"}`, none), code: truce.CodeUniqueViolation, check: held},
		{name: "a create takes the value", write: create("users", `{"email":"a@x"}`), code: truce.CodeUniqueViolation, check: held},
		{name: "a patch takes the value", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "users", "u2", `{"email":"b@x"}`) },
			write: mergePatch("users", "u2", `{"email":"a@x"}`, none), code: truce.CodeUniqueViolation, check: held},
		{name: "the holder keeps its value", write: put("users", "u1", `{"email":"a@x","n":1}`, none), version: 2},
		{name: "freed by a change", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "users", "u1", `{"email":"b@x"}`) },
			write: put("users", "u2", `{"email":"a@x"}`, none), version: 1, created: true},
		{name: "the changed value is held", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "users", "u1", `{"email":"b@x"}`) },
			write: put("users", "u2", `{"email":"b@x"}`, none), code: truce.CodeUniqueViolation},
		{name: "freed by removing the field", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "users", "u1", `{}`) },
			write: put("users", "u2", `{"email":"a@x"}`, none), version: 1, created: true},
		{name: "freed by a delete", setup: func(t *testing.T, svc *truce.Service) { mustDelete(t, svc, "users", "u1") },
			write: put("users", "u3", `{"email":"a@x"}`, none), version: 1, created: true},
		{name: "a deleted id comes back with its value", setup: func(t *testing.T, svc *truce.Service) { mustDelete(t, svc, "users", "u1") },
			write: put("users", "u1", `{"email":"a@x"}`, none), version: 3, created: true},
		{name: "null is not indexed", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "users", "u4", `{"email":null}`) },
			write: put("users", "u6", `{"email":null}`, none), version: 1, created: true},
		{name: "missing is not indexed", setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "users", "u4", `{}`) },
			write: put("users", "u5", `{}`, none), version: 1, created: true},
		{name: "1.0 is 1", write: put("nums", "b", `{"n":1.0}`, none), code: truce.CodeUniqueViolation},
		{name: "1e0 is 1", write: put("nums", "b", `{"n":1e0}`, none), code: truce.CodeUniqueViolation},
		{name: "2 is not 1", write: put("nums", "b", `{"n":2}`, none), version: 1, created: true},
	})
}

// TestUniqueSettings: declaring a field unique checks the documents
// already there and is refused while two share a value; dropping it
// frees the values.
func TestUniqueSettings(t *testing.T) {
	svc, _ := mustService(t)
	unique := truce.Settings{Unique: []string{"name"}}
	runSteps(t, svc, []step{
		{"t1 is x", do(put("tags", "t1", `{"name":"x"}`, none)), ""},
		{"t2 is x", do(put("tags", "t2", `{"name":"x"}`, none)), ""},
		{"name unique over a duplicate", settings("tags", unique), truce.CodeUniqueViolation},
		{"the refused settings did not apply", do(put("tags", "t3", `{"name":"x"}`, none)), ""},
		{"t3 leaves", do(del("tags", "t3", none)), ""},
		{"t2 becomes y", do(put("tags", "t2", `{"name":"y"}`, none)), ""},
		{"name unique", settings("tags", unique), ""},
		{"t3 takes y", do(put("tags", "t3", `{"name":"y"}`, none)), truce.CodeUniqueViolation},
		{"t3 takes x", do(put("tags", "t3", `{"name":"x"}`, none)), truce.CodeUniqueViolation},
		{"name no longer unique", settings("tags", truce.Settings{}), ""},
		{"t3 takes y at last", do(put("tags", "t3", `{"name":"y"}`, none)), ""},
		{"name unique again over a duplicate", settings("tags", unique), truce.CodeUniqueViolation},
	})
}
