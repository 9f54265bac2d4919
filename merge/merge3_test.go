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

// absent marks, in the table below, a side on which the conflicting path does not exist.
const absent = ""

type wantConflict struct{ path, base, current, proposed string }

func TestMerge3(t *testing.T) {
	tests := []struct {
		name                    string
		base, current, proposed string
		want                    string
		conflicts               []wantConflict
	}{
		{"all equal", `{"a":1}`, `{"a":1}`, `{"a":1}`, `{"a":1}`, nil},
		{"only current", `{"a":1,"b":2}`, `{"a":5,"b":2}`, `{"a":1,"b":2}`, `{"a":5,"b":2}`, nil},
		{"only proposed", `{"a":1,"b":2}`, `{"a":1,"b":2}`, `{"a":1,"b":7}`, `{"a":1,"b":7}`, nil},
		{"disjoint changes", `{"a":1,"b":2}`, `{"a":5,"b":2}`, `{"a":1,"b":7}`, `{"a":5,"b":7}`, nil},
		{"same change", `{"a":1}`, `{"a":2}`, `{"a":2.0}`, `{"a":2}`, nil},
		{"same change keeps current text", `{"a":1}`, `{"a":2.00}`, `{"a":2}`, `{"a":2.00}`, nil},
		{"respelled base is unchanged", `{"a":1,"b":1}`, `{"a":1.0,"b":1}`, `{"a":1,"b":3}`, `{"a":1,"b":3}`, nil},
		{"respelled side is kept", `{"a":1,"b":1,"c":1}`, `{"a":1.0,"b":2,"c":1}`, `{"a":1,"b":1,"c":3}`, `{"a":1.0,"b":2,"c":3}`, nil},
		{"add on one side", `{}`, `{}`, `{"n":{"x":[1]}}`, `{"n":{"x":[1]}}`, nil},
		{"adds on both sides", `{}`, `{"c":1}`, `{"p":2}`, `{"c":1,"p":2}`, nil},
		{"same add", `{}`, `{"n":{"x":1}}`, `{"n":{"x":1}}`, `{"n":{"x":1}}`, nil},
		{"delete on one side", `{"a":1,"b":2}`, `{"a":1,"b":2}`, `{"a":1}`, `{"a":1}`, nil},
		{"delete on both sides", `{"a":1,"b":2}`, `{"a":1}`, `{"a":1}`, `{"a":1}`, nil},
		{"delete and unrelated change", `{"a":1,"b":2}`, `{"b":3}`, `{"a":1,"b":2,"c":4}`, `{"b":3,"c":4}`, nil},
		{
			"nested disjoint",
			`{"u":{"name":"ann","addr":{"city":"x","zip":"1"}},"v":1}`,
			`{"u":{"name":"bob","addr":{"city":"x","zip":"1"}},"v":1}`,
			`{"u":{"name":"ann","addr":{"city":"y","zip":"1"}},"v":2}`,
			`{"u":{"addr":{"city":"y","zip":"1"},"name":"bob"},"v":2}`,
			nil,
		},
		{
			"modify modify",
			`{"a":1,"b":1}`, `{"a":2,"b":1}`, `{"a":3,"b":5}`,
			`{"a":2,"b":5}`,
			[]wantConflict{{"/a", `1`, `2`, `3`}},
		},
		{
			"delete modify",
			`{"a":{"x":1},"b":1}`, `{"b":1}`, `{"a":{"x":2},"b":1}`,
			`{"b":1}`,
			[]wantConflict{{"/a", `{"x":1}`, absent, `{"x":2}`}},
		},
		{
			"modify delete",
			`{"a":{"x":1},"b":1}`, `{"a":{"x":1,"y":2},"b":1}`, `{"b":2}`,
			`{"a":{"x":1,"y":2},"b":2}`,
			[]wantConflict{{"/a", `{"x":1}`, `{"x":1,"y":2}`, absent}},
		},
		{
			"add add",
			`{}`, `{"n":{"x":1}}`, `{"n":{"y":2}}`,
			`{"n":{"x":1}}`,
			[]wantConflict{{"/n", absent, `{"x":1}`, `{"y":2}`}},
		},
		{
			"null is not absent",
			`{"a":1}`, `{"a":null}`, `{}`,
			`{"a":null}`,
			[]wantConflict{{"/a", `1`, `null`, absent}},
		},
		{
			"type change",
			`{"a":{"x":1}}`, `{"a":[1]}`, `{"a":{"x":2}}`,
			`{"a":[1]}`,
			[]wantConflict{{"/a", `{"x":1}`, `[1]`, `{"x":2}`}},
		},
		{"type change on one side", `{"a":{"x":1}}`, `{"a":"s"}`, `{"a":{"x":1}}`, `{"a":"s"}`, nil},
		{
			"arrays are values",
			`{"l":[1,2,3]}`, `{"l":[9,2,3]}`, `{"l":[1,2,9]}`,
			`{"l":[9,2,3]}`,
			[]wantConflict{{"/l", `[1,2,3]`, `[9,2,3]`, `[1,2,9]`}},
		},
		{
			"objects in arrays are values",
			`[{"a":1,"b":1}]`, `[{"a":2,"b":1}]`, `[{"a":1,"b":2}]`,
			`[{"a":2,"b":1}]`,
			[]wantConflict{{"", `[{"a":1,"b":1}]`, `[{"a":2,"b":1}]`, `[{"a":1,"b":2}]`}},
		},
		{"array one side", `{"l":[1]}`, `{"l":[1]}`, `{"l":[1,2]}`, `{"l":[1,2]}`, nil},
		{"array same change", `{"l":[1]}`, `{"l":[1,2]}`, `{"l":[1.0,2e0]}`, `{"l":[1,2]}`, nil},
		{
			"several conflicts sorted",
			`{"z":1,"a":{"m":1,"b":1},"q":1}`, `{"z":2,"a":{"m":2,"b":2},"q":2}`, `{"z":3,"a":{"m":3,"b":1},"q":2}`,
			`{"a":{"b":2,"m":2},"q":2,"z":2}`,
			[]wantConflict{{"/a/m", `1`, `2`, `3`}, {"/z", `1`, `2`, `3`}},
		},
		{
			"escaped paths",
			`{"a/b":{"m~n":1}}`, `{"a/b":{"m~n":2}}`, `{"a/b":{"m~n":3}}`,
			`{"a/b":{"m~n":2}}`,
			[]wantConflict{{"/a~1b/m~0n", `1`, `2`, `3`}},
		},
		{
			"empty name merges",
			`{"":{"a":1,"b":1}}`, `{"":{"a":2,"b":1}}`, `{"":{"a":1,"b":2}}`,
			`{"":{"a":2,"b":2}}`, nil,
		},
		{
			"empty name conflict",
			`{"":{"":1}}`, `{"":{"":2}}`, `{"":{"":3}}`,
			`{"":{"":2}}`,
			[]wantConflict{{"//", `1`, `2`, `3`}},
		},
		{
			"root scalars",
			`1`, `2`, `3`, `2`,
			[]wantConflict{{"", `1`, `2`, `3`}},
		},
		{"root one side", `1`, `1`, `{"a":1}`, `{"a":1}`, nil},
		{
			"root type change",
			`{"a":1}`, `{"a":2}`, `[1]`, `{"a":2}`,
			[]wantConflict{{"", `{"a":1}`, `{"a":2}`, `[1]`}},
		},
		{
			"values encoded compactly",
			` { "a" : { "z" : 1 , "b" : "\u003c" } } `, `{"a":{"b":"<","z":1.50}}`, `{"a":{"z":"x","b":"<"}}`,
			`{"a":{"b":"<","z":1.50}}`,
			[]wantConflict{{"/a/z", `1`, `1.50`, `"x"`}},
		},
		{
			"big numbers keep text",
			`{"n":12345678901234567890,"m":1}`, `{"n":12345678901234567891,"m":1}`, `{"n":12345678901234567890,"m":1E+400}`,
			`{"m":1E+400,"n":12345678901234567891}`, nil,
		},
		{"sorted output", `{}`, `{"z":1,"b":{"y":1,"a":2}}`, `{"m":1}`, `{"b":{"a":2,"y":1},"m":1,"z":1}`, nil},
		{"duplicate names", `{"a":1,"a":2}`, `{"a":2}`, `{"a":2,"a":3}`, `{"a":3}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			merged, conflicts, err := merge.Merge3([]byte(tt.base), []byte(tt.current), []byte(tt.proposed))
			if err != nil {
				t.Fatalf("Merge3: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(merged)); diff != "" {
				t.Errorf("merged (-want +got):\n%s", diff)
			}
			var got []wantConflict
			for _, c := range conflicts {
				got = append(got, wantConflict{c.Path, string(c.Base), string(c.Current), string(c.Proposed)})
				for _, v := range []json.RawMessage{c.Base, c.Current, c.Proposed} {
					if v != nil && len(v) == 0 {
						t.Errorf("conflict %q has an empty, non-nil value", c.Path)
					}
				}
			}
			if diff := cmp.Diff(tt.conflicts, got, cmp.AllowUnexported(wantConflict{})); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
			checkMerge3(t, []byte(tt.base), []byte(tt.current), []byte(tt.proposed), true)
		})
	}
}

func TestMerge3Invalid(t *testing.T) {
	valid := []byte(`{}`)
	for _, bad := range []string{``, ` `, `{`, `{"a":}`, `1 2`, `{} x`, `nul`, `[1,]`, `01`, `"\x"`} {
		for i := range 3 {
			in := [][]byte{valid, valid, valid}
			in[i] = []byte(bad)
			merged, conflicts, err := merge.Merge3(in[0], in[1], in[2])
			if !errors.Is(err, merge.ErrInvalidJSON) || merged != nil || conflicts != nil {
				t.Errorf("Merge3 with %q as input %d = %s, %v, %v; want ErrInvalidJSON", bad, i, merged, conflicts, err)
			}
		}
	}
}

// TestMerge3Random checks Merge3's properties (see checkMerge3) on random triples of
// documents, where current and proposed are mostly random edits of base.
func TestMerge3Random(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 5000
	if testing.Short() {
		n = 500
	}
	var clean, conflicted, patched int
	for range n {
		b := genValue(rng, 4)
		edit := func() any {
			switch rng.IntN(8) {
			case 0:
				return genValue(rng, 4)
			case 1:
				return b
			}
			return mutate(rng, b, 4)
		}
		c, p := edit(), edit()
		if rng.IntN(4) != 0 { // mostly documents, as truce stores them
			b, c, p = map[string]any{"doc": b}, map[string]any{"doc": c}, map[string]any{"doc": p}
		}
		_, conflicts, checked := checkMerge3(t, write(rng, b), write(rng, c), write(rng, p), true)
		if len(conflicts) > 0 {
			conflicted++
		} else {
			clean++
		}
		if checked {
			patched++
		}
	}
	t.Logf("%d cases: %d without conflicts (%d checked against json-patch), %d with conflicts", n, clean, patched, conflicted)
	if clean < n/10 || conflicted < n/10 || patched < clean/2 {
		t.Errorf("the generator is unbalanced: %d clean, %d checked, %d conflicted", clean, patched, conflicted)
	}
}

// FuzzMerge3 checks, for any three inputs, that Merge3 does not panic, that it rejects
// exactly the invalid ones, and that on valid inputs it has the properties checkMerge3 checks.
func FuzzMerge3(f *testing.F) {
	seeds := [][3]string{
		{`{}`, `{}`, `{}`},
		{`{"a":1,"b":2}`, `{"a":5,"b":2}`, `{"a":1,"b":7}`},
		{`{"a":1}`, `{"a":2}`, `{"a":3}`},
		{`{"a":{"x":1}}`, `{}`, `{"a":{"x":2}}`},
		{`{"a":{"x":1}}`, `{"a":[1]}`, `{"a":{"x":1,"y":null}}`},
		{`{"l":[1,2,3]}`, `{"l":[9,2,3]}`, `{"l":[1,2]}`},
		{`{"":{"a":1,"b":1}}`, `{"":{"a":2,"b":1}}`, `{"":{"a":1,"b":2}}`},
		{`{"a/b":{"~":1}}`, `{"a/b":{"~":2.0}}`, `{"a/b":{"~":2}}`},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567891}`, `{"n":1.2345678901234567890e19}`},
		{`1`, `"x"`, `[1]`},
		{`null`, `{"a":null}`, `null`},
		{` {"a" : "\u00e9<>"} `, `{"a":"é<>","b":"\ud83d\ude00"}`, `{"a":"x"}`},
		{`{"a":1,"a":2}`, `{"a":2}`, `{"a":3}`},
		{`{"a":1}`, `{"a":`, `{}`},
		{`[`, `1`, `2 3`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]), []byte(s[2]))
	}
	f.Fuzz(func(t *testing.T, b, c, p []byte) {
		if !json.Valid(b) || !json.Valid(c) || !json.Valid(p) {
			if _, _, err := merge.Merge3(b, c, p); !errors.Is(err, merge.ErrInvalidJSON) {
				t.Fatalf("Merge3(%q, %q, %q) error = %v, want ErrInvalidJSON", b, c, p, err)
			}
			return
		}
		dup := hasDuplicateNames(b) || hasDuplicateNames(c) || hasDuplicateNames(p)
		checkMerge3(t, b, c, p, !dup)
	})
}

