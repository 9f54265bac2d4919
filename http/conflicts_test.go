package http_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// openConflict sets up collection col under the manual policy with document
// d at version 2 ({"title":"b","body":"x","n":1}) and a refused write based
// on version 1 ({"title":"c","body":"x","n":2}), and returns the conflict id.
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

func TestManualPolicyRecordsConflict(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "notes", "d")
	doc := "/v1/collections/notes/docs/d"
	if v := c.do("GET", doc, nil).JSON(t)["_version"]; v != float64(2) {
		t.Fatalf("the refused write wrote: version %v", v)
	}
	// A mergeable stale write still merges under manual.
	r := c.do("PUT", doc, `{"title":"a","body":"y","n":1,"_version":1}`).want(t, 200, "")
	if r.Header.Get("Truce-Merged") != "base=1, current=2" || r.JSON(t)["title"] != "b" {
		t.Fatalf("merge under manual: %s %v", r.Body, r.Header)
	}

	got := c.do("GET", "/v1/conflicts/"+cid, nil).want(t, 200, "").JSON(t)
	if got["id"] != cid || got["collection"] != "notes" || got["docId"] != "d" || got["status"] != "open" ||
		got["baseVersion"] != float64(1) || got["currentVersion"] != float64(2) {
		t.Fatalf("conflict %v", got)
	}
	for k, want := range map[string]string{"base": "a", "current": "b", "proposed": "c"} {
		if m := got[k].(map[string]any); m["title"] != want || m["_version"] != nil {
			t.Fatalf("%s = %v", k, m)
		}
	}
	if got["proposed"].(map[string]any)["n"] != float64(2) {
		t.Fatalf("proposed %v", got["proposed"])
	}
	paths := got["paths"].([]any)
	if len(paths) != 1 || paths[0].(map[string]any)["path"] != "/title" || paths[0].(map[string]any)["proposed"] != "c" {
		t.Fatalf("paths %v", paths)
	}
	if got["closedAt"] != nil || got["resolution"] != nil {
		t.Fatalf("an open conflict is closed: %v", got)
	}
	c.do("GET", "/v1/conflicts/nope", nil).want(t, 404, "not_found")
	c.do("POST", "/v1/conflicts/nope/resolve", `{"strategy":"keep-current"}`, `If-Match: "1-1"`).want(t, 404, "not_found")
	c.do("POST", "/v1/conflicts/nope/dismiss", nil).want(t, 404, "not_found")

	// A delete against later changes is recorded too, with a null proposal.
	r = c.do("DELETE", doc+"?version=1", nil).want(t, 409, "merge_conflict")
	del := c.do("GET", "/v1/conflicts/"+r.JSON(t)["conflictId"].(string), nil).want(t, 200, "").JSON(t)
	if p, ok := del["proposed"]; !ok || p != nil {
		t.Fatalf("proposed delete %v", del)
	}
	// Taking a proposed delete deletes the document.
	etag := c.do("GET", doc, nil).Header.Get("ETag")
	c.do("POST", "/v1/conflicts/"+del["id"].(string)+"/resolve", `{"strategy":"take-proposed"}`, "If-Match: "+etag).want(t, 204, "")
	c.do("GET", doc, nil).want(t, 404, "not_found")
}

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
		"?collection=a":                  {a1, a2},
		"?collection=a&status=open":      {a2},
		"?status=dismissed":              {a1},
		"?id=x":                          {a1, b1},
		"?collection=b&id=x":             {b1},
		"?status=resolved":               {},
		"?collection=a&id=y&status=open": {a2},
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
}

