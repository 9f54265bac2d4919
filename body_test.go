package truce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseBody(t *testing.T) {
	pb, err := parseBody([]byte(` { "b" : [1, 2.50, {"x": null}], "_id": "n1", "_version": 7, "_createdAt": "x", "a": "\u00e9" } `))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(pb.fields); got != `{"b":[1,2.50,{"x":null}],"a":"é"}` {
		t.Errorf("fields %s", got)
	}
	if pb.id != "n1" || !pb.hasID || pb.version != 7 {
		t.Errorf("got %+v", pb)
	}
	for in, code := range map[string]Code{
		`{"a":1,"a":2}`:                     CodeInvalidJSON,
		`{"a":1e400}`:                       CodeInvalidJSON,
		`{"a":-1e400}`:                      CodeInvalidJSON,
		`{"a":` + strings.Repeat("[", 70):   CodeInvalidJSON,
		`{} x`:                              CodeInvalidJSON,
		`[]`:                                CodeInvalidDocument,
		`null`:                              CodeInvalidDocument,
		`{"_deleted":true}`:                 CodeReservedField,
		`{"_x":1}`:                          CodeReservedField,
		`{"_id":1}`:                         CodeInvalidID,
		`{"_id":"a/b"}`:                     CodeInvalidID,
		`{"_version":1.5}`:                  CodeInvalidPrecondition,
		`{"_version":-1}`:                   CodeInvalidPrecondition,
		`{"_version":99999999999999999999}`: CodeInvalidPrecondition,
	} {
		if _, err := parseBody([]byte(in)); ErrorCode(err) != code {
			t.Errorf("parseBody(%.40s) = %v, want %s", in, err, code)
		}
	}
}

func FuzzParseBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"_id":"x","_version":2}`, `{"a":{"b":[1,{"c":null}]}}`, `{"a":1,"a":1}`, `[`, `{"_x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, err := parseBody(data)
		if err != nil {
			if ErrorCode(err) == CodeInternal {
				t.Fatalf("internal error for %q: %v", data, err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(pb.fields, &m); err != nil {
			t.Fatalf("accepted %q but produced invalid %q: %v", data, pb.fields, err)
		}
		for k := range m {
			if strings.HasPrefix(k, "_") {
				t.Fatalf("reserved field %q kept", k)
			}
		}
		// Parsing the output again is the identity.
		again, err := parseBody(pb.fields)
		if err != nil || string(again.fields) != string(pb.fields) {
			t.Fatalf("not idempotent: %q -> %q (%v)", pb.fields, again.fields, err)
		}
	})
}

func TestValidNames(t *testing.T) {
	for id, ok := range map[string]bool{"a": true, "A.b_c~d:e@f-g": true, "": false, ".": false, "..": false, "...": true,
		"a/b": false, "a b": false, "é": false, strings.Repeat("x", 255): true, strings.Repeat("x", 256): false} {
		if ValidID(id) != ok {
			t.Errorf("ValidID(%q) != %v", id, ok)
		}
	}
	for n, ok := range map[string]bool{"a": true, "0a_-": true, "_a": false, "-a": false, "A": false, "": false,
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false} {
		if ValidCollectionName(n) != ok {
			t.Errorf("ValidCollectionName(%q) != %v", n, ok)
		}
	}
}

// FuzzParsePlainBody checks that parseBody's fast path, wherever it
// answers, answers exactly as the token-by-token path would.
func FuzzParsePlainBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` { "a" : [ 1 , 2 ] , "b" : { } } `, `{"_id":"x","_version":2,"a":"é"}`,
		`{"a":{"b":[1,{"c":null}]}}`, `{"a":1,"a":1}`, `{"a":1e999}`, `{"a":-0.5e-3,"b":123456789012345678901234}`,
		`{"a":"<&> \u2028"}`, `{"_x":1}`, `{"a":1} x`, `{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.IndexByte(data, '\\') >= 0 {
			return
		}
		orig := bytes.Clone(data)
		plain, ok, perr := parsePlainBody(data)
		if !bytes.Equal(data, orig) {
			t.Fatalf("the fast path changed its input %q to %q", orig, data)
		}
		if !ok {
			return
		}
		tokens, terr := parseBodyTokens(data)
		if fmt.Sprint(perr) != fmt.Sprint(terr) {
			t.Fatalf("%q: fast path error %v, token path %v", data, perr, terr)
		}
		if perr == nil && (string(plain.fields) != string(tokens.fields) || plain.id != tokens.id || plain.hasID != tokens.hasID || plain.version != tokens.version) {
			t.Fatalf("%q: fast path %+v (%s), token path %+v (%s)", data, plain, plain.fields, tokens, tokens.fields)
		}
	})
}

func TestParsePlainBodyDefersWhatItCannotJudge(t *testing.T) {
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	for _, s := range []string{`[]`, `{"a":1e999}`, `{"a":` + deep + `}`, `{"a":1,"a":2}`, `{"a":1} {}`, `{"a":tru}`, `{"a":"x` + "\x01" + `"}`} {
		if _, ok, err := parsePlainBody([]byte(s)); ok {
			t.Errorf("%.50s: fast path answered (%v); want it to defer to the token path", s, err)
		}
		if _, err := parseBody([]byte(s)); err == nil {
			t.Errorf("%.50s: accepted", s)
		}
	}
	ok := `{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`
	if pb, answered, err := parsePlainBody([]byte(ok)); !answered || err != nil || string(pb.fields) != ok {
		t.Errorf("nesting at the limit: %s, %v, %v", pb.fields, answered, err)
	}
}

// BenchmarkParseBody parses a ~1 KiB document through parseBody (the fast
// path, as it has no backslash) and through the token path.
func BenchmarkParseBody(b *testing.B) {
	doc := []byte(`{"title":"benchmark document","tags":["a","b","c"],"n":0,"text":"` + strings.Repeat("lorem ipsum ", 78) + `","nested":{"x":1.5,"y":[true,false,null]}}`)
	for _, bc := range []struct {
		name  string
		parse func([]byte) (parsedBody, error)
	}{{"parseBody", parseBody}, {"tokens", parseBodyTokens}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := bc.parse(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
