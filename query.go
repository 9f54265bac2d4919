package truce

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// Query is a query of one collection's live documents (docs/api.md section 3):
// a filter, an order, a page size and the cursor of the page to read.
type Query struct {
	// Where maps dotted paths to a value (equality) or to an object of
	// operators ($eq $ne $lt $lte $gt $gte $in $nin $exists $prefix);
	// "$and" and "$or" take lists of such objects. Empty matches every
	// document.
	Where json.RawMessage `json:"where,omitempty"`
	// OrderBy lists the paths to sort by, all in the same direction.
	// Documents that tie are ordered by the rest of the key of the index
	// that serves the query, and last by id, in the same direction.
	OrderBy []OrderBy `json:"orderBy,omitempty"`
	// Limit is the page size: 1 to MaxPageSize, 0 for 100.
	Limit int `json:"limit,omitempty"`
	// After is the cursor of a previous page of the same query (Next).
	After string `json:"after,omitempty"`
	// Fields, when set, projects each document onto these paths; _id and
	// _version are always kept.
	Fields []string `json:"fields,omitempty"`
	// Scan allows a query that no index serves to examine the documents
	// themselves, up to Options.MaxScanDocs of them per page.
	Scan bool `json:"scan,omitempty"`
}

// OrderBy is one sort path of a query.
type OrderBy struct {
	// Field is the dotted path to sort by.
	Field string `json:"field"`
	// Desc sorts from the highest value down.
	Desc bool `json:"desc,omitempty"`
}

// The bounds of a query beyond those of Query's fields.
const (
	maxQueryConditions = 100
	maxInValues        = 1000
	maxQueryFields     = 100
)

// DecodeQuery parses the JSON body of a query strictly: unknown members
// and malformed values are CodeInvalidQuery errors whose Violations point at
// the offending part. The filter itself is checked by Service.Query.
func DecodeQuery(data []byte) (Query, error) {
	var q Query
	if len(bytes.TrimSpace(data)) == 0 {
		return q, nil
	}
	if err := checkJSON(data, 64); err != nil {
		return q, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		ptr := ""
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			ptr = "/" + strings.ReplaceAll(te.Field, ".", "/")
		} else if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
			ptr = "/" + strings.Trim(f, `"`)
		}
		return q, queryError(ptr, "the query: "+msg)
	}
	return q, nil
}

func asTypeError(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

// queryError is a CodeInvalidQuery error about the part of the query at
// the JSON Pointer ptr.
func queryError(ptr, msg string) *Error {
	detail := msg
	if ptr != "" {
		detail = ptr + ": " + msg
	}
	return &Error{Code: CodeInvalidQuery, Detail: detail, Violations: []Violation{{Pointer: ptr, Message: msg}}}
}

// pointerEscape escapes a member name for a JSON Pointer (RFC 6901).
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// cond is one node of a parsed filter.
type cond interface {
	match(v *docView) bool
}

type andCond []cond

func (a andCond) match(v *docView) bool {
	for _, c := range a {
		if !c.match(v) {
			return false
		}
	}
	return true
}

type orCond []cond

func (o orCond) match(v *docView) bool {
	for _, c := range o {
		if c.match(v) {
			return true
		}
	}
	return false
}

// fieldCond is one operator applied to one path. Values are compared by
// their collation encodings.
type fieldCond struct {
	path string
	op   string
	key  []byte   // the operand's encoding ($eq $ne and the ranges)
	keys [][]byte // $in and $nin
	str  string   // $prefix
	on   bool     // $exists
}

func (c *fieldCond) match(v *docView) bool {
	val, ok := v.get(c.path)
	if c.op == "$exists" {
		return ok == c.on
	}
	if c.op == "$prefix" {
		s, isStr := val.(string)
		return ok && isStr && strings.HasPrefix(s, c.str)
	}
	k := appendCollated(make([]byte, 0, 32), val, ok)
	switch c.op {
	case "$eq":
		return bytes.Equal(k, c.key)
	case "$ne":
		return !bytes.Equal(k, c.key)
	case "$in":
		return slices.ContainsFunc(c.keys, func(x []byte) bool { return bytes.Equal(k, x) })
	case "$nin":
		return !slices.ContainsFunc(c.keys, func(x []byte) bool { return bytes.Equal(k, x) })
	}
	// A range compares only values of the operand's type.
	if k[0] != c.key[0] {
		return false
	}
	cmp := bytes.Compare(k, c.key)
	switch c.op {
	case "$lt":
		return cmp < 0
	case "$lte":
		return cmp <= 0
	case "$gt":
		return cmp > 0
	default: // $gte
		return cmp >= 0
	}
}

// interval returns the keys of the values the condition selects, [lo, hi)
// over value encodings (hi nil: no bound), and whether an index can select
// exactly those: $ne, $in and $nin cannot.
func (c *fieldCond) interval() (lo, hi []byte, ok bool) {
	switch c.op {
	case "$eq":
		return c.key, successor(c.key), true
	case "$exists":
		if c.on {
			return []byte{tagMissing + 1}, nil, true
		}
		return []byte{tagMissing}, []byte{tagMissing + 1}, true
	case "$prefix":
		p := appendStringBody([]byte{tagString}, c.str)
		return p, successor(p), true
	case "$lt", "$lte", "$gt", "$gte":
		lo, hi = []byte{c.key[0]}, []byte{c.key[0] + 1}
		switch c.op {
		case "$lt":
			hi = c.key
		case "$lte":
			hi = successor(c.key)
		case "$gt":
			lo = successor(c.key)
		case "$gte":
			lo = c.key
		}
		return lo, hi, true
	}
	return nil, nil, false
}

// isPoint reports whether the condition selects one value.
func (c *fieldCond) isPoint() bool {
	return c.op == "$eq" || (c.op == "$exists" && !c.on)
}

// filter is a parsed where: its conditions, and the top-level conjunction
// the planner may serve with an index.
type filter struct {
	all   andCond
	terms []*fieldCond // the field conditions of the top-level conjunction
	other int          // the other terms of the conjunction ($or)
}

// parseWhere parses a where clause.
func parseWhere(raw json.RawMessage) (*filter, error) {
	f := &filter{}
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return f, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, queryError("/where", "where must be an object that maps paths to values or operators")
	}
	p := &whereParser{}
	conds, err := p.object(obj, "/where", f)
	if err != nil {
		return nil, err
	}
	f.all = conds
	return f, nil
}

