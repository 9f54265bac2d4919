package truce_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trucedb/truce"
)

// TestPatch: a JSON Merge Patch or JSON Patch changes a live document; a
// patch that does not apply, touches a reserved field or fails a test
// operation is refused with its code and changes nothing. notes/n1 is
// {"title":"a","tags":["x"],"meta":{"k":1}} at version 1.
func TestPatch(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustPut(t, svc, "notes", "n1", `{"title":"a","tags":["x"],"meta":{"k":1}}`)
	}
	typed := func(typ truce.PatchType, p string) write {
		return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			return svc.Patch(ctx, "notes", "n1", typ, []byte(p), none, nil)
		}
	}
	runWrites(t, setup, []writeCase{
		{name: "merge patch", write: mergePatch("notes", "n1", `{"title":"b","meta":{"k":null,"j":2}}`, none),
			version: 2, body: `{"title":"b","tags":["x"],"meta":{"j":2}}`},
		{name: "JSON Patch", write: jsonPatch("notes", "n1", `[{"op":"test","path":"/title","value":"a"},{"op":"add","path":"/tags/-","value":"y"}]`, none),
			version: 2, body: `{"title":"a","tags":["x","y"],"meta":{"k":1}}`},
		{name: "a failed test operation", write: jsonPatch("notes", "n1", `[{"op":"test","path":"/title","value":"zzz"},{"op":"remove","path":"/title"}]`, none),
			code: truce.CodePatchTestFailed, check: func(t *testing.T, _ truce.WriteResult, err error) {
				var te *truce.Error
				if !errors.As(err, &te) || te.Current == nil || te.Current.Version != 1 {
					t.Errorf("patch_test_failed without the current document: %v", err)
				}
			}},
		{name: "remove a missing path", write: jsonPatch("notes", "n1", `[{"op":"remove","path":"/nope"}]`, none), code: truce.CodeInvalidPatch},
		{name: "an unknown operation", write: jsonPatch("notes", "n1", `[{"op":"frobnicate","path":"/a"}]`, none), code: truce.CodeInvalidPatch},
		{name: "a JSON Patch that is not an array", write: jsonPatch("notes", "n1", `{"op":"add"}`, none), code: truce.CodeInvalidPatch},
		{name: "an operation without a path", write: jsonPatch("notes", "n1", `[{"op":"add","value":1}]`, none), code: truce.CodeInvalidPatch},
		{name: "a path that is not a pointer", write: jsonPatch("notes", "n1", `[{"op":"add","path":"a","value":1}]`, none), code: truce.CodeInvalidPatch},
		{name: "replace the whole document", write: jsonPatch("notes", "n1", `[{"op":"replace","path":"","value":[1]}]`, none), code: truce.CodeInvalidPatch},
		{name: "a merge patch that is not an object", write: mergePatch("notes", "n1", `[1,2]`, none), code: truce.CodeInvalidPatch},
		{name: "a merge patch that is not JSON", write: mergePatch("notes", "n1", `{`, none), code: truce.CodeInvalidJSON},
		{name: "a merge patch with duplicate keys", write: mergePatch("notes", "n1", `{"a":1,"a":2}`, none), code: truce.CodeInvalidJSON},
		{name: "JSON Patch adds a reserved field", write: jsonPatch("notes", "n1", `[{"op":"add","path":"/_x","value":1}]`, none), code: truce.CodeReservedField},
		{name: "JSON Patch replaces _version", write: jsonPatch("notes", "n1", `[{"op":"replace","path":"/_version","value":9}]`, none), code: truce.CodeReservedField},
		{name: "JSON Patch moves from a reserved field", write: jsonPatch("notes", "n1", `[{"op":"move","from":"/_id","path":"/id"}]`, none), code: truce.CodeReservedField},
		{name: "merge patch sets _version", write: mergePatch("notes", "n1", `{"_version":1}`, none), code: truce.CodeReservedField},
		{name: "a patch type that is neither", write: typed("application/json", `{"a":1}`), code: truce.CodeUnsupportedMediaType},
		{name: "a missing document", write: mergePatch("notes", "missing", `{"a":1}`, none), code: truce.CodeNotFound},
	})
}

// TestBodyRules: a document must be a JSON object that truce accepts (no
// duplicate keys, bounded depth and numbers, valid UTF-8) and no larger
// than MaxDocBytes; every refusal has its code and writes nothing, not
// even the collection the write would have created.
func TestBodyRules(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	big := `{"a":"` + strings.Repeat("x", truce.DefaultMaxDocBytes) + `"}`
	var cases []writeCase
	for _, tc := range []struct {
		name, body string
		code       truce.Code
	}{
		{"not JSON", `{"a":`, truce.CodeInvalidJSON},
		{"empty", ``, truce.CodeInvalidJSON},
		{"two values", `{} {}`, truce.CodeInvalidJSON},
		{"duplicate keys", `{"a":1,"a":2}`, truce.CodeInvalidJSON},
		{"too deep", `{"a":` + deep + `}`, truce.CodeInvalidJSON},
		{"a number out of range", `{"a":1e999}`, truce.CodeInvalidJSON},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", truce.CodeInvalidJSON},
		{"an array", `[1]`, truce.CodeInvalidDocument},
		{"a string", `"x"`, truce.CodeInvalidDocument},
		{"_version 0", `{"_version":0}`, truce.CodeInvalidPrecondition},
		{"_version a string", `{"_version":"3"}`, truce.CodeInvalidPrecondition},
		{"over MaxDocBytes", big, truce.CodeTooLarge},
	} {
		cases = append(cases,
			writeCase{name: "put " + tc.name, write: put("notes", "x", tc.body, none), code: tc.code},
			writeCase{name: "create " + tc.name, write: create("notes", tc.body), code: tc.code})
	}
	cases = append(cases, writeCase{name: "a patch that makes it too large",
		setup: func(t *testing.T, svc *truce.Service) { mustPut(t, svc, "other", "x", `{}`) },
		write: mergePatch("other", "x", big, none), code: truce.CodeTooLarge})
	runWrites(t, nil, cases)
}

// TestETagsNeverReused: every state of a document has its own ETag, for
// all time, though its body and version repeat across deletes and drops
// of its collection.
func TestETagsNeverReused(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	seen := map[string]string{}
	record := func(d *truce.Document) {
		t.Helper()
		state := string(d.JSON())
		if prev, ok := seen[d.ETag()]; ok && prev != state {
			t.Fatalf("ETag %s reused for a different state:\n%s\n%s", d.ETag(), prev, state)
		}
		seen[d.ETag()] = state
	}
	for range 3 {
		record(mustPut(t, svc, "notes", "n1", `{"same":true}`))
		record(mustPut(t, svc, "notes", "n1", `{"same":true}`))
		record(mustDelete(t, svc, "notes", "n1"))
		record(mustPut(t, svc, "notes", "n1", `{"same":true}`))
		if err := svc.DeleteCollection(ctx, "notes", true); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 12 {
		t.Fatalf("%d distinct ETags for 12 states", len(seen))
	}
}
