package http_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// openConflict sets up collection col under the manual policy with document
// d at version 2 ({"title":"b","body":"x","n":1}) and a refused write based
// on version 1 ({"title":"c","body":"x","n":2}), and returns the conflict id.
// The refusal must be a 409 with conflictId and a Link to the conflict.
func openConflict(t *testing.T, c *client, col, id string) string {
	t.Helper()
	c.do("PUT", "/v1/collections/"+col, `{"conflictPolicy":"manual"}`)
	doc := "/v1/collections/" + col + "/docs/" + id
	c.do("PUT", doc, `{"title":"a","body":"x","n":1}`).want(t, 201, "")
	c.do("PUT", doc, `{"title":"b","body":"x","n":1,"_version":1}`).want(t, 200, "")
	r := c.do("PUT", doc, `{"title":"c","body":"x","n":2,"_version":1}`).want(t, 409, "merge_conflict")
	cid, _ := r.JSON(t)["conflictId"].(string)
	if cid == "" {
		t.Fatalf("no conflictId: %s", r.Body)
	}
	if got, want := r.Header.Get("Link"), "</v1/conflicts/"+cid+`>; rel="conflict"`; got != want {
		t.Fatalf("Link %q, want %q", got, want)
	}
	return cid
}

// TestConflictJSON: a recorded conflict as GET /v1/conflicts/{id} shows
// it: the user fields of base, current and proposed (null for a delete),
// the paths, and no closedAt or resolution while open; a mergeable write
// under manual answers with Truce-Merged; a resolution that deletes is
// 204; unknown conflicts are 404. (The rules are truce's
// TestManualPolicyRecordsConflict.)
func TestConflictJSON(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "notes", "d")
	doc := "/v1/collections/notes/docs/d"
	r := c.do("PUT", doc, `{"title":"a","body":"y","n":1,"_version":1}`).want(t, 200, "")
	if r.Header.Get("Truce-Merged") != "base=1, current=2" || r.JSON(t)["title"] != "b" {
		t.Fatalf("merge under manual: %s %v", r.Body, r.Header)
	}

	got := c.do("GET", "/v1/conflicts/"+cid, nil).want(t, 200, "").JSON(t)
	if got["id"] != cid || got["collection"] != "notes" || got["docId"] != "d" || got["status"] != "open" ||
		got["baseVersion"] != float64(1) || got["currentVersion"] != float64(2) || got["createdAt"] == nil {
		t.Fatalf("conflict %v", got)
	}
	for k, want := range map[string]string{"base": "a", "current": "b", "proposed": "c"} {
		if m := got[k].(map[string]any); m["title"] != want || m["_version"] != nil {
			t.Fatalf("%s = %v", k, m)
		}
	}
	paths := got["paths"].([]any)
	if len(paths) != 1 || paths[0].(map[string]any)["path"] != "/title" || paths[0].(map[string]any)["proposed"] != "c" {
		t.Fatalf("paths %v", paths)
	}
	if _, ok := got["closedAt"]; ok || got["resolution"] != nil {
		t.Fatalf("an open conflict is closed: %v", got)
	}
	c.do("GET", "/v1/conflicts/nope", nil).want(t, 404, "not_found")
	c.do("POST", "/v1/conflicts/nope/resolve", `{"strategy":"keep-current"}`, `If-Match: "1-1"`).want(t, 404, "not_found")
	c.do("POST", "/v1/conflicts/nope/dismiss", nil).want(t, 404, "not_found")

	r = c.do("DELETE", doc+"?version=1", nil).want(t, 409, "merge_conflict")
	del := c.do("GET", "/v1/conflicts/"+r.JSON(t)["conflictId"].(string), nil).want(t, 200, "").JSON(t)
	if p, ok := del["proposed"]; !ok || p != nil {
		t.Fatalf("proposed delete %v", del)
	}
	etag := c.do("GET", doc, nil).Header.Get("ETag")
	c.do("POST", "/v1/conflicts/"+del["id"].(string)+"/resolve", `{"strategy":"take-proposed"}`, "If-Match: "+etag).want(t, 204, "")
	c.do("GET", doc, nil).want(t, 404, "not_found")
}

