package http_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestCollections: PUT answers 201 for a new collection and 200 for new
// settings, with the collection as the API shows it (the default policy
// spelled out, counts); GET lists them by name; invalid settings are 400;
// DELETE is 409 not_empty without ?force=true, whose value is checked.
// (The rules are truce's TestCollections and TestDecodeSettings.)
func TestCollections(t *testing.T) {
	c := mustServe(t)
	r := c.do("PUT", "/v1/collections/users", `{"unique":["email"],"historyLimit":5}`).want(t, 201, "").JSON(t)
	s := r["settings"].(map[string]any)
	if r["name"] != "users" || s["conflictPolicy"] != "reject" || s["historyLimit"] != float64(5) || fmt.Sprint(s["unique"]) != "[email]" {
		t.Fatalf("created %v", r)
	}
	c.do("PUT", "/v1/collections/users", `{"unique":["email"],"historyLimit":3}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/users/docs/u1", `{"email":"a@x"}`).want(t, 201, "")
	g := c.do("GET", "/v1/collections/users", nil).want(t, 200, "").JSON(t)
	if g["counts"].(map[string]any)["documents"] != float64(1) || g["settings"].(map[string]any)["historyLimit"] != float64(3) {
		t.Fatalf("got %v", g)
	}
	c.do("POST", "/v1/collections/posts/docs", `{}`).want(t, 201, "")
	list := c.do("GET", "/v1/collections", nil).want(t, 200, "").JSON(t)["items"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["name"] != "posts" {
		t.Fatalf("list %v", list)
	}
	for _, bad := range []string{`{"conflictPolicy":"sometimes"}`, `{"nope":1}`, `[]`} {
		c.do("PUT", "/v1/collections/other", bad).want(t, 400, "invalid_settings")
	}
	c.do("DELETE", "/v1/collections/users", nil).want(t, 409, "not_empty")
	c.do("DELETE", "/v1/collections/users?force=maybe", nil).want(t, 400, "invalid_parameter")
	c.do("DELETE", "/v1/collections/users?force=true", nil).want(t, 204, "")
	c.do("GET", "/v1/collections/users", nil).want(t, 404, "not_found")
	c.do("DELETE", "/v1/collections/users", nil).want(t, 404, "not_found")
}

// TestConstraintProblems: the refusals of unique, reference and schema
// rules are problems with the members that say what to fix: field, value
// and holder; the referrers; each error with its pointer. (The rules are
// truce's TestUnique, TestReferences and TestSchema.)
func TestConstraintProblems(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/users", `{"unique":["email"]}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/users/docs/u1", `{"email":"a@x"}`).want(t, 201, "")
	p := c.do("PUT", "/v1/collections/users/docs/u2", `{"email":"a@x"}`).want(t, 409, "unique_violation").JSON(t)
	if p["field"] != "email" || p["value"] != "a@x" || p["holder"].(map[string]any)["id"] != "u1" ||
		p["holder"].(map[string]any)["collection"] != "users" || p["retryable"] != false {
		t.Fatalf("unique_violation %v", p)
	}
	// Declaring a field unique over duplicates is refused the same way.
	c.do("PUT", "/v1/collections/tags/docs/t1", `{"name":"x"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/tags/docs/t2", `{"name":"x"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/tags", `{"unique":["name"]}`).want(t, 409, "unique_violation")

	c.do("PUT", "/v1/collections/posts", `{"references":{"authorId":"users"}}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/posts/docs/p1", `{"authorId":"ann"}`).want(t, 400, "invalid_reference")
	c.do("PUT", "/v1/collections/posts/docs/p1", `{"authorId":"u1"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/posts/docs/p2", `{"authorId":"u1"}`).want(t, 201, "")
	p = c.do("DELETE", "/v1/collections/users/docs/u1", nil).want(t, 409, "in_use").JSON(t)
	refs := p["referrers"].([]any)
	if len(refs) != 2 || refs[0].(map[string]any)["id"] != "p1" || refs[0].(map[string]any)["collection"] != "posts" || refs[0].(map[string]any)["field"] != "authorId" {
		t.Fatalf("referrers %v", refs)
	}
	c.do("PUT", "/v1/collections/comments/docs/c1", `{"postId":"nope"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/comments", `{"references":{"postId":"posts"}}`).want(t, 400, "invalid_reference")

	c.do("PUT", "/v1/collections/notes", `{"schema":{"type":"object","required":["title"],"properties":{"title":{"type":"string","maxLength":5},"n":{"type":"integer"}}}}`).want(t, 201, "")
	p = c.do("PUT", "/v1/collections/notes/docs/a", `{"title":"far too long","n":"x"}`).want(t, 400, "schema_violation").JSON(t)
	var ptrs []string
	for _, e := range p["errors"].([]any) {
		ptrs = append(ptrs, e.(map[string]any)["pointer"].(string))
		if e.(map[string]any)["message"] == "" {
			t.Errorf("a schema error without a message: %v", e)
		}
	}
	if fmt.Sprint(ptrs) != "[/n /title]" {
		t.Fatalf("violations %s", p["errors"])
	}
}

// TestHistory: the history URLs: versions newest first with a string
// cursor, a version as the document it was (a tombstone with _deleted),
// a diff as application/json-patch+json, a restore answered 201 when it
// brings a document back and 200 otherwise, with ?version= and If-Match;
// malformed parameters are 400. (The rules are truce's TestHistory.)
func TestHistory(t *testing.T) {
	c := mustServe(t)
	base := "/v1/collections/notes/docs/n1"
	c.do("PUT", base, `{"title":"one","tags":["a"]}`).want(t, 201, "")
	c.do("PUT", base, `{"title":"two","tags":["a"]}`).want(t, 200, "")
	c.do("PUT", base, `{"title":"two","tags":["a"],"done":true}`).want(t, 200, "")
	c.do("DELETE", base, nil).want(t, 204, "")

	vs := c.do("GET", base+"/versions", nil).want(t, 200, "").JSON(t)
	items := vs["items"].([]any)
	if len(items) != 4 || items[0].(map[string]any)["version"] != float64(4) || items[0].(map[string]any)["deleted"] != true ||
		items[3].(map[string]any)["deleted"] != false || vs["next"] != nil {
		t.Fatalf("versions %s", vs)
	}
	pg := c.do("GET", base+"/versions?limit=2", nil).want(t, 200, "").JSON(t)
	if len(pg["items"].([]any)) != 2 || pg["next"] != "3" {
		t.Fatalf("page %v", pg)
	}
	pg = c.do("GET", base+"/versions?limit=2&before=3", nil).want(t, 200, "").JSON(t)
	if it := pg["items"].([]any); len(it) != 2 || it[0].(map[string]any)["version"] != float64(2) {
		t.Fatalf("page 2 %v", pg)
	}
	v2 := c.do("GET", base+"/versions/2", nil).want(t, 200, "").JSON(t)
	if v2["title"] != "two" || v2["_version"] != float64(2) {
		t.Fatalf("version 2: %v", v2)
	}
	if c.do("GET", base+"/versions/4", nil).want(t, 200, "").JSON(t)["_deleted"] != true {
		t.Fatal("tombstone version lacks _deleted")
	}
	c.do("GET", base+"/versions/5", nil).want(t, 404, "not_found")
	c.do("GET", base+"/versions/0", nil).want(t, 400, "invalid_parameter")
	c.do("GET", base+"/versions/x", nil).want(t, 400, "invalid_parameter")

	d := c.do("GET", base+"/diff?from=1&to=3", nil).want(t, 200, "")
	if got := string(d.Body); !strings.Contains(got, `"op":"replace","path":"/title","value":"two"`) || !strings.Contains(got, `"op":"add","path":"/done","value":true`) {
		t.Fatalf("diff %s", got)
	}
	if ct := d.Header.Get("Content-Type"); ct != "application/json-patch+json" {
		t.Fatalf("diff Content-Type %q", ct)
	}
	c.do("GET", base+"/diff?from=1", nil).want(t, 400, "invalid_parameter")
	c.do("GET", base+"/diff?from=1&to=9", nil).want(t, 404, "not_found")

	r := c.do("POST", base+"/versions/1/restore", nil).want(t, 201, "").JSON(t)
	if r["title"] != "one" || r["_version"] != float64(5) {
		t.Fatalf("restored %v", r)
	}
	c.do("POST", base+"/versions/2/restore?version=4", nil).want(t, 409, "version_conflict")
	c.do("POST", base+"/versions/2/restore", nil, `If-Match: "1-1"`).want(t, 412, "precondition_failed")
	c.do("POST", base+"/versions/2/restore?version=5", nil).want(t, 200, "")
	c.do("GET", "/v1/collections/notes/docs/never/versions", nil).want(t, 404, "not_found")
}

// TestHistoryLimit: a version that history no longer keeps is 410 to read
// or restore. (Trimming is truce's TestHistoryLimit.)
func TestHistoryLimit(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/notes", `{"historyLimit":1}`).want(t, 201, "")
	base := "/v1/collections/notes/docs/n1"
	c.do("PUT", base, `{"i":1}`).want(t, 201, "")
	c.do("PUT", base, `{"i":2}`).want(t, 200, "")
	c.do("GET", base+"/versions/1", nil).want(t, 410, "version_trimmed")
	c.do("POST", base+"/versions/1/restore", nil).want(t, 410, "version_trimmed")
	c.do("GET", base+"/versions/2", nil).want(t, 200, "")
}