// checkMerge3 calls Merge3(b, c, p), which must succeed, and checks its properties:
//
//   - merged is compact, valid JSON, and Merge3 is deterministic;
//   - conflicts are sorted by path, unique, and each holds the three inputs' values at its
//     path, with merged holding current's value there;
//   - merging with an unchanged side gives the other side, without conflicts;
//   - swapping current and proposed gives the same conflict paths with the two sides swapped,
//     and, without conflicts, an equal merged value;
//   - without conflicts, Diff(b, c) applied to p and Diff(b, p) applied to c (with
//     github.com/evanphx/json-patch/v5) both give merged. This is checked only when withPatch
//     is set and the check is sound (see patchSound); checked reports whether it was made.
func checkMerge3(t *testing.T, b, c, p []byte, withPatch bool) (merged []byte, conflicts []merge.Conflict, checked bool) {
	t.Helper()
	merged, conflicts, err := merge.Merge3(b, c, p)
	if err != nil {
		t.Fatalf("Merge3(%s, %s, %s): %v", b, c, p, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, merged); err != nil || !bytes.Equal(compact.Bytes(), merged) {
		t.Fatalf("Merge3(%s, %s, %s) = %s, not compact JSON (%v)", b, c, p, merged, err)
	}
	if again, againC, _ := merge.Merge3(b, c, p); !bytes.Equal(again, merged) || !slices.EqualFunc(againC, conflicts, sameConflict) {
		t.Fatalf("Merge3(%s, %s, %s) is not deterministic", b, c, p)
	}

	bv, cv, pv, mv := decodeT(t, b), decodeT(t, c), decodeT(t, p), decodeT(t, merged)
	for i, cf := range conflicts {
		if i > 0 && conflicts[i-1].Path >= cf.Path {
			t.Fatalf("Merge3(%s, %s, %s): conflicts not sorted and unique: %q then %q", b, c, p, conflicts[i-1].Path, cf.Path)
		}
		for _, side := range []struct {
			name string
			doc  any
			got  json.RawMessage
		}{{"base", bv, cf.Base}, {"current", cv, cf.Current}, {"proposed", pv, cf.Proposed}, {"merged", mv, cf.Current}} {
			want, ok := lookup(side.doc, cf.Path)
			if ok != (side.got != nil) || ok && !equalT(t, want, side.got) {
				t.Fatalf("Merge3(%s, %s, %s): conflict at %q has %s %s, but the value there is %s (present %v)",
					b, c, p, cf.Path, side.name, side.got, want, ok)
			}
		}
		if equalT(t, cf.Current, cf.Proposed) || cf.Current == nil && cf.Proposed == nil {
			t.Fatalf("Merge3(%s, %s, %s): conflict at %q between equal values", b, c, p, cf.Path)
		}
	}

	for _, tc := range []struct {
		name          string
		b, c, p, want []byte
	}{
		{"Merge3(b, b, p)", b, b, p, p},
		{"Merge3(b, c, b)", b, c, b, c},
		{"Merge3(p, p, p)", p, p, p, p},
	} {
		got, cs, err := merge.Merge3(tc.b, tc.c, tc.p)
		if err != nil || len(cs) != 0 || !equalT(t, got, tc.want) {
			t.Fatalf("%s with b=%s c=%s p=%s = %s, %v, %v; want %s and no conflicts", tc.name, b, c, p, got, cs, err, tc.want)
		}
	}

	swapped, swappedC, err := merge.Merge3(b, p, c)
	if err != nil {
		t.Fatalf("Merge3(%s, %s, %s): %v", b, p, c, err)
	}
	mirror := make([]merge.Conflict, len(swappedC))
	for i, cf := range swappedC {
		mirror[i] = merge.Conflict{Path: cf.Path, Base: cf.Base, Current: cf.Proposed, Proposed: cf.Current}
	}
	if !slices.EqualFunc(mirror, conflicts, sameConflict) {
		t.Fatalf("conflicts are not symmetric for b=%s c=%s p=%s: %v, then swapped %v", b, c, p, conflicts, swappedC)
	}
	if len(conflicts) > 0 {
		return merged, conflicts, false
	}
	if !equalT(t, swapped, merged) {
		t.Fatalf("Merge3 is not symmetric without conflicts for b=%s c=%s p=%s: %s, then swapped %s", b, c, p, merged, swapped)
	}

	if !withPatch || !patchSound(bv, cv, pv) {
		return merged, conflicts, false
	}
	for _, pair := range [][2][]byte{{c, p}, {p, c}} {
		patch, err := merge.Diff(b, pair[0])
		if err != nil {
			t.Fatalf("Diff(%s, %s): %v", b, pair[0], err)
		}
		got := applyPatch(t, pair[1], patch)
		if !equalT(t, got, merged) {
			t.Fatalf("Merge3(%s, %s, %s) = %s, but Diff(base, %s) = %s applied to %s gives %s",
				b, c, p, merged, pair[0], patch, pair[1], got)
		}
	}
	return merged, conflicts, true
}

func sameConflict(x, y merge.Conflict) bool {
	return x.Path == y.Path && bytes.Equal(x.Base, y.Base) && bytes.Equal(x.Current, y.Current) &&
		bytes.Equal(x.Proposed, y.Proposed) && (x.Base == nil) == (y.Base == nil) &&
		(x.Current == nil) == (y.Current == nil) && (x.Proposed == nil) == (y.Proposed == nil)
}

// patchSound reports whether the json-patch property holds by construction for b, c and p:
// it does not where Merge3 merges inside a member named "", because Diff replaces such a
// member whole (see Diff), so one side's patch overwrites the other side's change there.
func patchSound(b, c, p any) bool {
	bo, ok1 := b.(map[string]any)
	co, ok2 := c.(map[string]any)
	po, ok3 := p.(map[string]any)
	if !ok1 || !ok2 || !ok3 {
		return true
	}
	for k, bv := range bo {
		cv, okc := co[k]
		pv, okp := po[k]
		if !okc || !okp {
			continue
		}
		if k == "" {
			_, ok1 := bv.(map[string]any)
			_, ok2 := cv.(map[string]any)
			_, ok3 := pv.(map[string]any)
			if ok1 && ok2 && ok3 && !same(bv, cv) && !same(bv, pv) && !same(cv, pv) {
				return false
			}
		}
		if !patchSound(bv, cv, pv) {
			return false
		}
	}
	return true
}

func same(x, y any) bool {
	a, err1 := json.Marshal(x)
	b, err2 := json.Marshal(y)
	eq, err3 := merge.Equal(a, b)
	return err1 == nil && err2 == nil && err3 == nil && eq
}

// applyPatch applies an RFC 6902 patch made by Diff to doc with json-patch, tolerating a
// remove of a member that is already gone (both sides deleted it).
func applyPatch(t *testing.T, doc, patch []byte) []byte {
	t.Helper()
	var ops []map[string]json.RawMessage
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	switch {
	case len(ops) == 0:
		return doc
	case bytes.Equal(ops[0]["path"], []byte(`""`)):
		return ops[0]["value"] // json-patch only loads objects and arrays
	}
	pt, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("json-patch cannot decode %s: %v", patch, err)
	}
	var compact bytes.Buffer // json-patch mistakes a nested array after a carriage return for an object
	if err := json.Compact(&compact, doc); err != nil {
		t.Fatalf("compacting %s: %v", doc, err)
	}
	opts := jsonpatch.NewApplyOptions()
	opts.AllowMissingPathOnRemove = true
	got, err := pt.ApplyWithOptions(compact.Bytes(), opts)
	if err != nil {
		t.Fatalf("applying %s to %s: %v", patch, doc, err)
	}
	return got
}

