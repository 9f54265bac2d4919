package merge

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Conflict is one path both sides changed differently.
type Conflict struct {
	Path     string          // RFC 6901 JSON Pointer; "" is the whole value
	Base     json.RawMessage // nil when absent on that side
	Current  json.RawMessage
	Proposed json.RawMessage
}

// Merge3 merges proposed's changes (relative to base) into current: the three-way merge that
// lets a write made against an old version (base) land on the newest one (current). It returns
// an error wrapping ErrInvalidJSON if any input is not one valid JSON value.
//
// Values are compared as Equal compares them. At each path:
//
//   - if current and proposed are equal (both absent counts as equal), that is the result: no
//     change, or the same change made on both sides, is never a conflict;
//   - otherwise, if only one side differs from base, that side's change wins (a delete is a
//     change to absent, an add a change from absent);
//   - otherwise, if base, current and proposed are all objects, they merge member by member,
//     recursively;
//   - otherwise both sides changed the value differently, and that is one conflict at the
//     path: two different modifications, a delete against a modification, two different
//     adds, or a change of type on either side.
//
// Arrays are values: they are not merged element by element. An array changed on one side
// only takes that side's array; an array changed differently on both sides is one conflict at
// the array's path, even when the two sides touched different elements. (Merging by index is
// unsound once an element is inserted or removed, and JSON arrays carry no identity to merge
// by.) Likewise, two sides that each turn a non-object (or an absent member) into different
// objects conflict at that path rather than merging the new objects.
//
// When there are conflicts, merged is still returned: it holds the CURRENT value (or current's
// absence) at each conflicting path and every non-conflicting change of both sides elsewhere.
// Conflicts are sorted by path (byte order of the JSON Pointers), each with the three values
// at that path encoded as Diff encodes values, and nil for a side where the path is absent.
// With no conflicts, conflicts is nil.
//
// The merged document is compact JSON with object members sorted by name throughout (the
// same encoding as Diff's values: strings re-escaped, no HTML escaping); numbers keep their
// original text. Where current and proposed hold equal values spelled differently (1 and
// 1.0), current's spelling is kept; where one side is Equal to base, the other side's value
// is taken whole, with its spelling (so Merge3(b, b, p) is p, re-encoded).
func Merge3(base, current, proposed []byte) (merged []byte, conflicts []Conflict, err error) {
	b, err := decode("base", base)
	if err != nil {
		return nil, nil, err
	}
	c, err := decode("current", current)
	if err != nil {
		return nil, nil, err
	}
	p, err := decode("proposed", proposed)
	if err != nil {
		return nil, nil, err
	}
	m := merger{}
	v, _ := m.merge("", slot{b, true}, slot{c, true}, slot{p, true})
	var buf bytes.Buffer
	appendValue(&buf, v)
	slices.SortFunc(m.conflicts, func(x, y Conflict) int { return strings.Compare(x.Path, y.Path) })
	return buf.Bytes(), m.conflicts, nil
}

// slot is a decoded value that may be absent (an object member one side does not have).
type slot struct {
	v  any
	ok bool
}

func (s slot) same(t slot) bool {
	return s.ok == t.ok && (!s.ok || equal(s.v, t.v))
}

func (s slot) raw() json.RawMessage {
	if !s.ok {
		return nil
	}
	var buf bytes.Buffer
	appendValue(&buf, s.v)
	return buf.Bytes()
}

// merger accumulates the conflicts of one Merge3.
type merger struct {
	conflicts []Conflict
}

// merge returns the merged value at path and whether it is present.
func (m *merger) merge(path string, b, c, p slot) (any, bool) {
	switch {
	case c.same(p), b.same(p):
		return c.v, c.ok
	case b.same(c):
		return p.v, p.ok
	}
	if b.ok && c.ok && p.ok {
		bo, ok1 := b.v.(map[string]any)
		co, ok2 := c.v.(map[string]any)
		po, ok3 := p.v.(map[string]any)
		if ok1 && ok2 && ok3 {
			return m.mergeObjects(path, bo, co, po), true
		}
	}
	m.conflicts = append(m.conflicts, Conflict{Path: path, Base: b.raw(), Current: c.raw(), Proposed: p.raw()})
	return c.v, c.ok
}

func (m *merger) mergeObjects(path string, b, c, p map[string]any) map[string]any {
	out := make(map[string]any, len(c))
	seen := make(map[string]bool, len(b)+len(c)+len(p))
	for _, obj := range []map[string]any{b, c, p} {
		for k := range obj {
			if seen[k] {
				continue
			}
			seen[k] = true
			bv, bok := b[k]
			cv, cok := c[k]
			pv, pok := p[k]
			if v, ok := m.merge(path+"/"+escape(k), slot{bv, bok}, slot{cv, cok}, slot{pv, pok}); ok {
				out[k] = v
			}
		}
	}
	return out
}
