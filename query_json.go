package truce

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// AppendJSON appends the page as the API answers it:
// {"items": [...], "next": cursor|null, "asOf": seq}, each item projected
// onto the query's fields when it named some.
func (p *QueryPage) AppendJSON(b []byte) []byte {
	b = append(b, `{"items":[`...)
	for i, d := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.appendItem(b, d)
	}
	b = append(b, `],"next":`...)
	if p.Next == "" {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, p.Next)
	}
	b = append(b, `,"asOf":`...)
	b = strconv.AppendInt(b, p.AsOf, 10)
	return append(b, '}')
}

// Item returns the JSON of the page's i-th document as the answer shows
// it, projected onto the query's fields.
func (p *QueryPage) Item(i int) []byte { return p.appendItem(nil, p.Items[i]) }

// projNode is one object of a projection, its members in the order the
// fields named them.
type projNode struct {
	keys []string
	vals map[string]any // a value, or a *projNode
}

func (n *projNode) set(segs []string, v any) {
	if n.vals == nil {
		n.vals = map[string]any{}
	}
	k := segs[0]
	if len(segs) == 1 {
		if _, ok := n.vals[k]; !ok {
			n.keys = append(n.keys, k)
		}
		n.vals[k] = v
		return
	}
	child, ok := n.vals[k].(*projNode)
	if !ok {
		if _, exists := n.vals[k]; exists {
			return // the whole value is already in
		}
		n.keys = append(n.keys, k)
		child = &projNode{}
		n.vals[k] = child
	}
	child.set(segs[1:], v)
}

func (n *projNode) append(b []byte) []byte {
	b = append(b, '{')
	for i, k := range n.keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if c, ok := n.vals[k].(*projNode); ok {
			b = c.append(b)
		} else {
			b = appendJSONValue(b, n.vals[k])
		}
	}
	return append(b, '}')
}

// appendItem appends one document, whole or projected: _id and _version,
// then each field the document has, nested as in the document.
func (p *QueryPage) appendItem(b []byte, d *Document) []byte {
	if len(p.fields) == 0 {
		return d.appendJSON(b, true)
	}
	b = d.appendIdentity(b, true)
	v := &docView{d: d}
	root := &projNode{}
	for _, f := range p.fields {
		if f == FieldID || f == FieldVersion || f == FieldETag {
			continue
		}
		if val, ok := v.get(f); ok {
			root.set(strings.Split(f, "."), val)
		}
	}
	if len(root.keys) == 0 {
		return append(b, '}')
	}
	b = append(b, ',')
	return append(b, root.append(nil)[1:]...)
}

// appendJSONValue appends v as JSON without escaping HTML characters, as
// the stored body has them.
func appendJSONValue(b []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return append(b, "null"...)
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
