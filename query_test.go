package truce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/trucedb/truce"
)

// queryIDs runs q to its last page and returns the ids in order.
func queryIDs(tb testing.TB, svc *truce.Service, collection string, q truce.Query) ([]string, error) {
	tb.Helper()
	ids := []string{}
	for range 1000 {
		page, err := svc.Query(context.Background(), collection, q)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Items {
			ids = append(ids, d.ID)
		}
		if page.Next == "" {
			return ids, nil
		}
		q.After = page.Next
	}
	tb.Fatal("too many pages")
	return nil, nil
}

func orders(spec ...string) []truce.OrderBy {
	var out []truce.OrderBy
	for _, s := range spec {
		f, desc := strings.CutPrefix(s, "-")
		out = append(out, truce.OrderBy{Field: f, Desc: desc})
	}
	return out
}

// TestQuery checks the operators, the collation, the orders and the
// planner's choices on a small collection, a page at a time.
func TestQuery(t *testing.T) {
	svc, _ := mustService(t)
	mustSettings(t, svc, "orders", truce.Settings{Indexes: [][]string{{"status", "total"}, {"email"}, {"n.v"}}})
	docs := map[string]string{
		"o1": `{"status":"open","total":10,"email":"ann@a.com","n":{"v":1}}`,
		"o2": `{"status":"open","total":50,"email":"bob@b.com","n":{"v":"x"}}`,
		"o3": `{"status":"open","total":99.5,"email":"anna@a.com"}`,
		"o4": `{"status":"closed","total":10,"n":{"v":null}}`,
		"o5": `{"status":"open","total":"10","n":{"v":[1]}}`,
		"o6": `{"status":"open","n":{"v":{"a":1}}}`,
		"o7": `{"total":5}`,
		"o8": `{"status":null,"total":-1,"n":{"v":false}}`,
		"o9": `{"status":"open","total":100}`,
	}
	for id, body := range docs {
		mustPut(t, svc, "orders", id, body)
	}
	mustDelete(t, svc, "orders", "o9") // a tombstone leaves the indexes
	cases := []struct {
		name  string
		where string
		order []truce.OrderBy
		scan  bool
		limit int
		want  []string
		code  truce.Code
	}{
		{name: "everything, in id order", want: []string{"o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"}},
		{name: "implicit equality, in the order of the index", where: `{"status":"open"}`, want: []string{"o6", "o1", "o2", "o3", "o5"}},
		{name: "equality then range", where: `{"status":"open","total":{"$gte":10,"$lt":100}}`, want: []string{"o1", "o2", "o3"}},
		{name: "a range compares numbers with numbers only", where: `{"status":"open","total":{"$gt":0}}`, want: []string{"o1", "o2", "o3"}},
		{name: "strings with strings", where: `{"status":"open","total":{"$gte":""}}`, want: []string{"o5"}},
		{name: "order by the range path, desc", where: `{"status":"open","total":{"$gte":10}}`, order: orders("-total"), want: []string{"o3", "o2", "o1"}},
		{name: "the collation orders types", where: `{"status":"open"}`, order: orders("total"), want: []string{"o6", "o1", "o2", "o3", "o5"}},
		{name: "the collation through an index", order: orders("n.v"), want: []string{"o3", "o7", "o4", "o8", "o1", "o2", "o5", "o6"}},
		{name: "an equality path in orderBy is constant", where: `{"status":"open"}`, order: orders("status", "total"), want: []string{"o6", "o1", "o2", "o3", "o5"}},
		{name: "$prefix", where: `{"email":{"$prefix":"ann"}}`, want: []string{"o1", "o3"}},
		{name: "$prefix orders by the string", where: `{"email":{"$prefix":"a"}}`, order: orders("-email"), want: []string{"o3", "o1"}},
		{name: "$exists false is the missing value", where: `{"email":{"$exists":false}}`, want: []string{"o4", "o5", "o6", "o7", "o8"}},
		{name: "$eq null is not missing", where: `{"status":null}`, want: []string{"o8"}},
		{name: "$in of one value is an equality", where: `{"status":{"$in":["closed"]}}`, want: []string{"o4"}},
		{name: "$eq on an object", where: `{"n.v":{"$eq":{"a":1}}}`, want: []string{"o6"}},
		{name: "an array value", where: `{"n.v":[1]}`, want: []string{"o5"}},
		{name: "1 and 1.0 are equal", where: `{"status":"open","total":10.0}`, want: []string{"o1"}},
		{name: "no index: index_required", where: `{"total":10}`, code: truce.CodeIndexRequired},
		{name: "$ne needs a scan", where: `{"status":{"$ne":"open"}}`, code: truce.CodeIndexRequired},
		{name: "$ne with scan", where: `{"status":{"$ne":"open"}}`, scan: true, want: []string{"o4", "o7", "o8"}},
		{name: "$nin with scan", where: `{"status":{"$nin":["open",null]}}`, scan: true, want: []string{"o4", "o7"}},
		{name: "$in with scan", where: `{"status":{"$in":["closed",null]}}`, scan: true, want: []string{"o4", "o8"}},
		{name: "$or with scan", where: `{"$or":[{"status":"closed"},{"total":5}]}`, scan: true, want: []string{"o4", "o7"}},
		{name: "$and", where: `{"$and":[{"status":"open"},{"total":{"$lt":20}}]}`, want: []string{"o1"}},
		{name: "a scan sorts", where: `{"total":{"$type":1}}`, code: truce.CodeInvalidQuery},
		{name: "a sorted scan breaks ties by id, in the same direction", order: orders("-total"), scan: true, want: []string{"o5", "o3", "o2", "o4", "o1", "o7", "o8", "o6"}},
		{name: "an order no index has", order: orders("total"), code: truce.CodeIndexRequired},
		{name: "_id desc needs an index", order: orders("-_id"), code: truce.CodeIndexRequired},
		{name: "_id asc is the primary order", order: orders("_id"), limit: 3, want: []string{"o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"}},
		{name: "a contradiction", where: `{"status":"open","total":{"$gt":50,"$lt":10}}`, want: []string{}},
		{name: "two equalities on one path", where: `{"$and":[{"status":"open"},{"status":"closed"}]}`, want: []string{}},
		{name: "_version", where: `{"status":"open","_version":1}`, scan: true, want: []string{"o6", "o1", "o2", "o3", "o5"}},
	}
	for _, c := range cases {
		for _, limit := range []int{c.limit, 1, 2} {
			ids, err := queryIDs(t, svc, "orders", truce.Query{Where: json.RawMessage(c.where), OrderBy: c.order, Scan: c.scan, Limit: limit})
			if !codeIs(t, c.name, err, c.code) || err != nil {
				break
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("%s (limit %d): got %v, want %v", c.name, limit, ids, c.want)
			}
		}
	}
}

