package merge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/trucedb/truce/merge"
)

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     string
	}{
		{"equal", `{"a":1,"b":[1,2],"c":{"d":null}}`, `{"a":1,"b":[1,2],"c":{"d":null}}`, `[]`},
		{"key order", `{"a":1,"b":{"x":true,"y":"s"}}`, ` {"b":{"y":"s","x":true},"a":1} `, `[]`},
		{"equal numbers", `{"a":1,"b":[1.50],"c":-0}`, `{"a":1.0,"b":[15e-1],"c":0}`, `[]`},
		{"equal strings", `{"a":"A\/<"}`, `{"a":"\u0041/\u003c"}`, `[]`},
		{"empty objects", `{}`, `{}`, `[]`},
		{"add", `{"a":1}`, `{"a":1,"b":{"c":[1]}}`, `[{"op":"add","path":"/b","value":{"c":[1]}}]`},
		{"remove", `{"a":1,"b":2}`, `{"a":1}`, `[{"op":"remove","path":"/b"}]`},
		{"replace scalar", `{"a":1}`, `{"a":2}`, `[{"op":"replace","path":"/a","value":2}]`},
		{
			"sorted ops",
			`{"z":1,"m":2,"a":3}`,
			`{"y":1,"m":3,"b":4}`,
			`[{"op":"remove","path":"/a"},{"op":"add","path":"/b","value":4},` +
				`{"op":"replace","path":"/m","value":3},{"op":"add","path":"/y","value":1},{"op":"remove","path":"/z"}]`,
		},
		{
			"nested",
			`{"a":{"b":{"c":1,"d":[{"e":"x"}]}}}`,
			`{"a":{"b":{"c":1,"d":[{"e":"y","f":false}]}}}`,
			`[{"op":"replace","path":"/a/b/d/0/e","value":"y"},{"op":"add","path":"/a/b/d/0/f","value":false}]`,
		},
		{
			"escaping",
			`{"a/b":1,"m~n":1,"~1":{"/":1}}`,
			`{"a/b":2,"m~n":2,"~1":{"/":2}}`,
			`[{"op":"replace","path":"/a~1b","value":2},{"op":"replace","path":"/m~0n","value":2},` +
				`{"op":"replace","path":"/~01/~1","value":2}]`,
		},
		{"empty name leaf", `{"":1}`, `{"":2}`, `[{"op":"replace","path":"/","value":2}]`},
		{"empty name container", `{"":{"a":1,"b":1}}`, `{"":{"a":1,"b":2}}`, `[{"op":"replace","path":"/","value":{"a":1,"b":2}}]`},
		{"empty name equal", `{"":{"a":1}}`, `{"":{"a":1.0}}`, `[]`},
		{"array same length", `[1,[2,3],{"a":4}]`, `[1,[2,5],{"a":4,"b":6}]`, `[{"op":"replace","path":"/1/1","value":5},{"op":"add","path":"/2/b","value":6}]`},
		{"array longer", `{"a":[1,2]}`, `{"a":[1,2,3]}`, `[{"op":"replace","path":"/a","value":[1,2,3]}]`},
		{"array shorter", `{"a":[1,2]}`, `{"a":[]}`, `[{"op":"replace","path":"/a","value":[]}]`},
		{"array to object", `{"a":[]}`, `{"a":{}}`, `[{"op":"replace","path":"/a","value":{}}]`},
		{"number to string", `{"a":1}`, `{"a":"1"}`, `[{"op":"replace","path":"/a","value":"1"}]`},
		{"bool to null", `{"a":true}`, `{"a":null}`, `[{"op":"replace","path":"/a","value":null}]`},
		{"null to object", `{"a":null}`, `{"a":{"b":null}}`, `[{"op":"replace","path":"/a","value":{"b":null}}]`},
		{"add null", `{}`, `{"a":null}`, `[{"op":"add","path":"/a","value":null}]`},
		{"remove null", `{"a":null}`, `{}`, `[{"op":"remove","path":"/a"}]`},
		{"null equal", `null`, `null`, `[]`},
		{"root object to array", `{"a":1}`, `[1]`, `[{"op":"replace","path":"","value":[1]}]`},
		{"root scalar", `1`, `"x"`, `[{"op":"replace","path":"","value":"x"}]`},
		{"root arrays", `[1]`, `[1,2]`, `[{"op":"replace","path":"","value":[1,2]}]`},
		{"root to null", `{"a":1}`, `null`, `[{"op":"replace","path":"","value":null}]`},
		{"number text kept", `{"a":1}`, `{"a":12345678901234567890,"b":1.50E+2}`, `[{"op":"replace","path":"/a","value":12345678901234567890},{"op":"add","path":"/b","value":1.50E+2}]`},
		{"big integers differ", `[12345678901234567890]`, `[12345678901234567891]`, `[{"op":"replace","path":"/0","value":12345678901234567891}]`},
		{"no html escaping", `{"a":"x"}`, `{"a":"<&>"}`, `[{"op":"replace","path":"/a","value":"<&>"}]`},
		{"values sorted", `{}`, `{"a":{"z":1,"b":2}}`, `[{"op":"add","path":"/a","value":{"b":2,"z":1}}]`},
		{"duplicate names", `{"a":1,"a":2}`, `{"a":2}`, `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := merge.Diff([]byte(tt.from), []byte(tt.to))
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Diff(%s, %s) (-want +got):\n%s", tt.from, tt.to, diff)
			}
			checkPatch(t, []byte(tt.from), []byte(tt.to), got)
		})
	}
}

func TestDiffInvalid(t *testing.T) {
	valid := []byte(`{}`)
	for _, bad := range []string{``, ` `, `{`, `{"a":}`, `1 2`, `{} x`, `nul`, `[1,]`, `01`, `"\x"`} {
		if _, err := merge.Diff([]byte(bad), valid); !errors.Is(err, merge.ErrInvalidJSON) {
			t.Errorf("Diff(%q, {}) error = %v, want ErrInvalidJSON", bad, err)
		}
		if _, err := merge.Diff(valid, []byte(bad)); !errors.Is(err, merge.ErrInvalidJSON) {
			t.Errorf("Diff({}, %q) error = %v, want ErrInvalidJSON", bad, err)
		}
		if _, err := merge.Equal([]byte(bad), valid); !errors.Is(err, merge.ErrInvalidJSON) {
			t.Errorf("Equal(%q, {}) error = %v, want ErrInvalidJSON", bad, err)
		}
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, true},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`[1,2]`, `[2,1]`, false},
		{`[]`, `{}`, false},
		{`null`, `false`, false},
		{`""`, `null`, false},
		{`"a"`, `"\u0061"`, true},
		{`1`, `1.0`, true},
		{`1`, `"1"`, false},
		{`100`, `1e2`, true},
		{`100`, `1E+2`, true},
		{`0.001`, `1e-3`, true},
		{`0.001`, `10e-4`, true},
		{`-1.5`, `-15e-1`, true},
		{`-1.5`, `1.5`, false},
		{`0`, `-0.0e10`, true},
		{`0.1`, `0.10000000000000001`, false}, // equal as float64, not as decimals
		{`12345678901234567890`, `12345678901234567891`, false},
		{`12345678901234567890`, `1234567890123456789e1`, true},
		{`1e999999999999999999999`, `10e999999999999999999998`, true},
		{`1e999999999999999999999`, `1e999999999999999999998`, false},
		{`1e-400`, `0`, false},
		{`{"x":[1,{"y":2.0}]}`, `{"x":[1.0,{"y":2}]}`, true},
	}
	for _, tt := range tests {
		got, err := merge.Equal([]byte(tt.a), []byte(tt.b))
		if err != nil {
			t.Fatalf("Equal(%s, %s): %v", tt.a, tt.b, err)
		}
		if got != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if back, _ := merge.Equal([]byte(tt.b), []byte(tt.a)); back != got {
			t.Errorf("Equal is not symmetric on %s, %s", tt.a, tt.b)
		}
	}
}

// TestDiffRandom checks, on random pairs of documents, that Diff's patch turns the first into
// the second when github.com/evanphx/json-patch/v5 applies it, and that Diff of two spellings of
// the same value is empty.
func TestDiffRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		a := genValue(rng, 4)
		var b any
		if rng.IntN(4) == 0 {
			b = genValue(rng, 4)
		} else {
			b = mutate(rng, a, 4)
		}
		if rng.IntN(4) != 0 { // mostly documents, as truce stores them
			a, b = map[string]any{"doc": a}, map[string]any{"doc": b}
		}
		aText, bText := write(rng, a), write(rng, b)
		patch, err := merge.Diff(aText, bText)
		if err != nil {
			t.Fatalf("case %d: Diff(%s, %s): %v", i, aText, bText, err)
		}
		checkPatch(t, aText, bText, patch)

		again := write(rng, a)
		if p, err := merge.Diff(aText, again); err != nil || string(p) != "[]" {
			t.Fatalf("case %d: Diff(%s, %s) = %s, %v; want []", i, aText, again, p, err)
		}
	}
}

// FuzzDiff checks, for any two valid JSON values, that Diff's patch applied to the first with
// github.com/evanphx/json-patch/v5 gives a value equal to the second.
func FuzzDiff(f *testing.F) {
	seeds := [][2]string{
		{`{}`, `{}`},
		{`{"a":1}`, `{"a":1.0,"b":[1,2,{"c":null}]}`},
		{`{"a/b":{"~":[1,2]}}`, `{"a/b":{"~":[1,3]}}`},
		{`{"":{"":1}}`, `{"":{"":2}}`},
		{`[1,"x",true,null]`, `[2,"y",false,{}]`},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567891}`},
		{`{"a":[1,2,3]}`, `{"a":[1,2]}`},
		{`1`, `{"a":1}`},
		{`{"a":1}`, `[1]`},
		{` {"a" : "\u00e9<>"} `, `{"a":"é<>","b":"\ud83d\ude00"}`},
		{`{"a":{"b":{"c":{"d":[[[]]]}}}}`, `{"a":{"b":{"c":{"d":[[[0]]]}}}}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if !json.Valid(a) || !json.Valid(b) || hasDuplicateNames(a) {
			t.Skip()
		}
		patch, err := merge.Diff(a, b)
		if err != nil {
			t.Fatalf("Diff(%s, %s): %v", a, b, err)
		}
		checkPatch(t, a, b, patch)
	})
}

// checkPatch fails t unless patch is a well-formed patch of add, remove and replace
// operations that turns from into a value equal to to.
func checkPatch(t *testing.T, from, to, patch []byte) {
	t.Helper()
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatalf("patch %s is not an array of operations: %v", patch, err)
	}
	if !bytes.HasPrefix(patch, []byte("[")) || !json.Valid(patch) {
		t.Fatalf("patch %s is not a compact JSON array", patch)
	}
	for _, op := range ops {
		var kind, path string
		_, hasValue := op["value"]
		if json.Unmarshal(op["op"], &kind) != nil || json.Unmarshal(op["path"], &path) != nil ||
			(kind == "remove") == hasValue || !slices.Contains([]string{"add", "remove", "replace"}, kind) ||
			(path == "" && (kind != "replace" || len(ops) != 1)) {
			t.Fatalf("patch %s has a malformed operation", patch)
		}
	}
	if again, err := merge.Diff(from, to); err != nil || !bytes.Equal(again, patch) {
		t.Fatalf("Diff is not deterministic: %s then %s (%v)", patch, again, err)
	}

	// json-patch only loads documents that are objects or arrays; an empty patch or a
	// whole-value replacement needs no library.
	var got []byte
	switch {
	case len(ops) == 0:
		got = from
	case bytes.Equal(ops[0]["path"], []byte(`""`)):
		got = ops[0]["value"]
	default:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			t.Fatalf("json-patch cannot decode %s: %v", patch, err)
		}
		// json-patch mistakes a nested array that follows a carriage return for an object.
		var compact bytes.Buffer
		if err := json.Compact(&compact, from); err != nil {
			t.Fatalf("compacting %s: %v", from, err)
		}
		got, err = p.Apply(compact.Bytes())
		if err != nil {
			t.Fatalf("applying %s to %s: %v", patch, from, err)
		}
	}
	eq, err := merge.Equal(got, to)
	if err != nil {
		t.Fatalf("Equal(%s, %s): %v", got, to, err)
	}
	if !eq {
		t.Fatalf("Diff(%s, %s) = %s, which gives %s", from, to, patch, got)
	}
}

// hasDuplicateNames reports whether some object in the valid JSON data repeats a member
// name. json-patch keeps both members and, after removing the name, writes the other as null,
// so the property does not hold for such documents.
func hasDuplicateNames(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		names map[string]bool
		key   bool // the next string token is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false // io.EOF, or invalid, which the caller has ruled out
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if name, ok := tok.(string); ok && top != nil && top.names != nil && top.key {
			if top.names[name] {
				return true
			}
			top.names[name] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.names != nil {
			top.key = true // this token starts the member's value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		}
	}
}

// Random JSON values for TestDiffRandom: trees of map[string]any, []any, string, bool, nil
// and json.Number, chosen to hit the hard cases: names that need escaping, the empty name,
// numbers spelled several ways, large integers, HTML characters.

var (
	names   = []string{"a", "b", "c", "", "~", "/", "~1", "~0/", "-", "0", "a/b", "é", "<&>"}
	strs    = []string{"", "x", "y", "<tag>&", "é", "\u2028", "\"q\"", "a\\b"}
	numbers = []string{"0", "1", "-1", "2.5", "1e3", "12345678901234567890", "-0.001", "3.14159265358979323846264338327950288"}
)

func genValue(rng *rand.Rand, depth int) any {
	k := rng.IntN(8)
	if depth == 0 {
		k = rng.IntN(4)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return json.Number(numbers[rng.IntN(len(numbers))])
	case 3:
		return strs[rng.IntN(len(strs))]
	case 4, 5:
		a := make([]any, rng.IntN(4))
		for i := range a {
			a[i] = genValue(rng, depth-1)
		}
		return a
	default:
		m := map[string]any{}
		for range rng.IntN(5) {
			m[names[rng.IntN(len(names))]] = genValue(rng, depth-1)
		}
		return m
	}
}

// mutate returns a copy of v with a few random changes.
func mutate(rng *rand.Rand, v any, depth int) any {
	if rng.IntN(8) == 0 || depth == 0 {
		return genValue(rng, depth)
	}
	switch v := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, x := range v {
			switch rng.IntN(6) {
			case 0: // removed
			case 1, 2:
				m[k] = mutate(rng, x, depth-1)
			default:
				m[k] = x
			}
		}
		if rng.IntN(3) == 0 {
			m[names[rng.IntN(len(names))]] = genValue(rng, depth-1)
		}
		return m
	case []any:
		a := slices.Clone(v)
		for i := range a {
			if rng.IntN(3) == 0 {
				a[i] = mutate(rng, a[i], depth-1)
			}
		}
		switch rng.IntN(6) {
		case 0:
			a = append(a, genValue(rng, depth-1))
		case 1:
			if len(a) > 0 {
				a = a[1:]
			}
		}
		return a
	default:
		return genValue(rng, depth)
	}
}

// write encodes v as JSON text, choosing at random among equivalent spellings: member
// order, white space, number forms (1, 1.0, 10e-1, 1E0) and escaped strings.
func write(rng *rand.Rand, v any) []byte {
	var b strings.Builder
	writeTo(rng, &b, v)
	return []byte(b.String())
}

func writeTo(rng *rand.Rand, b *strings.Builder, v any) {
	space := func() {
		if rng.IntN(4) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "\r\n  "}[rng.IntN(4)])
		}
	}
	space()
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // then shuffle with rng, so the test is reproducible
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeTo(rng, b, k)
			b.WriteByte(':')
			writeTo(rng, b, v[k])
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			writeTo(rng, b, x)
		}
		b.WriteByte(']')
	case json.Number:
		b.WriteString(respell(rng, string(v)))
	case string:
		if rng.IntN(3) == 0 {
			b.WriteByte('"')
			for _, r := range v {
				if r < 0x10000 {
					fmt.Fprintf(b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
		} else {
			enc, _ := json.Marshal(v)
			b.Write(enc)
		}
	default:
		enc, _ := json.Marshal(v)
		b.Write(enc)
	}
	space()
}

// respell returns a number with the same value as s, often written differently.
func respell(rng *rand.Rand, s string) string {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.Atoi(s[i+1:])
	}
	switch rng.IntN(4) {
	case 0:
		if !strings.Contains(mant, ".") {
			mant += "."
		}
		return mant + "0e" + strconv.Itoa(exp)
	case 1:
		switch {
		case strings.Contains(mant, "."):
			return mant + "00E" + strconv.Itoa(exp)
		case strings.TrimPrefix(mant, "-") == "0":
			return mant + ".000"
		}
		return mant + "0E" + strconv.Itoa(exp-1)
	case 2:
		return mant + "e+" + strconv.Itoa(exp)
	default:
		return s
	}
}
