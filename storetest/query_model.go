package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/trucedb/truce"
)

// This file checks queries against a model: random documents, random
// queries, and every answer compared with a naive evaluation written apart
// from the Service's (its own collation, its own matching), with and
// without indexes, across pages, and while other goroutines write.

// modelRank orders JSON types as the collation does.
func modelRank(v any, ok bool) int {
	if !ok {
		return 0
	}
	switch v := v.(type) {
	case nil:
		return 1
	case bool:
		if v {
			return 3
		}
		return 2
	case float64:
		return 4
	case string:
		return 5
	case []any:
		return 6
	}
	return 7
}

func modelCompare(a any, aok bool, b any, bok bool) int {
	ra, rb := modelRank(a, aok), modelRank(b, bok)
	if ra != rb {
		return ra - rb
	}
	switch av := a.(type) {
	case float64:
		bv := b.(float64)
		switch {
		case av < bv:
			return -1
		case av > bv:
			return 1
		}
		return 0
	case string:
		return strings.Compare(av, b.(string))
	case []any:
		bv := b.([]any)
		for i := 0; i < len(av) && i < len(bv); i++ {
			if c := modelCompare(av[i], true, bv[i], true); c != 0 {
				return c
			}
		}
		return len(av) - len(bv)
	case map[string]any:
		bv := b.(map[string]any)
		ak, bk := slices.Sorted(mapKeys(av)), slices.Sorted(mapKeys(bv))
		for i := 0; i < len(ak) && i < len(bk); i++ {
			if c := strings.Compare(ak[i], bk[i]); c != 0 {
				return c
			}
			if c := modelCompare(av[ak[i]], true, bv[bk[i]], true); c != 0 {
				return c
			}
		}
		return len(ak) - len(bk)
	}
	return 0
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// modelDoc is a live document as the model keeps it.
type modelDoc struct {
	id      string
	version int64
	body    map[string]any
}

func (d *modelDoc) get(path string) (any, bool) {
	switch path {
	case "_id":
		return d.id, true
	case "_version":
		return float64(d.version), true
	}
	var cur any = d.body
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// modelMatch evaluates a where object as the README documents it.
func modelMatch(d *modelDoc, where map[string]any) bool {
	for k, v := range where {
		switch k {
		case "$and":
			for _, e := range v.([]any) {
				if !modelMatch(d, e.(map[string]any)) {
					return false
				}
			}
			continue
		case "$or":
			matched := false
			for _, e := range v.([]any) {
				if modelMatch(d, e.(map[string]any)) {
					matched = true
				}
			}
			if !matched {
				return false
			}
			continue
		}
		val, ok := d.get(k)
		ops, isOps := v.(map[string]any)
		if !isOps || !strings.HasPrefix(firstKey(ops), "$") {
			ops = map[string]any{"$eq": v}
		}
		for op, x := range ops {
			eq := func(x any) bool { return ok && modelCompare(val, true, x, true) == 0 }
			sameType := ok && modelRank(val, true) == modelRank(x, true)
			var m bool
			switch op {
			case "$eq":
				m = eq(x)
			case "$ne":
				m = !eq(x)
			case "$lt":
				m = sameType && modelCompare(val, true, x, true) < 0
			case "$lte":
				m = sameType && modelCompare(val, true, x, true) <= 0
			case "$gt":
				m = sameType && modelCompare(val, true, x, true) > 0
			case "$gte":
				m = sameType && modelCompare(val, true, x, true) >= 0
			case "$in":
				m = slices.ContainsFunc(x.([]any), eq)
			case "$nin":
				m = !slices.ContainsFunc(x.([]any), eq)
			case "$exists":
				m = ok == x.(bool)
			case "$prefix":
				s, isStr := val.(string)
				m = ok && isStr && strings.HasPrefix(s, x.(string))
			default:
				panic(op)
			}
			if !m {
				return false
			}
		}
	}
	return true
}

func firstKey(m map[string]any) string {
	for k := range m {
		return k
	}
	return ""
}

var (
	modelStatuses = []any{"open", "closed", "draft", nil, 1.0, true}
	modelEmails   = []string{"ann@a.com", "bob@b.com", "anna@a.com", "carl@c.org", "a"}
)

// randomBody returns a document body whose fields are sometimes missing
// and sometimes of an unexpected type.
func randomBody(r *rand.Rand) map[string]any {
	b := map[string]any{}
	if r.IntN(8) > 0 {
		b["status"] = modelStatuses[r.IntN(len(modelStatuses))]
	}
	switch r.IntN(10) {
	case 0:
	case 1:
		b["total"] = "n/a"
	case 2:
		b["total"] = float64(r.IntN(20)) + 0.5
	default:
		b["total"] = float64(r.IntN(20) - 3)
	}
	if r.IntN(4) > 0 {
		b["email"] = modelEmails[r.IntN(len(modelEmails))]
	}
	if r.IntN(3) > 0 {
		b["a"] = map[string]any{"b": float64(r.IntN(5))}
	} else if r.IntN(2) == 0 {
		b["a"] = "flat"
	}
	if r.IntN(3) == 0 {
		b["tags"] = []any{"x", float64(r.IntN(3))}
	}
	return b
}

func randomValue(r *rand.Rand) any {
	switch r.IntN(6) {
	case 0:
		return modelStatuses[r.IntN(len(modelStatuses))]
	case 1:
		return modelEmails[r.IntN(len(modelEmails))]
	case 2:
		return nil
	default:
		return float64(r.IntN(20) - 3)
	}
}

// randomWhere returns a where object; depth bounds $and/$or nesting.
func randomWhere(r *rand.Rand, depth int) map[string]any {
	w := map[string]any{}
	n := r.IntN(3)
	for range n {
		switch r.IntN(12) {
		case 0, 1, 2:
			w["status"] = modelStatuses[r.IntN(len(modelStatuses))]
		case 3, 4:
			w["total"] = randomRange(r)
		case 5:
			w["email"] = map[string]any{"$prefix": []string{"a", "ann", "b", "", "z"}[r.IntN(5)]}
		case 6:
			w["a.b"] = map[string]any{[]string{"$eq", "$ne", "$lt", "$gte"}[r.IntN(4)]: float64(r.IntN(5))}
		case 7:
			w["status"] = map[string]any{[]string{"$in", "$nin"}[r.IntN(2)]: []any{randomValue(r), randomValue(r)}}
		case 8:
			w[[]string{"email", "total", "a.b", "tags"}[r.IntN(4)]] = map[string]any{"$exists": r.IntN(2) == 0}
		case 9:
			w["total"] = map[string]any{"$ne": randomValue(r)}
		case 10:
			if depth > 0 {
				w[[]string{"$and", "$or"}[r.IntN(2)]] = []any{randomWhere(r, depth-1), randomWhere(r, depth-1)}
			}
		case 11:
			w["tags"] = []any{"x", float64(r.IntN(3))}
		}
	}
	return w
}

var modelOrders = [][]string{nil, {"total"}, {"status"}, {"a.b"}, {"_id"}, {"status", "total"}, {"email"}, {"_version"}}

var modelIndexes = [][]string{{"status", "total"}, {"total"}, {"a.b"}, {"email"}, {"status"}, {"_version"}}

type writeRecord struct {
	seq     int64
	id      string
	version int64
	body    map[string]any // nil: deleted
}

// model is the history of every write of the test, in seq order once
// sorted.
type model struct {
	collection string
	mu         sync.Mutex
	writes     []writeRecord // guarded by mu
}

func (m *model) record(d *truce.Document) {
	rec := writeRecord{seq: d.Seq, id: d.ID, version: d.Version}
	if !d.Deleted {
		if err := json.Unmarshal(d.Body, &rec.body); err != nil {
			panic(err)
		}
	}
	m.mu.Lock()
	m.writes = append(m.writes, rec)
	m.mu.Unlock()
}

// at returns the live documents as of seq.
func (m *model) at(seq int64) map[string]*modelDoc {
	m.mu.Lock()
	ws := slices.Clone(m.writes)
	m.mu.Unlock()
	sort.Slice(ws, func(i, j int) bool { return ws[i].seq < ws[j].seq })
	out := map[string]*modelDoc{}
	for _, w := range ws {
		if w.seq > seq {
			break
		}
		if w.body == nil {
			delete(out, w.id)
		} else {
			out[w.id] = &modelDoc{id: w.id, version: w.version, body: w.body}
		}
	}
	return out
}

// write puts a random body to one of ids documents, or deletes it, and
// records the outcome.
func (m *model) write(t *testing.T, svc *truce.Service, r *rand.Rand, ids int) {
	id := fmt.Sprintf("d%03d", r.IntN(ids))
	if r.IntN(6) == 0 {
		d, err := svc.Delete(t.Context(), m.collection, id, truce.Precondition{}, nil)
		if truce.ErrorCode(err) == truce.CodeNotFound {
			return
		}
		if err != nil {
			t.Error(err)
			return
		}
		m.record(d)
		return
	}
	body, _ := json.Marshal(randomBody(r))
	res, err := svc.Put(t.Context(), m.collection, id, body, truce.Precondition{}, nil)
	if err != nil {
		t.Error(err)
		return
	}
	m.record(res.Document)
}

// queryRun is every page of one query, to check once the writers stop.
type queryRun struct {
	q     truce.Query
	where map[string]any
	order []string
	desc  bool
	pages []*truce.QueryPage
	err   error
}

// randomRange returns range operators on numbers.
func randomRange(r *rand.Rand) map[string]any {
	lo := float64(r.IntN(20) - 3)
	ops := map[string]any{[]string{"$gt", "$gte"}[r.IntN(2)]: lo}
	if r.IntN(2) == 0 {
		ops[[]string{"$lt", "$lte"}[r.IntN(2)]] = lo + float64(r.IntN(10))
	}
	return ops
}

// servableQuery returns a where and order that an index of modelIndexes
// serves, the queries applications mostly send.
func servableQuery(r *rand.Rand) (map[string]any, []string) {
	switch r.IntN(5) {
	case 0:
		return map[string]any{"status": modelStatuses[r.IntN(len(modelStatuses))], "total": randomRange(r)}, []string{"total"}[:r.IntN(2)]
	case 1:
		return map[string]any{"total": randomRange(r)}, []string{"total"}[:r.IntN(2)]
	case 2:
		return map[string]any{"email": map[string]any{"$prefix": []string{"a", "ann", "b", ""}[r.IntN(4)]}}, []string{"email"}[:r.IntN(2)]
	case 3:
		return map[string]any{"a.b": randomRange(r)}, nil
	}
	return map[string]any{"status": modelStatuses[r.IntN(len(modelStatuses))]}, [][]string{nil, {"total"}, {"_id"}}[r.IntN(3)]
}

// runQuery runs a random query, page by page, to its end.
func runQuery(t *testing.T, svc *truce.Service, collection string, r *rand.Rand, indexed bool) *queryRun {
	run := &queryRun{}
	if r.IntN(2) == 0 {
		run.where, run.order = servableQuery(r)
	} else {
		run.where, run.order = randomWhere(r, 2), modelOrders[r.IntN(len(modelOrders))]
	}
	run.desc = r.IntN(3) == 0
	raw, _ := json.Marshal(run.where)
	run.q = truce.Query{Where: raw, Limit: 1 + r.IntN(15), Scan: !indexed || r.IntN(4) == 0}
	for _, o := range run.order {
		run.q.OrderBy = append(run.q.OrderBy, truce.OrderBy{Field: o, Desc: run.desc})
	}
	if r.IntN(5) == 0 {
		run.q.Fields = []string{"status", "a.b"}
	}
	for range 200 {
		page, err := svc.Query(t.Context(), collection, run.q)
		if indexed && !run.q.Scan && truce.ErrorCode(err) == truce.CodeIndexRequired {
			run.q.Scan = true // and try again: both ways are exercised
			continue
		}
		if err != nil {
			run.err = err
			return run
		}
		run.pages = append(run.pages, page)
		if page.Next == "" {
			return run
		}
		run.q.After = page.Next
	}
	run.err = fmt.Errorf("more than 200 pages")
	return run
}

// check compares a query's pages with the model: every item matched at
// its page's asOf and is that version; the items are in order; and every
// document that matched and did not change while the query ran is there,
// once.
func (run *queryRun) check(t *testing.T, m *model) {
	t.Helper()
	if run.err != nil {
		t.Errorf("query %s: %v", run.describe(), run.err)
		return
	}
	seen := map[string]int{}
	var prev *modelDoc
	for pi, page := range run.pages {
		state := m.at(page.AsOf)
		for i, d := range page.Items {
			md := state[d.ID]
			if md == nil || md.version != d.Version {
				t.Errorf("query %s page %d: item %s v%d is not live at that version at asOf %d", run.describe(), pi, d.ID, d.Version, page.AsOf)
				continue
			}
			if !modelMatch(md, run.where) {
				t.Errorf("query %s page %d: item %s does not match at asOf %d: %v", run.describe(), pi, d.ID, page.AsOf, md.body)
			}
			if len(run.q.Fields) > 0 {
				var got map[string]any
				_ = json.Unmarshal(page.Item(i), &got)
				if st, ok := md.get("status"); ok && modelCompare(got["status"], true, st, true) != 0 {
					t.Errorf("query %s: projected status of %s = %v, want %v", run.describe(), d.ID, got["status"], st)
				}
			}
			seen[d.ID]++
			if prev != nil {
				if c := run.compare(prev, md); c > 0 {
					t.Errorf("query %s: %s comes after %s, out of order", run.describe(), d.ID, prev.id)
				}
			}
			prev = md
		}
	}
	// The documents that did not change while the query ran are there
	// once if they match, and not at all if they do not. (One that changed
	// may move past the cursor and come twice, or not at all: cursors
	// follow keys, and the change feed from asOf tells of the change.)
	first, last := run.pages[0].AsOf, run.pages[len(run.pages)-1].AsOf
	start, end := m.at(first), m.at(last)
	for id, d := range start {
		e := end[id]
		if e == nil || e.version != d.version {
			continue
		}
		want := 0
		if modelMatch(d, run.where) {
			want = 1
		}
		if seen[id] != want {
			t.Errorf("query %s: %s did not change from asOf %d to %d, matches=%v, but was returned %d times", run.describe(), id, first, last, want == 1, seen[id])
		}
	}
}

// compare orders two documents by the query's orderBy paths only: ties
// may come in any order.
func (run *queryRun) compare(a, b *modelDoc) int {
	for _, o := range run.order {
		av, aok := a.get(o)
		bv, bok := b.get(o)
		if c := modelCompare(av, aok, bv, bok); c != 0 {
			if run.desc {
				return -c
			}
			return c
		}
	}
	return 0
}

func (run *queryRun) describe() string {
	b, _ := json.Marshal(run.q)
	return string(b)
}