// TestQueryCollation checks the order of every JSON type through an index
// and through a sorted scan, both ways.
func TestQueryCollation(t *testing.T) {
	svc, _ := mustService(t)
	values := []string{`missing`, `null`, `false`, `true`, `-1e300`, `-1`, `0`, `0.5`, `2`, `1e300`,
		`""`, `"A"`, `"a"`, `"a\u0000"`, `"ab"`, `"é"`, `[]`, `[null]`, `[1]`, `[1,2]`, `[2]`, `["a"]`, `{}`, `{"a":1}`, `{"a":2}`, `{"b":0}`}
	want := []string{}
	for i, v := range values {
		id := string(rune('a'+i/10)) + string(rune('0'+i%10))
		body := `{"v":` + v + `}`
		if v == "missing" {
			body = `{}`
		}
		mustPut(t, svc, "c", id, body)
		want = append(want, id)
	}
	reversed := slices.Clone(want)
	slices.Reverse(reversed)
	for _, desc := range []bool{false, true} {
		exp := want
		if desc {
			exp = reversed
		}
		got, err := queryIDs(t, svc, "c", truce.Query{OrderBy: []truce.OrderBy{{Field: "v", Desc: desc}}, Scan: true, Limit: 7})
		if err != nil || !slices.Equal(got, exp) {
			t.Errorf("sorted scan, desc=%v: %v, %v; want %v", desc, got, err, exp)
		}
	}
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"v"}}})
	if err := svc.BuildIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, desc := range []bool{false, true} {
		exp := want
		if desc {
			exp = reversed
		}
		got, err := queryIDs(t, svc, "c", truce.Query{OrderBy: []truce.OrderBy{{Field: "v", Desc: desc}}, Limit: 5})
		if err != nil || !slices.Equal(got, exp) {
			t.Errorf("index, desc=%v: %v, %v; want %v", desc, got, err, exp)
		}
	}
}

