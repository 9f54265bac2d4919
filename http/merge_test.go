package http_test

import (
	"strings"
	"testing"
)

// TestMergePolicy: a merged write answers 200 with Truce-Merged naming the
// base and current versions, for a PUT with _version and a PATCH with
// ?version=; an unmergeable one is 409 merge_conflict listing each path
// with its three values, with the current document; the detail says
// when the base is no longer kept. (The rules are truce's
// TestMergePolicy.)
func TestMergePolicy(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/docs", `{"conflictPolicy":"merge"}`).want(t, 201, "")
	base := "/v1/collections/docs/docs/d"
	c.do("PUT", base, `{"title":"a","body":"x","meta":{"k":1,"j":1}}`).want(t, 201, "")              // v1
	c.do("PUT", base, `{"title":"b","body":"x","meta":{"k":2,"j":1},"_version":1}`).want(t, 200, "") // v2

	r := c.do("PUT", base, `{"title":"a","body":"y","meta":{"k":1,"j":5},"_version":1}`).want(t, 200, "")
	if got := r.Header.Get("Truce-Merged"); got != "base=1, current=2" {
		t.Fatalf("Truce-Merged = %q", got)
	}
	doc := r.JSON(t)
	meta := doc["meta"].(map[string]any)
	if doc["title"] != "b" || doc["body"] != "y" || meta["k"] != float64(2) || meta["j"] != float64(5) || doc["_version"] != float64(3) {
		t.Fatalf("merged %s", r.Body)
	}
	r = c.do("PATCH", base+"?version=2", `{"tags":["t"]}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
	if r.Header.Get("Truce-Merged") != "base=2, current=3" || r.JSON(t)["body"] != "y" {
		t.Fatalf("merged patch %s %v", r.Body, r.Header)
	}

	p := c.do("PUT", base, `{"title":"c","body":"z","meta":{"k":1,"j":1},"_version":1}`).want(t, 409, "merge_conflict").JSON(t)
	cs := p["conflicts"].([]any)
	if len(cs) != 2 || cs[0].(map[string]any)["path"] != "/body" || cs[1].(map[string]any)["path"] != "/title" {
		t.Fatalf("conflicts %v", cs)
	}
	c0 := cs[1].(map[string]any)
	if c0["base"] != "a" || c0["current"] != "b" || c0["proposed"] != "c" {
		t.Fatalf("conflict values %v", c0)
	}
	if p["current"].(map[string]any)["version"] != float64(4) || p["retryable"] != true || p["conflictId"] != nil {
		t.Fatalf("merge_conflict %v", p)
	}
	c.do("DELETE", base+"?version=1", nil).want(t, 409, "merge_conflict")

	c.do("PUT", "/v1/collections/short", `{"conflictPolicy":"merge","historyLimit":2}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/short/docs/s", `{"n":1}`).want(t, 201, "")
	for range 3 {
		c.do("PUT", "/v1/collections/short/docs/s", `{"n":1}`).want(t, 200, "")
	}
	p = c.do("PUT", "/v1/collections/short/docs/s", `{"n":2,"_version":1}`).want(t, 409, "version_conflict").JSON(t)
	if d := p["detail"].(string); !strings.Contains(d, "no longer keeps") {
		t.Fatalf("detail %q", d)
	}
}