// TestConflictTimes: a conflict's createdAt and closedAt are in
// truce.TimeLayout, three decimals, as every time the server writes, even
// when the milliseconds end in zero (encoding/json would write .12).
func TestConflictTimes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.UTC)
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := truce.NewService(store, truce.Options{Now: func() time.Time { return at }})
	srv := httptest.NewServer(checked(t, trucehttp.NewHandler(svc, trucehttp.Options{})))
	t.Cleanup(func() { srv.Close(); store.Close() })
	c := &client{tb: t, base: srv.URL, hc: srv.Client()}

	const want = "2026-01-02T03:04:05.120Z"
	cid := openConflict(t, c, "notes", "d")
	if got := c.do("GET", "/v1/conflicts/"+cid, nil).want(t, 200, "").JSON(t)["createdAt"]; got != want {
		t.Errorf("createdAt %v, want %s", got, want)
	}
	items, _ := c.do("GET", "/v1/conflicts", nil).want(t, 200, "").JSON(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["createdAt"] != want {
		t.Errorf("listed: %v", items)
	}
	got := c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 200, "").JSON(t)
	if got["createdAt"] != want || got["closedAt"] != want {
		t.Errorf("dismissed: createdAt %v, closedAt %v, want %s", got["createdAt"], got["closedAt"], want)
	}
	r := c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 409, "conflict_closed")
	if !strings.Contains(string(r.Body), "dismissed at "+want) {
		t.Errorf("closed conflict: %s", r.Body)
	}
}