type whereParser struct {
	n int
}

// object parses one where object, a conjunction. When top is not nil, its
// terms are the query's top-level conjunction.
func (p *whereParser) object(obj map[string]any, ptr string, top *filter) (andCond, error) {
	var out andCond
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kptr := ptr + "/" + pointerEscape(k)
		v := obj[k]
		switch k {
		case "$and", "$or":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, queryError(kptr, k+" takes a non-empty list of where objects")
			}
			var sub []cond
			for i, e := range list {
				eobj, ok := e.(map[string]any)
				eptr := kptr + "/" + itoa(int64(i))
				if !ok {
					return nil, queryError(eptr, k+" takes a list of where objects")
				}
				var t *filter
				if k == "$and" {
					t = top
				}
				c, err := p.object(eobj, eptr, t)
				if err != nil {
					return nil, err
				}
				sub = append(sub, c)
			}
			if k == "$and" {
				out = append(out, sub...)
			} else {
				out = append(out, orCond(sub))
				if top != nil {
					top.other++
				}
			}
			continue
		}
		if strings.HasPrefix(k, "$") {
			return nil, queryError(kptr, "unknown operator "+k+" where a path belongs; $and and $or are the only operators that take where objects")
		}
		if msg := checkPath(k); msg != "" {
			return nil, queryError(kptr, msg)
		}
		conds, err := p.field(k, v, kptr)
		if err != nil {
			return nil, err
		}
		for _, c := range conds {
			out = append(out, c)
			if top != nil {
				top.terms = append(top.terms, c)
			}
		}
	}
	return out, nil
}

// field parses the value of a path: a value to equal, or operators.
func (p *whereParser) field(path string, v any, ptr string) ([]*fieldCond, error) {
	ops, isObj := v.(map[string]any)
	nOps := 0
	for k := range ops {
		if strings.HasPrefix(k, "$") {
			nOps++
		}
	}
	if !isObj || nOps == 0 {
		if p.n++; p.n > maxQueryConditions {
			return nil, queryError(ptr, "a query has at most "+itoa(maxQueryConditions)+" conditions")
		}
		return []*fieldCond{p.cond(path, "$eq", v)}, nil
	}
	if nOps != len(ops) {
		return nil, queryError(ptr, "an object of operators cannot also hold fields; to match an object that has $ keys, use $eq")
	}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []*fieldCond
	for _, op := range keys {
		operand := ops[op]
		optr := ptr + "/" + pointerEscape(op)
		p.n++
		if p.n > maxQueryConditions {
			return nil, queryError(optr, "a query has at most "+itoa(maxQueryConditions)+" conditions")
		}
		switch op {
		case "$eq", "$ne", "$lt", "$lte", "$gt", "$gte":
			out = append(out, p.cond(path, op, operand))
		case "$in", "$nin":
			list, ok := operand.([]any)
			if !ok {
				return nil, queryError(optr, op+" takes a list of values")
			}
			if len(list) > maxInValues {
				return nil, queryError(optr, op+" takes at most "+itoa(maxInValues)+" values")
			}
			c := &fieldCond{path: path, op: op}
			for _, e := range list {
				c.keys = append(c.keys, appendCollated(nil, e, true))
			}
			if op == "$in" && len(list) == 1 {
				c = p.cond(path, "$eq", list[0])
			}
			out = append(out, c)
		case "$exists":
			b, ok := operand.(bool)
			if !ok {
				return nil, queryError(optr, "$exists takes true or false")
			}
			out = append(out, &fieldCond{path: path, op: op, on: b})
		case "$prefix":
			s, ok := operand.(string)
			if !ok {
				return nil, queryError(optr, "$prefix takes a string")
			}
			out = append(out, &fieldCond{path: path, op: op, str: s})
		default:
			return nil, queryError(optr, "unknown operator "+op+"; use $eq $ne $lt $lte $gt $gte $in $nin $exists $prefix")
		}
	}
	return out, nil
}

func (p *whereParser) cond(path, op string, v any) *fieldCond {
	return &fieldCond{path: path, op: op, key: appendCollated(nil, v, true)}
}