func decodeT(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

func equalT(t *testing.T, a any, b []byte) bool {
	t.Helper()
	var at []byte
	switch a := a.(type) {
	case []byte:
		at = a
	case json.RawMessage:
		at = a
	default:
		var err error
		if at, err = json.Marshal(a); err != nil {
			t.Fatalf("encoding %v: %v", a, err)
		}
	}
	if at == nil || b == nil {
		return false
	}
	eq, err := merge.Equal(at, b)
	if err != nil {
		t.Fatalf("Equal(%s, %s): %v", at, b, err)
	}
	return eq
}

// lookup resolves an RFC 6901 JSON Pointer in a decoded value.
func lookup(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, false
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func ExampleMerge3() {
	base := []byte(`{"title":"Draft","owner":{"name":"ann","team":"dev"},"tags":["a"],"n":1}`)
	current := []byte(`{"title":"Final","owner":{"name":"ann","team":"ops"},"tags":["a"],"n":1}`)
	proposed := []byte(`{"title":"Draft","owner":{"name":"bob","team":"qa"},"tags":["a","b"]}`)
	merged, conflicts, err := merge.Merge3(base, current, proposed)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(merged))
	for _, c := range conflicts {
		fmt.Printf("%s: base %s, current %s, proposed %s\n", c.Path, c.Base, c.Current, c.Proposed)
	}
	// Output:
	// {"owner":{"name":"bob","team":"ops"},"tags":["a","b"],"title":"Final"}
	// /owner/team: base "dev", current "ops", proposed "qa"
}