// TestListConflicts: the query parameters of GET /v1/conflicts reach the
// filter and the page, the cursor is the last id or null; unknown or
// malformed parameters are 400. (Filtering is truce's TestListConflicts.)
func TestListConflicts(t *testing.T) {
	c := mustServe(t)
	a1 := openConflict(t, c, "a", "x")
	b1 := openConflict(t, c, "b", "x")
	a2 := openConflict(t, c, "a", "y")
	c.do("POST", "/v1/conflicts/"+a1+"/dismiss", nil).want(t, 200, "")

	list := func(q string) ([]string, any) {
		t.Helper()
		r := c.do("GET", "/v1/conflicts"+q, nil).want(t, 200, "")
		var page struct {
			Items []struct{ ID string }
			Next  any
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		return ids, page.Next
	}
	for q, want := range map[string][]string{
		"":                               {a1, b1, a2},
		"?collection=a&id=y&status=open": {a2},
		"?id=x":                          {a1, b1},
		"?status=resolved":               {},
	} {
		got, next := list(q)
		if strings.Join(got, ",") != strings.Join(want, ",") || next != nil {
			t.Errorf("GET /v1/conflicts%s = %v next %v, want %v", q, got, next, want)
		}
	}
	got, next := list("?limit=2")
	if strings.Join(got, ",") != a1+","+b1 || next != b1 {
		t.Fatalf("page 1: %v next %v", got, next)
	}
	got, next = list("?limit=2&after=" + b1)
	if strings.Join(got, ",") != a2 || next != nil {
		t.Fatalf("page 2: %v next %v", got, next)
	}
	c.do("GET", "/v1/conflicts?status=bogus", nil).want(t, 400, "invalid_parameter")
	c.do("GET", "/v1/conflicts?limit=0", nil).want(t, 400, "invalid_parameter")
	c.do("GET", "/v1/conflicts?colection=a", nil).want(t, 400, "invalid_parameter")
	// A name that cannot be a collection or an id is a malformed filter, as
	// on the change feed, not a filter that matches nothing.
	c.do("GET", "/v1/conflicts?collection=Bad%20Name", nil).want(t, 400, "invalid_collection")
	c.do("GET", "/v1/conflicts?collection=orders&id=a%20b", nil).want(t, 400, "invalid_id")
	for _, q := range []string{"?limit=1001", "?limit=100000", "?limit=0"} {
		p := c.do("GET", "/v1/conflicts"+q, nil).want(t, 400, "invalid_parameter").JSON(t)
		if sent := strings.TrimPrefix(q, "?limit="); !strings.HasSuffix(p["detail"].(string), "not "+sent) {
			t.Errorf("GET /v1/conflicts%s: detail %q does not name the limit sent", q, p["detail"])
		}
	}
}

// TestResolveAndDismiss: a resolution without If-Match is 428, with a
// stale one 412 carrying the current document, and with the current one
// 200 with the new version and a Link to the conflict, which shows its
// resolution; a closed conflict is 409 conflict_closed; a dismissal
// answers with the dismissed conflict; the body is read strictly.
// (The strategies and their rules are truce's TestResolveStrategies,
// TestResolveRefusals and TestDismissConflict.)
func TestResolveAndDismiss(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "s", "d")
	doc := "/v1/collections/s/docs/d"
	cur := c.do("PATCH", doc, `{"extra":true}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
	body := `{"strategy":"custom","document":{"title":"mine"}}`
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", body).want(t, 428, "precondition_required")
	p := c.do("POST", "/v1/conflicts/"+cid+"/resolve", body, `If-Match: "2-1"`).want(t, 412, "precondition_failed").JSON(t)
	if p["current"].(map[string]any)["version"] != float64(3) {
		t.Fatalf("412 without the current document: %v", p)
	}
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"merge","extra":1}`, "If-Match: "+cur.Header.Get("ETag")).want(t, 400, "invalid_json")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"nope"}`, "If-Match: "+cur.Header.Get("ETag")).want(t, 400, "invalid_document")
	r := c.do("POST", "/v1/conflicts/"+cid+"/resolve", body, "If-Match: "+cur.Header.Get("ETag")).want(t, 200, "")
	if r.Header.Get("Link") != "</v1/conflicts/"+cid+`>; rel="conflict"` || r.Header.Get("ETag") == "" {
		t.Fatalf("headers %v", r.Header)
	}
	if got := r.JSON(t); got["_version"] != float64(4) || got["title"] != "mine" || got["extra"] != nil {
		t.Fatalf("resolution %s", r.Body)
	}
	cf := c.do("GET", "/v1/conflicts/"+cid, nil).JSON(t)
	res, _ := cf["resolution"].(map[string]any)
	if cf["status"] != "resolved" || cf["closedAt"] == nil || res["strategy"] != "custom" || res["version"] != float64(4) {
		t.Fatalf("resolved conflict %v", cf)
	}
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", body, "If-Match: "+r.Header.Get("ETag")).want(t, 409, "conflict_closed")
	c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 409, "conflict_closed")

	cid = openConflict(t, c, "notes", "d")
	dr := c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 200, "").JSON(t)
	if dr["status"] != "dismissed" || dr["closedAt"] == nil || dr["resolution"] != nil {
		t.Fatalf("dismissed %v", dr)
	}
	c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 409, "conflict_closed")
}

// TestManualConflictIdempotent: retrying a refused manual-policy write with
// its Idempotency-Key replays the 409 with the same conflict and Link, and
// records no second conflict.
func TestManualConflictIdempotent(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/notes", `{"conflictPolicy":"manual"}`).want(t, 201, "")
	doc := "/v1/collections/notes/docs/d"
	c.do("PUT", doc, `{"t":"a"}`).want(t, 201, "")
	c.do("PUT", doc, `{"t":"b","_version":1}`).want(t, 200, "")
	first := c.do("PUT", doc, `{"t":"c","_version":1}`, "Idempotency-Key: k1").want(t, 409, "merge_conflict")
	again := c.do("PUT", doc, `{"t":"c","_version":1}`, "Idempotency-Key: k1").want(t, 409, "merge_conflict")
	cid := first.JSON(t)["conflictId"]
	if again.JSON(t)["conflictId"] != cid || again.Header.Get("Link") != first.Header.Get("Link") || first.Header.Get("Link") == "" {
		t.Fatalf("replay: %s %v / %s %v", first.Body, first.Header, again.Body, again.Header)
	}
	if n := len(c.do("GET", "/v1/conflicts", nil).JSON(t)["items"].([]any)); n != 1 {
		t.Fatalf("%d conflicts, want 1", n)
	}
}
