package http_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCreateReadReplaceDelete: the statuses and headers of a document's
// life: 201 with Location and a strong ETag, GET and HEAD with ETag and
// Last-Modified, 304 for a matching If-None-Match or If-Modified-Since,
// 204 without a body for a delete, 404 after it.
func TestCreateReadReplaceDelete(t *testing.T) {
	c := mustServe(t)
	r := c.do("POST", "/v1/collections/notes/docs", `{"title":"hello"}`).want(t, 201, "")
	doc := r.JSON(t)
	id := doc["_id"].(string)
	if len(id) != 26 || doc["_version"] != float64(1) || doc["title"] != "hello" {
		t.Fatalf("created %s", r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "/v1/collections/notes/docs/"+id {
		t.Fatalf("Location %q", loc)
	}
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q is not a strong tag", etag)
	}

	g := c.do("GET", "/v1/collections/notes/docs/"+id, nil).want(t, 200, "")
	if g.Header.Get("ETag") != etag || g.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET headers %v", g.Header)
	}
	h := c.do("HEAD", "/v1/collections/notes/docs/"+id, nil).want(t, 200, "")
	if len(h.Body) != 0 || h.Header.Get("ETag") != etag {
		t.Fatalf("HEAD: %v %q", h.Header, h.Body)
	}
	c.do("GET", "/v1/collections/notes/docs/"+id, nil, "If-None-Match: "+etag).want(t, 304, "")
	c.do("GET", "/v1/collections/notes/docs/"+id, nil, "If-None-Match: W/"+etag).want(t, 304, "")
	c.do("GET", "/v1/collections/notes/docs/"+id, nil, `If-None-Match: "other"`).want(t, 200, "")
	c.do("GET", "/v1/collections/notes/docs/"+id, nil, "If-Modified-Since: "+g.Header.Get("Last-Modified")).want(t, 304, "")

	p := c.do("PUT", "/v1/collections/notes/docs/"+id, `{"title":"bye"}`, "If-Match: "+etag).want(t, 200, "")
	if p.JSON(t)["_version"] != float64(2) || p.Header.Get("ETag") == etag {
		t.Fatalf("PUT: %s %v", p.Body, p.Header)
	}
	d := c.do("DELETE", "/v1/collections/notes/docs/"+id, nil, "If-Match: "+p.Header.Get("ETag")).want(t, 204, "")
	if len(d.Body) != 0 {
		t.Fatalf("204 with a body: %s", d.Body)
	}
	c.do("GET", "/v1/collections/notes/docs/"+id, nil).want(t, 404, "not_found")
	c.do("HEAD", "/v1/collections/notes/docs/"+id, nil).want(t, 404, "")
	c.do("DELETE", "/v1/collections/notes/docs/"+id, nil).want(t, 404, "not_found")

	// Re-creating a deleted id is a creation: 201.
	c.do("PUT", "/v1/collections/notes/docs/"+id, `{"title":"again"}`).want(t, 201, "")
}

