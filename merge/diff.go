package merge

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// Diff returns an RFC 6902 JSON Patch, as a compact JSON array, that turns the JSON value from
// into the JSON value to. Equal values (in the sense of Equal) give "[]". It returns an error
// wrapping ErrInvalidJSON if either input is not one valid JSON value.
//
// The patch uses only add, remove and replace, with RFC 6901 paths ("~" escaped as "~0", "/"
// as "~1"):
//
//   - objects are compared member by member: remove for a name only in from, add for a name
//     only in to, and the same comparison, recursively, for a name in both;
//   - arrays of the same length are compared element by element; arrays of different lengths
//     are replaced whole. This is simple and always correct, though not minimal: inserting
//     one element into a long array replaces the array;
//   - any other difference (a scalar that changed, or a change of type) is a replace of that
//     value, and a change at the root is a replace at path "".
//
// A member whose name is "" is replaced whole rather than recursed into, because
// github.com/evanphx/json-patch/v5, the patch library truce uses, reads an empty reference
// token in the middle of a path as the containing value itself.
//
// The output is deterministic: operations come depth first, object members in order of name
// and array elements in order of index. Values in the patch are encoded compactly with object
// members sorted by name and strings re-escaped; numbers keep their original text, so large or
// precise numbers (12345678901234567890, 0.1000) survive unchanged.
func Diff(from, to []byte) ([]byte, error) {
	x, err := decode("from", from)
	if err != nil {
		return nil, err
	}
	y, err := decode("to", to)
	if err != nil {
		return nil, err
	}
	d := differ{}
	d.buf.WriteByte('[')
	d.diff("", x, y)
	d.buf.WriteByte(']')
	return d.buf.Bytes(), nil
}

// differ accumulates the operations of one Diff.
type differ struct {
	buf bytes.Buffer
	ops int
}

func (d *differ) diff(path string, x, y any) {
	switch x := x.(type) {
	case map[string]any:
		if y, ok := y.(map[string]any); ok {
			d.diffObjects(path, x, y)
			return
		}
	case []any:
		if y, ok := y.([]any); ok && len(x) == len(y) {
			for i := range x {
				d.diff(path+"/"+strconv.Itoa(i), x[i], y[i])
			}
			return
		}
	}
	if !equal(x, y) {
		d.op("replace", path, y, true)
	}
}

func (d *differ) diffObjects(path string, x, y map[string]any) {
	keys := make([]string, 0, len(x)+len(y))
	for k := range x {
		keys = append(keys, k)
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := path + "/" + escape(k)
		xv, inX := x[k]
		yv, inY := y[k]
		switch {
		case !inY:
			d.op("remove", p, nil, false)
		case !inX:
			d.op("add", p, yv, true)
		case k == "":
			// See Diff's comment: never emit a path that goes through an empty name.
			if !equal(xv, yv) {
				d.op("replace", p, yv, true)
			}
		default:
			d.diff(p, xv, yv)
		}
	}
}

// op appends one operation.
func (d *differ) op(kind, path string, value any, withValue bool) {
	if d.ops > 0 {
		d.buf.WriteByte(',')
	}
	d.ops++
	d.buf.WriteString(`{"op":"` + kind + `","path":`)
	appendValue(&d.buf, path)
	if withValue {
		d.buf.WriteString(`,"value":`)
		appendValue(&d.buf, value)
	}
	d.buf.WriteByte('}')
}

// escape encodes an object member name as an RFC 6901 reference token.
func escape(name string) string {
	if !strings.ContainsAny(name, "~/") {
		return name
	}
	return pointerEscaper.Replace(name)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