func TestResolveStrategies(t *testing.T) {
	c := mustServe(t)
	for _, tc := range []struct {
		strategy, document string
		want               map[string]any
	}{
		{"keep-current", "", map[string]any{"title": "b", "n": float64(1)}},
		{"take-proposed", "", map[string]any{"title": "c", "n": float64(2)}},
		// merge: the changes of both sides, the proposed value on conflicting paths.
		{"merge", "", map[string]any{"title": "c", "n": float64(2), "extra": true}},
		{"custom", `{"title":"mine"}`, map[string]any{"title": "mine", "n": nil, "body": nil}},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			cid := openConflict(t, c, "s", tc.strategy)
			doc := "/v1/collections/s/docs/" + tc.strategy
			// A change made after the conflict (v3), which keep-current and merge keep.
			cur := c.do("PATCH", doc, `{"extra":true}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
			if tc.strategy == "custom" || tc.strategy == "take-proposed" {
				delete(tc.want, "extra")
			}
			body := `{"strategy":"` + tc.strategy + `"}`
			if tc.document != "" {
				body = `{"strategy":"` + tc.strategy + `","document":` + tc.document + `}`
			}
			c.do("POST", "/v1/conflicts/"+cid+"/resolve", body).want(t, 428, "precondition_required")
			p := c.do("POST", "/v1/conflicts/"+cid+"/resolve", body, `If-Match: "2-1"`).want(t, 412, "precondition_failed").JSON(t)
			if p["current"].(map[string]any)["version"] != float64(3) {
				t.Fatalf("412 without the current document: %v", p)
			}
			r := c.do("POST", "/v1/conflicts/"+cid+"/resolve", body, "If-Match: "+cur.Header.Get("ETag")).want(t, 200, "")
			if r.Header.Get("Link") != "</v1/conflicts/"+cid+`>; rel="conflict"` {
				t.Fatalf("Link %q", r.Header.Get("Link"))
			}
			got := r.JSON(t)
			if got["_version"] != float64(4) {
				t.Fatalf("resolution version %v", got["_version"])
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("%s: %s = %v, want %v (%s)", tc.strategy, k, got[k], v, r.Body)
				}
			}
			if c.do("GET", doc, nil).JSON(t)["_version"] != float64(4) {
				t.Fatal("resolution not visible")
			}
			hist := c.do("GET", doc+"/versions", nil).want(t, 200, "").JSON(t)["items"].([]any)
			if len(hist) != 4 {
				t.Fatalf("history has %d versions, want 4", len(hist))
			}
			cf := c.do("GET", "/v1/conflicts/"+cid, nil).JSON(t)
			res, _ := cf["resolution"].(map[string]any)
			if cf["status"] != "resolved" || cf["closedAt"] == nil || res["strategy"] != tc.strategy || res["version"] != float64(4) {
				t.Fatalf("resolved conflict %v", cf)
			}
			// A closed conflict is not resolved (or dismissed) again.
			c.do("POST", "/v1/conflicts/"+cid+"/resolve", body, "If-Match: "+r.Header.Get("ETag")).want(t, 409, "conflict_closed")
			c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 409, "conflict_closed")
		})
	}
	cid := openConflict(t, c, "s", "bad")
	etag := c.do("GET", "/v1/collections/s/docs/bad", nil).Header.Get("ETag")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"nope"}`, "If-Match: "+etag).want(t, 400, "invalid_document")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"custom"}`, "If-Match: "+etag).want(t, 400, "invalid_document")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"merge","extra":1}`, "If-Match: "+etag).want(t, 400, "invalid_json")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"custom","document":{"_id":"other"}}`, "If-Match: "+etag).want(t, 400, "invalid_id")
}

func TestResolveAppliesRules(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "u", "d")
	c.do("PUT", "/v1/collections/u", `{"conflictPolicy":"manual","unique":["title"]}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/u/docs/other", `{"title":"taken"}`).want(t, 201, "")
	etag := c.do("GET", "/v1/collections/u/docs/d", nil).Header.Get("ETag")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"custom","document":{"title":"taken"}}`, "If-Match: "+etag).want(t, 409, "unique_violation")
	if c.do("GET", "/v1/conflicts/"+cid, nil).JSON(t)["status"] != "open" {
		t.Fatal("a refused resolution closed the conflict")
	}
}

func TestDismissConflict(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "notes", "d")
	r := c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 200, "").JSON(t)
	if r["status"] != "dismissed" || r["closedAt"] == nil || r["resolution"] != nil {
		t.Fatalf("dismissed %v", r)
	}
	if v := c.do("GET", "/v1/collections/notes/docs/d", nil).JSON(t)["_version"]; v != float64(2) {
		t.Fatalf("dismiss wrote: version %v", v)
	}
	c.do("POST", "/v1/conflicts/"+cid+"/dismiss", nil).want(t, 409, "conflict_closed")
	etag := c.do("GET", "/v1/collections/notes/docs/d", nil).Header.Get("ETag")
	c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"keep-current"}`, "If-Match: "+etag).want(t, 409, "conflict_closed")
}

// TestConcurrentResolve: of 8 resolutions of one conflict racing with the
// same If-Match, exactly one writes; the others are refused.
func TestConcurrentResolve(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "notes", "d")
	etag := c.do("GET", "/v1/collections/notes/docs/d", nil).Header.Get("ETag")
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = c.do("POST", "/v1/conflicts/"+cid+"/resolve", `{"strategy":"take-proposed"}`, "If-Match: "+etag).Status
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 409, 412:
		default:
			t.Fatalf("status %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d resolutions succeeded, want 1 (%v)", ok, statuses)
	}
	if v := c.do("GET", "/v1/collections/notes/docs/d", nil).JSON(t)["_version"]; v != float64(3) {
		t.Fatalf("version %v, want 3", v)
	}
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