// TestIDsInURLs: ids and collection names come from the path as sent:
// percent-encoded characters outside the id alphabet and dot segments are
// invalid_id, whatever the router would make of them. (The id rules
// themselves are truce's TestDocumentWrites.)
func TestIDsInURLs(t *testing.T) {
	c := mustServe(t)
	for _, id := range []string{"a%2Fb", "..%2F", "a%20b", strings.Repeat("x", 256), "%C3%A9"} {
		c.do("GET", "/v1/collections/notes/docs/"+id, nil).want(t, 400, "invalid_id")
	}
	c.do("GET", "/v1/collections/notes/docs/..", nil).want(t, 400, "invalid_id")
	c.do("PUT", "/v1/collections/Notes/docs/x", `{}`).want(t, 400, "invalid_collection")
	c.do("PUT", "/v1/collections/notes/docs/"+strings.Repeat("x", 255), `{}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/notes/docs/a.b~c:d@e-f_g", `{}`).want(t, 201, "")
	c.do("POST", "/v1/collections/notes/docs", `{"_id":"a.b~c:d@e-f_g"}`).want(t, 409, "already_exists")
}

// TestPreconditions: If-Match, If-None-Match and ?version= reach the
// write, and its refusals map to 412 and 409 with the current document in
// the problem's current member; a GET honours If-Match itself; malformed
// headers and values are 400. (The rules are truce's TestPreconditions.)
func TestPreconditions(t *testing.T) {
	c := mustServe(t)
	r := c.do("PUT", "/v1/collections/notes/docs/n1", `{"v":1}`, "If-None-Match: *").want(t, 201, "")
	e1 := r.Header.Get("ETag")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"v":1}`, "If-None-Match: *").want(t, 412, "precondition_failed")
	r2 := c.do("PUT", "/v1/collections/notes/docs/n1", `{"v":2}`, "If-Match: "+e1).want(t, 200, "")
	e2 := r2.Header.Get("ETag")

	// A stale If-Match is 412 and carries the current state.
	p := c.do("PUT", "/v1/collections/notes/docs/n1", `{"v":3}`, "If-Match: "+e1).want(t, 412, "precondition_failed").JSON(t)
	cur := p["current"].(map[string]any)
	if cur["version"] != float64(2) || cur["etag"] != e2 || cur["document"].(map[string]any)["v"] != float64(2) {
		t.Fatalf("current = %v", cur)
	}
	if p["retryable"] != true {
		t.Fatal("412 not retryable")
	}
	// A stale body version is 409 version_conflict with the current state.
	p = c.do("PUT", "/v1/collections/notes/docs/n1", `{"v":3,"_version":1}`).want(t, 409, "version_conflict").JSON(t)
	if p["current"].(map[string]any)["version"] != float64(2) || p["retryable"] != true {
		t.Fatalf("version_conflict = %v", p)
	}
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"v":3,"_version":2}`).want(t, 200, "")
	c.do("PATCH", "/v1/collections/notes/docs/n1?version=2", `{"v":4}`, "Content-Type: application/merge-patch+json").want(t, 409, "version_conflict")
	c.do("DELETE", "/v1/collections/notes/docs/n1?version=2", nil).want(t, 409, "version_conflict")
	c.do("PATCH", "/v1/collections/notes/docs/n1?version=3", `{"v":4}`, "Content-Type: application/merge-patch+json").want(t, 200, "")
	c.do("PUT", "/v1/collections/notes/docs/nope", `{"_version":3}`).want(t, 404, "not_found")

	// GET with If-Match.
	c.do("GET", "/v1/collections/notes/docs/nope", nil, "If-Match: *").want(t, 412, "precondition_failed")
	c.do("GET", "/v1/collections/notes/docs/n1", nil, "If-Match: "+e1).want(t, 412, "precondition_failed")
	cur4 := c.do("GET", "/v1/collections/notes/docs/n1", nil, "If-Match: *").want(t, 200, "").Header.Get("ETag")
	// Lists and weak tags, as the header spells them.
	c.do("PUT", "/v1/collections/notes/docs/n1", `{}`, "If-Match: W/"+cur4).want(t, 412, "precondition_failed")
	c.do("PUT", "/v1/collections/notes/docs/n1", `{}`, `If-Match: "nope", `+cur4).want(t, 200, "")

	for _, bad := range []string{`nope`, `"unterminated`, `"a" "b"`, `"a",`, `W/`} {
		c.do("PUT", "/v1/collections/notes/docs/n1", `{}`, "If-Match: "+bad).want(t, 400, "invalid_precondition")
	}
	c.do("DELETE", "/v1/collections/notes/docs/n1?version=x", nil).want(t, 400, "invalid_precondition")
	c.do("DELETE", "/v1/collections/notes/docs/n1?version=-1", nil).want(t, 400, "invalid_precondition")
}

// TestRequirePreconditions: a write refused for want of a precondition is
// 428; a header precondition satisfies it. (The rule is truce's
// TestRequirePreconditions.)
func TestRequirePreconditions(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/strict", `{"requirePreconditions":true}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/strict/docs/a", `{"x":1}`).want(t, 428, "precondition_required")
	r := c.do("PUT", "/v1/collections/strict/docs/a", `{"x":1}`, "If-None-Match: *").want(t, 201, "")
	c.do("DELETE", "/v1/collections/strict/docs/a", nil).want(t, 428, "precondition_required")
	c.do("DELETE", "/v1/collections/strict/docs/a", nil, "If-Match: "+r.Header.Get("ETag")).want(t, 204, "")
}