// TestQueryInvalid: every malformed query is CodeInvalidQuery, pointing at
// the offending part, and never an internal error.
func TestQueryInvalid(t *testing.T) {
	svc, _ := mustService(t)
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"a"}}})
	other, err := svc.Query(context.Background(), "c", truce.Query{Where: json.RawMessage(`{"a":1}`), Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, svc, "c", "x", `{"a":1}`)
	mustPut(t, svc, "c", "y", `{"a":1}`)
	page, err := svc.Query(context.Background(), "c", truce.Query{Where: json.RawMessage(`{"a":1}`), Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatal(page, err)
	}
	_ = other
	cases := []struct {
		name    string
		q       truce.Query
		pointer string
	}{
		{"unknown operator", truce.Query{Where: json.RawMessage(`{"a":{"$regex":"x"}}`)}, "/where/a/$regex"},
		{"unknown top-level operator", truce.Query{Where: json.RawMessage(`{"$not":{"a":1}}`)}, "/where/$not"},
		{"empty path segment", truce.Query{Where: json.RawMessage(`{"a..b":1}`)}, "/where/a..b"},
		{"reserved path", truce.Query{Where: json.RawMessage(`{"_secret":1}`)}, "/where/_secret"},
		{"$in takes a list", truce.Query{Where: json.RawMessage(`{"a":{"$in":"x"}}`)}, "/where/a/$in"},
		{"$exists takes a bool", truce.Query{Where: json.RawMessage(`{"a":{"$exists":1}}`)}, "/where/a/$exists"},
		{"$prefix takes a string", truce.Query{Where: json.RawMessage(`{"a":{"$prefix":1}}`)}, "/where/a/$prefix"},
		{"$or takes a list", truce.Query{Where: json.RawMessage(`{"$or":{"a":1}}`)}, "/where/$or"},
		{"$or of non-objects", truce.Query{Where: json.RawMessage(`{"$or":[1]}`)}, "/where/$or/0"},
		{"nested error", truce.Query{Where: json.RawMessage(`{"$and":[{"a":1},{"b":{"$bad":1}}]}`)}, "/where/$and/1/b/$bad"},
		{"operators mixed with fields", truce.Query{Where: json.RawMessage(`{"a":{"$gt":1,"b":2}}`)}, "/where/a"},
		{"where is not an object", truce.Query{Where: json.RawMessage(`[1]`)}, "/where"},
		{"limit", truce.Query{Limit: 1001}, "/limit"},
		{"negative limit", truce.Query{Limit: -1}, "/limit"},
		{"bad order path", truce.Query{OrderBy: orders("a..")}, "/orderBy/0/field"},
		{"mixed directions", truce.Query{OrderBy: orders("a", "-b")}, "/orderBy/1/desc"},
		{"bad field", truce.Query{Fields: []string{"a", ""}}, "/fields/1"},
		{"garbage cursor", truce.Query{After: "nope"}, "/after"},
		{"a cursor of another query", truce.Query{Where: json.RawMessage(`{"a":2}`), After: page.Next}, "/after"},
		{"a cursor of another order", truce.Query{Where: json.RawMessage(`{"a":1}`), OrderBy: orders("-a"), After: page.Next}, "/after"},
	}
	for _, c := range cases {
		_, err := svc.Query(context.Background(), "c", c.q)
		var te *truce.Error
		if !errors.As(err, &te) || te.Code != truce.CodeInvalidQuery {
			t.Errorf("%s: %v, want invalid_query", c.name, err)
			continue
		}
		if len(te.Violations) != 1 || te.Violations[0].Pointer != c.pointer {
			t.Errorf("%s: violations %+v, want pointer %s", c.name, te.Violations, c.pointer)
		}
	}
	for _, body := range []string{`{"where":{},"nope":1}`, `{"limit":"x"}`, `{"orderBy":"a"}`} {
		if _, err := truce.DecodeQuery([]byte(body)); truce.ErrorCode(err) != truce.CodeInvalidQuery {
			t.Errorf("DecodeQuery(%s): %v, want invalid_query", body, err)
		}
	}
	if _, err := svc.Query(context.Background(), "nope", truce.Query{}); truce.ErrorCode(err) != truce.CodeNotFound {
		t.Errorf("a missing collection: %v", err)
	}
}

// TestQueryAsOf: asOf is the snapshot's position in the change log, so the
// events after it are exactly the changes the page does not show.
func TestQueryAsOf(t *testing.T) {
	svc, store := mustService(t)
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"a"}}})
	mustPut(t, svc, "c", "x", `{"a":1}`)
	page, err := svc.Query(context.Background(), "c", truce.Query{Where: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if page.AsOf != lastSeq(t, store) {
		t.Errorf("asOf %d, last seq %d", page.AsOf, lastSeq(t, store))
	}
	mustPut(t, svc, "c", "y", `{"a":1}`)
	evs := events(t, store)
	var after []string
	for _, e := range evs {
		if e.Seq > page.AsOf {
			after = append(after, e.ID)
		}
	}
	if !slices.Equal(after, []string{"y"}) {
		t.Errorf("events after asOf: %v", after)
	}
}

// TestQueryProjection: fields keep _id and _version and the named paths,
// nested as in the document.
func TestQueryProjection(t *testing.T) {
	svc, _ := mustService(t)
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"a"}}})
	mustPut(t, svc, "c", "x", `{"a":1,"b":{"c":2,"d":3},"e":"<&>","big":12345678901234567890}`)
	page, err := svc.Query(context.Background(), "c", truce.Query{Where: json.RawMessage(`{"a":1}`),
		Fields: []string{"b.c", "e", "missing", "big", "_updatedAt", "_id"}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(page.Item(0), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["_updatedAt"]; !ok || got["_etag"] != page.Items[0].ETag() || len(got) != 7 {
		t.Errorf("projection: %s", page.Item(0))
	}
	if !strings.Contains(string(page.Item(0)), `"b":{"c":2}`) || !strings.Contains(string(page.Item(0)), `"e":"<&>"`) ||
		!strings.Contains(string(page.Item(0)), `"big":12345678901234567890`) || !strings.HasPrefix(string(page.Item(0)), `{"_id":"x","_version":1,"_etag":`) {
		t.Errorf("projection: %s", page.Item(0))
	}
	if string(page.Items[0].Body) != `{"a":1,"b":{"c":2,"d":3},"e":"<&>","big":12345678901234567890}` {
		t.Errorf("Items hold the whole document: %s", page.Items[0].Body)
	}
}

// TestQueryScanBound: a scan past Options.MaxScanDocs is refused.
func TestQueryScanBound(t *testing.T) {
	svc, store := mustService(t)
	svc = truce.NewService(store, truce.Options{MaxScanDocs: 10})
	for i := range 30 {
		mustPut(t, svc, "c", docID(i), `{"a":1}`)
	}
	if _, err := svc.Query(context.Background(), "c", truce.Query{Where: json.RawMessage(`{"a":2}`), Scan: true}); truce.ErrorCode(err) != truce.CodeScanTooLarge {
		t.Errorf("a scan past the bound: %v", err)
	}
	if _, err := svc.Query(context.Background(), "c", truce.Query{OrderBy: orders("a"), Scan: true}); truce.ErrorCode(err) != truce.CodeScanTooLarge {
		t.Errorf("a sort past the bound: %v", err)
	}
	if ids, err := queryIDs(t, svc, "c", truce.Query{Where: json.RawMessage(`{"a":1}`), Scan: true, Limit: 5}); err != nil || len(ids) != 30 {
		t.Errorf("pages that each examine less than the bound: %d, %v", len(ids), err)
	}
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"a"}}})
	if err := svc.BuildIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ids, err := queryIDs(t, svc, "c", truce.Query{Where: json.RawMessage(`{"a":1}`), Limit: 1000}); err != nil || len(ids) != 30 {
		t.Errorf("an index is not bounded: %d, %v", len(ids), err)
	}
}

