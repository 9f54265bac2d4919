package http_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestCollections(t *testing.T) {
	c := mustServe(t)
	r := c.do("PUT", "/v1/collections/users", `{"unique":["email"],"historyLimit":5}`).want(t, 201, "").JSON(t)
	s := r["settings"].(map[string]any)
	if r["name"] != "users" || s["conflictPolicy"] != "reject" || s["historyLimit"] != float64(5) {
		t.Fatalf("created %v", r)
	}
	c.do("PUT", "/v1/collections/users", `{"unique":["email"],"historyLimit":3}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/users/docs/u1", `{"email":"a@x"}`).want(t, 201, "")
	g := c.do("GET", "/v1/collections/users", nil).want(t, 200, "").JSON(t)
	if g["counts"].(map[string]any)["documents"] != float64(1) || g["settings"].(map[string]any)["historyLimit"] != float64(3) {
		t.Fatalf("got %v", g)
	}
	// Implicit creation by the first write, with default settings.
	c.do("POST", "/v1/collections/posts/docs", `{}`).want(t, 201, "")
	list := c.do("GET", "/v1/collections", nil).want(t, 200, "").JSON(t)["items"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["name"] != "posts" {
		t.Fatalf("list %v", list)
	}
	for _, bad := range []string{`{"conflictPolicy":"sometimes"}`, `{"nope":1}`, `{"unique":["_id"]}`, `{"historyLimit":-1}`,
		`{"schema":{"type":"nonsense"}}`, `{"references":{"a":"Bad Name"}}`, `[]`, `{"unique":"email"}`, `{"schema":{"$ref":"file:///etc/passwd"}}`} {
		c.do("PUT", "/v1/collections/other", bad).want(t, 400, "invalid_settings")
	}
	c.do("DELETE", "/v1/collections/users", nil).want(t, 409, "not_empty")
	c.do("DELETE", "/v1/collections/users?force=maybe", nil).want(t, 400, "invalid_parameter")
	c.do("DELETE", "/v1/collections/users?force=true", nil).want(t, 204, "")
	c.do("GET", "/v1/collections/users", nil).want(t, 404, "not_found")
	c.do("GET", "/v1/collections/users/docs/u1", nil).want(t, 404, "not_found")
	c.do("DELETE", "/v1/collections/users", nil).want(t, 404, "not_found")
	// An empty collection (only tombstones) can be deleted without force.
	c.do("DELETE", "/v1/collections/posts/docs/"+c.do("POST", "/v1/collections/posts/docs", `{}`).JSON(t)["_id"].(string), nil).want(t, 204, "")
	c.do("GET", "/v1/collections/posts", nil).want(t, 200, "")
}

func TestUnique(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/users", `{"unique":["email"]}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/users/docs/u1", `{"email":"a@x"}`).want(t, 201, "")
	p := c.do("PUT", "/v1/collections/users/docs/u2", `{"email":"a@x"}`).want(t, 409, "unique_violation").JSON(t)
	if p["field"] != "email" || p["holder"].(map[string]any)["id"] != "u1" || p["retryable"] != false {
		t.Fatalf("problem %v", p)
	}
	c.do("POST", "/v1/collections/users/docs", `{"email":"a@x"}`).want(t, 409, "unique_violation")
	c.do("PUT", "/v1/collections/users/docs/u1", `{"email":"a@x","n":1}`).want(t, 200, "") // keeping its own value
	c.do("PUT", "/v1/collections/users/docs/u1", `{"email":"b@x"}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/users/docs/u2", `{"email":"a@x"}`).want(t, 201, "") // freed
	c.do("DELETE", "/v1/collections/users/docs/u2", nil).want(t, 204, "")
	c.do("PUT", "/v1/collections/users/docs/u3", `{"email":"a@x"}`).want(t, 201, "") // freed by delete
	c.do("PUT", "/v1/collections/users/docs/u4", `{"email":null}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/users/docs/u5", `{}`).want(t, 201, "") // missing and null are not indexed
	c.do("PUT", "/v1/collections/users/docs/u6", `{"email":null}`).want(t, 201, "")
	// Numbers collide by value, not spelling.
	c.do("PUT", "/v1/collections/nums", `{"unique":["n"]}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/nums/docs/a", `{"n":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/nums/docs/b", `{"n":1.0}`).want(t, 409, "unique_violation")
	// Declaring a field unique checks the documents already there.
	c.do("PUT", "/v1/collections/tags/docs/t1", `{"name":"x"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/tags/docs/t2", `{"name":"x"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/tags", `{"unique":["name"]}`).want(t, 409, "unique_violation")
	c.do("PUT", "/v1/collections/tags/docs/t2", `{"name":"y"}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/tags", `{"unique":["name"]}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/tags/docs/t3", `{"name":"y"}`).want(t, 409, "unique_violation")
	c.do("PUT", "/v1/collections/tags", `{}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/tags/docs/t3", `{"name":"y"}`).want(t, 201, "")
}

func TestReferences(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/posts", `{"references":{"authorId":"users"}}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/posts/docs/p1", `{"authorId":"ann"}`).want(t, 400, "invalid_reference")
	c.do("PUT", "/v1/collections/posts/docs/p1", `{"authorId":7}`).want(t, 400, "invalid_reference")
	c.do("PUT", "/v1/collections/users/docs/ann", `{}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/users/docs/bob", `{}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/posts/docs/p1", `{"authorId":"ann"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/posts/docs/p2", `{"authorId":"ann"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/posts/docs/p3", `{"authorId":null}`).want(t, 201, "")
	p := c.do("DELETE", "/v1/collections/users/docs/ann", nil).want(t, 409, "in_use").JSON(t)
	refs := p["referrers"].([]any)
	if len(refs) != 2 || refs[0].(map[string]any)["id"] != "p1" || refs[0].(map[string]any)["field"] != "authorId" {
		t.Fatalf("referrers %v", refs)
	}
	c.do("PUT", "/v1/collections/posts/docs/p1", `{"authorId":"bob"}`).want(t, 200, "")
	c.do("DELETE", "/v1/collections/posts/docs/p2", nil).want(t, 204, "")
	c.do("DELETE", "/v1/collections/users/docs/ann", nil).want(t, 204, "")
	c.do("DELETE", "/v1/collections/users/docs/bob", nil).want(t, 409, "in_use")
	// Adding a reference setting checks the existing documents.
	c.do("PUT", "/v1/collections/comments/docs/c1", `{"postId":"nope"}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/comments", `{"references":{"postId":"posts"}}`).want(t, 400, "invalid_reference")
	c.do("PUT", "/v1/collections/comments/docs/c1", `{"postId":"p1"}`).want(t, 200, "")
	c.do("PUT", "/v1/collections/comments", `{"references":{"postId":"posts"}}`).want(t, 200, "")
	c.do("DELETE", "/v1/collections/posts/docs/p1", nil).want(t, 409, "in_use")
	// A document may reference itself and still be deleted.
	c.do("PUT", "/v1/collections/nodes", `{"references":{"parent":"nodes"}}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/nodes/docs/root", `{"parent":"root"}`).want(t, 201, "")
	c.do("DELETE", "/v1/collections/nodes/docs/root", nil).want(t, 204, "")
}

func TestSchema(t *testing.T) {
	c := mustServe(t)
	schema := `{"schema":{"type":"object","required":["title"],"properties":{"title":{"type":"string","maxLength":5},"n":{"type":"integer"}}}}`
	c.do("PUT", "/v1/collections/notes", schema).want(t, 201, "")
	p := c.do("PUT", "/v1/collections/notes/docs/a", `{"title":"far too long","n":"x"}`).want(t, 400, "schema_violation").JSON(t)
	errs := p["errors"].([]any)
	var ptrs []string
	for _, e := range errs {
		ptrs = append(ptrs, e.(map[string]any)["pointer"].(string))
	}
	if fmt.Sprint(ptrs) != "[/n /title]" {
		t.Fatalf("violations %s", p["errors"])
	}
	c.do("PUT", "/v1/collections/notes/docs/a", `{"n":1}`).want(t, 400, "schema_violation")
	c.do("PUT", "/v1/collections/notes/docs/a", `{"title":"ok","n":1}`).want(t, 201, "")
	// Reserved fields are not part of what the schema sees.
	c.do("PUT", "/v1/collections/strict", `{"schema":{"type":"object","additionalProperties":false,"properties":{"a":{}}}}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/strict/docs/x", `{"a":1,"_version":1}`).want(t, 404, "not_found")
	r := c.do("PUT", "/v1/collections/strict/docs/x", `{"a":1}`).want(t, 201, "")
	c.do("PUT", "/v1/collections/strict/docs/x", string(r.Body)).want(t, 200, "")
	c.do("PATCH", "/v1/collections/notes/docs/a", `{"title":"too long again"}`, "Content-Type: application/merge-patch+json").want(t, 400, "schema_violation")
}

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

	// Restore brings back a deleted document as a new version.
	r := c.do("POST", base+"/versions/1/restore", nil).want(t, 201, "").JSON(t)
	if r["title"] != "one" || r["_version"] != float64(5) {
		t.Fatalf("restored %v", r)
	}
	c.do("POST", base+"/versions/2/restore?version=4", nil).want(t, 409, "version_conflict")
	c.do("POST", base+"/versions/2/restore", nil, `If-Match: "1-1"`).want(t, 412, "precondition_failed")
	c.do("POST", base+"/versions/2/restore?version=5", nil).want(t, 200, "")
	c.do("GET", "/v1/collections/notes/docs/never/versions", nil).want(t, 404, "not_found")
}

func TestHistoryLimit(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/notes", `{"historyLimit":3}`).want(t, 201, "")
	base := "/v1/collections/notes/docs/n1"
	for i := 1; i <= 6; i++ {
		c.do("PUT", base, fmt.Sprintf(`{"i":%d}`, i)).want(t, 200+boolInt(i == 1), "")
	}
	items := c.do("GET", base+"/versions", nil).want(t, 200, "").JSON(t)["items"].([]any)
	if len(items) != 3 || items[2].(map[string]any)["version"] != float64(4) {
		t.Fatalf("kept %v", items)
	}
	c.do("GET", base+"/versions/3", nil).want(t, 410, "version_trimmed")
	c.do("GET", base+"/versions/4", nil).want(t, 200, "")
	c.do("POST", base+"/versions/2/restore", nil).want(t, 410, "version_trimmed")
	// Lowering the limit takes effect for reads at once.
	c.do("PUT", "/v1/collections/notes", `{"historyLimit":1}`).want(t, 200, "")
	c.do("GET", base+"/versions/5", nil).want(t, 410, "version_trimmed")
	c.do("GET", base+"/versions/6", nil).want(t, 200, "")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