// TestPatch: the Content-Type picks the patch format (merge patch or
// JSON Patch); any other is 415; a failed test operation is 409 with the
// current document, a patch that does not apply 400. (What patches do is
// truce's TestPatch.)
func TestPatch(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/notes/docs/n1", `{"title":"a","tags":["x"],"meta":{"k":1}}`).want(t, 201, "")
	merge := "Content-Type: application/merge-patch+json"
	jp := "Content-Type: application/json-patch+json"
	r := c.do("PATCH", "/v1/collections/notes/docs/n1", `{"title":"b","meta":{"k":null,"j":2}}`, merge).want(t, 200, "").JSON(t)
	if r["title"] != "b" || r["meta"].(map[string]any)["j"] != float64(2) || r["meta"].(map[string]any)["k"] != nil || r["_version"] != float64(2) {
		t.Fatalf("merge patch gave %v", r)
	}
	r = c.do("PATCH", "/v1/collections/notes/docs/n1", `[{"op":"test","path":"/title","value":"b"},{"op":"add","path":"/tags/-","value":"y"}]`, jp).want(t, 200, "").JSON(t)
	if fmt.Sprint(r["tags"]) != "[x y]" {
		t.Fatalf("json patch gave %v", r)
	}
	p := c.do("PATCH", "/v1/collections/notes/docs/n1", `[{"op":"test","path":"/title","value":"zzz"}]`, jp).want(t, 409, "patch_test_failed").JSON(t)
	if p["current"].(map[string]any)["version"] != float64(3) {
		t.Fatalf("patch_test_failed without current: %v", p)
	}
	c.do("PATCH", "/v1/collections/notes/docs/n1", `[{"op":"remove","path":"/nope"}]`, jp).want(t, 400, "invalid_patch")
	c.do("PATCH", "/v1/collections/notes/docs/n1", `[1,2]`, merge).want(t, 400, "invalid_patch")
	c.do("PATCH", "/v1/collections/notes/docs/n1", `{"_version":1}`, merge).want(t, 400, "reserved_field")
	for _, ct := range []string{"Content-Type: application/json", "Content-Type: text/plain", "Content-Type: ;;;"} {
		r := c.do("PATCH", "/v1/collections/notes/docs/n1", `{"a":1}`, ct).want(t, 415, "unsupported_media_type")
		if got, want := r.Header.Get("Accept-Patch"), "application/merge-patch+json, application/json-patch+json"; got != want {
			t.Errorf("PATCH with %s: Accept-Patch %q, want %q (RFC 5789)", ct, got, want)
		}
	}
	c.do("PATCH", "/v1/collections/notes/docs/missing", `{"a":1}`, merge).want(t, 404, "not_found")
}

// TestIfUnmodifiedSince: a write or read with If-Unmodified-Since earlier
// than the document's Last-Modified is 412 with the current document and
// changes nothing (RFC 9110 13.1.4); the Last-Modified date itself passes;
// a value that is not a date is ignored, and so is the date when If-Match
// is given or the document does not exist.
func TestIfUnmodifiedSince(t *testing.T) {
	c := mustServe(t)
	doc := "/v1/collections/notes/docs/n1"
	lm := c.do("PUT", doc, `{"v":1}`).want(t, 201, "").Header.Get("Last-Modified")
	modified, err := http.ParseTime(lm)
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", lm, err)
	}
	before := "If-Unmodified-Since: " + modified.Add(-time.Hour).Format(http.TimeFormat)
	for _, tc := range []struct {
		method, body string
		headers      []string
	}{
		{"PUT", `{"v":2}`, nil},
		{"PATCH", `{"v":2}`, []string{"Content-Type: application/merge-patch+json"}},
		{"DELETE", "", nil},
		{"POST", "", nil}, // restore of version 1
		{"GET", "", nil},
		{"HEAD", "", nil},
	} {
		path := doc
		if tc.method == "POST" {
			path += "/versions/1/restore"
		}
		var body any
		if tc.body != "" {
			body = tc.body
		}
		r := c.do(tc.method, path, body, append(tc.headers, before)...)
		if tc.method == "HEAD" {
			if r.Status != 412 {
				t.Errorf("HEAD with %s: %d, want 412", before, r.Status)
			}
			continue
		}
		p := r.want(t, 412, "precondition_failed").JSON(t)
		if cur, _ := p["current"].(map[string]any); cur == nil || cur["version"] != float64(1) {
			t.Errorf("%s with %s: no current version 1: %s", tc.method, before, r.Body)
		}
	}
	if v := c.do("GET", doc, nil).want(t, 200, "").JSON(t)["_version"]; v != float64(1) {
		t.Fatalf("a failed If-Unmodified-Since changed the document: version %v", v)
	}
	c.do("GET", doc, nil, "If-Unmodified-Since: "+lm).want(t, 200, "")
	c.do("PUT", doc, `{"v":2}`, "If-Unmodified-Since: "+lm).want(t, 200, "")
	c.do("PUT", doc, `{"v":3}`, "If-Unmodified-Since: yesterday").want(t, 200, "")
	etag := c.do("GET", doc, nil).want(t, 200, "").Header.Get("ETag")
	c.do("PUT", doc, `{"v":4}`, before, "If-Match: "+etag).want(t, 200, "")
	c.do("PUT", "/v1/collections/notes/docs/n2", `{"v":1}`, before).want(t, 201, "")
}

