package truce

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzPatch applies any merge patch or JSON Patch to any document, the way
// PATCH does: compiling and applying either fail with a client error code
// (never internal) or give a JSON object that the body rules accept; a
// merge patch is idempotent (RFC 7396: applying it twice changes nothing
// more), and a JSON Patch whose every op is a test passes or fails as a
// whole without changing the document.
func FuzzPatch(f *testing.F) {
	seeds := []struct {
		merge      bool
		doc, patch string
	}{
		{true, `{"a":1}`, `{"a":2}`},
		{true, `{"a":{"b":1,"c":2}}`, `{"a":{"b":null}}`},
		{true, `{"a":[1,2]}`, `{"a":{"x":[]}}`},
		{true, `{}`, `{"_version":3}`},
		{true, `{"a":1}`, `[1]`},
		{true, `{"a":1}`, `{"a":`},
		{false, `{"a":1}`, `[{"op":"replace","path":"/a","value":2}]`},
		{false, `{"a":[1,2]}`, `[{"op":"add","path":"/a/-","value":3},{"op":"test","path":"/a/2","value":3}]`},
		{false, `{"a":1}`, `[{"op":"test","path":"/a","value":2}]`},
		{false, `{"a":{"b":1}}`, `[{"op":"move","from":"/a/b","path":"/c"}]`},
		{false, `{"a":1}`, `[{"op":"copy","from":"/a","path":"/a/b"}]`},
		{false, `{"a":1}`, `[{"op":"remove","path":""}]`},
		{false, `{"a":1}`, `[{"op":"replace","path":"/_id","value":"x"}]`},
		{false, `{"a~1b":1}`, `[{"op":"remove","path":"/a~1b"}]`},
		{false, `{"a":1}`, `{"op":"add"}`},
	}
	for _, s := range seeds {
		f.Add(s.merge, []byte(s.doc), []byte(s.patch))
	}
	f.Fuzz(func(t *testing.T, isMerge bool, doc, patch []byte) {
		pb, err := parseBody(doc)
		if err != nil {
			t.Skip() // the stored document is always a parsed body
		}
		typ := JSONPatch
		if isMerge {
			typ = MergePatch
		}
		apply, err := compilePatch(typ, patch)
		if err != nil {
			checkClientCode(t, "compile", patch, err)
			return
		}
		out, err := apply(pb.fields)
		if err != nil {
			checkClientCode(t, "apply", patch, err)
			return
		}
		res, err := parseBody(out)
		if err != nil {
			// A patch may make something that is not a document: Patch
			// answers invalid_patch (or the body rule's code) for that.
			checkClientCode(t, "result", out, err)
			return
		}
		if isMerge {
			again, err := apply(res.fields)
			if err != nil {
				t.Fatalf("merge patch %s applied to %s, not to its own result %s: %v", patch, pb.fields, res.fields, err)
			}
			if !jsonEqual(t, again, res.fields) {
				t.Fatalf("merge patch %s is not idempotent: %s then %s", patch, res.fields, again)
			}
			return
		}
		var ops []map[string]json.RawMessage
		if json.Unmarshal(patch, &ops) == nil && len(ops) > 0 {
			allTests := true
			for _, op := range ops {
				allTests = allTests && bytes.Equal(op["op"], []byte(`"test"`))
			}
			if allTests && !jsonEqual(t, res.fields, pb.fields) {
				t.Fatalf("a patch of only tests changed %s into %s", pb.fields, res.fields)
			}
		}
	})
}

func checkClientCode(t *testing.T, what string, input []byte, err error) {
	t.Helper()
	switch ErrorCode(err) {
	case CodeInvalidPatch, CodeInvalidJSON, CodePatchTestFailed, CodeReservedField, CodeInvalidDocument,
		CodeInvalidID, CodeInvalidPrecondition, CodeUnsupportedMediaType:
	default:
		t.Fatalf("%s %q: error with code %q: %v", what, input, ErrorCode(err), err)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		t.Fatalf("not JSON: %s or %s", a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