// TestIndexSettings: indexes are validated.
func TestIndexSettings(t *testing.T) {
	for _, body := range []string{
		`{"indexes":[[]]}`,
		`{"indexes":[["a","a"]]}`,
		`{"indexes":[["a"],["a"]]}`,
		`{"indexes":[["a.."]]}`,
		`{"indexes":[["_secret"]]}`,
		`{"indexes":[["_id.x"]]}`,
		`{"indexes":[["a","b","c","d","e","f","g","h","i"]]}`,
		`{"indexes":[["1"],["2"],["3"],["4"],["5"],["6"],["7"],["8"],["9"],["10"],["11"],["12"],["13"],["14"],["15"],["16"],["17"]]}`,
		`{"indexBuilds":[]}`,
	} {
		if _, err := truce.DecodeSettings([]byte(body)); truce.ErrorCode(err) != truce.CodeInvalidSettings {
			t.Errorf("%s: %v, want invalid_settings", body, err)
		}
	}
	for _, body := range []string{`{"indexes":[["status","total"],["email"],["a.b.c"],["_updatedAt"],["_id"]]}`, `{"indexes":[]}`} {
		if _, err := truce.DecodeSettings([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func docID(i int) string { return fmt.Sprintf("d%04d", i) }

// TestCheckIndexes: the checker finds each way an index can disagree with
// the documents, and lets a build in progress lack what it has not reached.
func TestCheckIndexes(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	mustSettings(t, svc, "c", truce.Settings{Indexes: [][]string{{"k"}}})
	for i := range 3 {
		mustPut(t, svc, "c", docID(i), fmt.Sprintf(`{"k":%d}`, i))
	}
	if err := svc.CheckIndexes(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	var es []truce.IndexEntry
	if err := store.View(ctx, func(tx truce.ReadTx) error {
		var err error
		es, err = tx.IndexEntries("c", `["k"]`, nil, nil, false, 10)
		return err
	}); err != nil || len(es) != 3 {
		t.Fatal(es, err)
	}
	if err := store.Update(ctx, func(tx truce.Tx) error {
		if err := tx.DeleteIndexEntry("c", `["k"]`, es[0].Key); err != nil { // missing
			return err
		}
		if err := tx.PutIndexEntry("c", `["k"]`, append(es[1].Key, 'x'), es[1].ID); err != nil { // a second, stale
			return err
		}
		if err := tx.DeleteIndexEntry("c", `["k"]`, es[2].Key); err != nil {
			return err
		}
		stale := append(bytes.TrimSuffix(bytes.Clone(es[0].Key), []byte(es[0].ID)), es[2].ID...)
		if err := tx.PutIndexEntry("c", `["k"]`, stale, es[2].ID); err != nil { // d0002 under d0000's value
			return err
		}
		return tx.PutIndexEntry("c", `["k"]`, []byte("zz"), "gone") // not a document
	}); err != nil {
		t.Fatal(err)
	}
	err := svc.CheckIndexes(ctx, "c")
	for _, want := range []string{`no entry for "d0000"`, `more than one entry for "d0001"`, `the entry of "d0002" does not hold its current values`, `"gone", which is not a live document`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckIndexes: %v; want it to say %s", err, want)
		}
	}
	if err := svc.CheckIndexes(ctx, "nope"); truce.ErrorCode(err) != truce.CodeNotFound {
		t.Errorf("a missing collection: %v", err)
	}
	// A build that has not begun may lack every entry.
	mustSettings(t, svc, "b", truce.Settings{})
	mustPut(t, svc, "b", "x", `{"k":1}`)
	mustSettings(t, svc, "b", truce.Settings{Indexes: [][]string{{"k"}}})
	if err := svc.CheckIndexes(ctx, "b"); err != nil {
		t.Errorf("a build not begun: %v", err)
	}
}