// TestUnsupportedMediaTypeAccept: a 415 on a route that takes a JSON body
// says so in Accept (RFC 9110, section 15.5.16), and a 415 on a PATCH
// names the patch formats in Accept-Patch instead.
func TestUnsupportedMediaTypeAccept(t *testing.T) {
	c := mustServe(t)
	for _, tc := range []struct{ method, path string }{
		{"PUT", "/v1/collections/notes/docs/n1"},
		{"POST", "/v1/collections/notes/docs"},
		{"PUT", "/v1/collections/notes"},
		{"POST", "/v1/collections/notes/query"},
		{"POST", "/v1/tx"},
	} {
		r := c.do(tc.method, tc.path, `{}`, "Content-Type: text/plain").want(t, 415, "unsupported_media_type")
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("%s %s: Accept %q, want application/json", tc.method, tc.path, got)
		}
		if got := r.Header.Get("Accept-Patch"); got != "" {
			t.Errorf("%s %s: Accept-Patch %q on a route without PATCH", tc.method, tc.path, got)
		}
	}
	c.do("GET", "/v1/collections/notes/docs/n1", nil).want(t, 404, "not_found")
}

func TestListPagination(t *testing.T) {
	c := mustServe(t)
	for i := 0; i < 25; i++ {
		c.do("PUT", fmt.Sprintf("/v1/collections/items/docs/i%02d", i), `{}`).want(t, 201, "")
	}
	c.do("DELETE", "/v1/collections/items/docs/i05", nil).want(t, 204, "")
	var ids []string
	next := ""
	for pages := 0; ; pages++ {
		path := "/v1/collections/items/docs?limit=10"
		if next != "" {
			path += "&after=" + next
		}
		page := c.do("GET", path, nil).want(t, 200, "").JSON(t)
		for _, it := range page["items"].([]any) {
			ids = append(ids, it.(map[string]any)["_id"].(string))
		}
		if page["next"] == nil {
			break
		}
		next = page["next"].(string)
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(ids) != 24 || ids[0] != "i00" || ids[5] != "i06" || ids[23] != "i24" {
		t.Fatalf("listed %v", ids)
	}
	for _, path := range []string{"/v1/collections/items/docs", "/v1/collections/items/docs/i00/versions"} {
		for _, limit := range []string{"0", "1001", "5000"} {
			p := c.do("GET", path+"?limit="+limit, nil).want(t, 400, "invalid_parameter").JSON(t)
			if !strings.HasSuffix(p["detail"].(string), "not "+limit) {
				t.Errorf("GET %s?limit=%s: detail %q does not name the limit sent", path, limit, p["detail"])
			}
		}
	}
	c.do("GET", "/v1/collections/items/docs?limit=x", nil).want(t, 400, "invalid_parameter")
	c.do("GET", "/v1/collections/items/docs?sort=id", nil).want(t, 400, "invalid_parameter")
	c.do("GET", "/v1/collections/nothing/docs", nil).want(t, 404, "not_found")
}

func TestMethodNotAllowedAndUnknownPaths(t *testing.T) {
	c := mustServe(t)
	r := c.do("POST", "/v1/collections/notes/docs/x", `{}`).want(t, 405, "method_not_allowed")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "GET") {
		t.Fatalf("Allow = %q", allow)
	}
	c.do("GET", "/v2/nothing", nil).want(t, 404, "not_found")
}

func TestRequestIDAndProblemPages(t *testing.T) {
	c := mustServe(t)
	r := c.do("GET", "/healthz", nil, "X-Request-Id: abc-123").want(t, 200, "")
	if r.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("X-Request-Id not echoed: %v", r.Header)
	}
	r = c.do("GET", "/readyz", nil).want(t, 200, "")
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}
	p := c.do("GET", "/v1/collections/notes/docs/x", nil).want(t, 404, "not_found")
	if p.JSON(t)["requestId"] != p.Header.Get("X-Request-Id") {
		t.Fatal("requestId differs from X-Request-Id")
	}
	page := c.do("GET", p.JSON(t)["type"].(string), nil).want(t, 200, "")
	if !strings.Contains(string(page.Body), "Not found") || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("problem page: %s", page.Body)
	}
	for _, name := range []string{"version-conflict", "precondition-failed", "precondition-required", "unique-violation", "in-use"} {
		c.do("GET", "/problems/"+name, nil).want(t, 200, "")
	}
	c.do("GET", "/problems/no-such-thing", nil).want(t, 404, "not_found")
}
