package http_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// fuzzHandler is a real handler over a Pebble store in a temporary
// directory, shared by the iterations of one fuzz target.
func fuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	store, err := pebble.Open(f.TempDir(), pebble.Options{})
	if err != nil {
		f.Fatalf("open store: %v", err)
	}
	f.Cleanup(func() { store.Close() })
	svc := truce.NewService(store, truce.Options{MaxDocBytes: 64 << 10})
	return trucehttp.NewHandler(svc, trucehttp.Options{})
}

// serve runs one request through h in process.
func serve(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://truce.test/", strings.NewReader(body))
	req.URL.RawPath, req.URL.Path, req.RequestURI = "", "", target
	if u, err := url.ParseRequestURI(target); err == nil {
		req.URL = u
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkAnswer fails unless the answer is a success or a 4xx problem with a
// code: never a 5xx, never a bare error.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent || rec.Code == http.StatusNotModified {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s: status %d with a body that is not a JSON object: %q", what, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		if rec.Header().Get("Content-Type") != "application/problem+json" || m["code"] == nil || m["detail"] == "" {
			t.Fatalf("%s: status %d without a problem: %s", what, rec.Code, rec.Body)
		}
	}
	return m
}

// FuzzDocumentPath sends PUT, GET and DELETE for any collection name and
// id, raw or percent-encoded, through the handler with a real store. Every
// answer is a success or a problem; a write succeeds only for a valid name
// and id, the stored _id is the decoded id, its Location leads back to it,
// and a GET of the same path finds it.
func FuzzDocumentPath(f *testing.F) {
	for _, s := range [][2]string{
		{"notes", "n1"}, {"notes", "A.b_c~d:e@f-g"}, {"notes", "..%2F"}, {"notes", "%2e%2e"}, {"notes", "a%2Fb"},
		{"notes", "%41"}, {"notes", "a%20b"}, {"Notes", "n1"}, {"_x", "n1"}, {"a-b_c", "..."}, {"notes", "%C3%A9"},
		{"notes", "a%3Fb=c"}, {"notes", "a%23b"}, {"notes", "%00"}, {"n", strings.Repeat("x", 256)}, {"%6eotes", "n1"},
	} {
		f.Add(s[0], s[1])
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, coll, id string) {
		path := "/v1/collections/" + coll + "/docs/" + id
		if _, err := url.ParseRequestURI(path); err != nil || strings.ContainsAny(path, "?# \t\r\n") {
			t.Skip() // not a request target a client can send
		}
		put := serve(h, "PUT", path, "application/json", `{"f":1}`)
		m := checkAnswer(t, "PUT "+path, put)
		if put.Code != http.StatusOK && put.Code != http.StatusCreated {
			if put.Code != http.StatusBadRequest && put.Code != http.StatusNotFound && put.Code != http.StatusMethodNotAllowed {
				t.Fatalf("PUT %s: status %d: %s", path, put.Code, put.Body)
			}
			return
		}
		dc, errC := url.PathUnescape(coll)
		did, errI := url.PathUnescape(id)
		if errC != nil || errI != nil || !truce.ValidCollectionName(dc) || !truce.ValidID(did) {
			t.Fatalf("PUT %s stored a document for an invalid name or id (%q, %q): %s", path, dc, did, put.Body)
		}
		if m["_id"] != did {
			t.Fatalf("PUT %s: _id %v, want %q", path, m["_id"], did)
		}
		get := serve(h, "GET", path, "", "")
		if g := checkAnswer(t, "GET "+path, get); get.Code != http.StatusOK || g["_version"] != m["_version"] {
			t.Fatalf("GET %s after PUT: %d %s", path, get.Code, get.Body)
		}
		if loc := put.Header().Get("Location"); loc != "" {
			if back := serve(h, "GET", loc, "", ""); back.Code != http.StatusOK {
				t.Fatalf("Location %s of %s: %d %s", loc, path, back.Code, back.Body)
			}
		}
		if del := serve(h, "DELETE", path, "", ""); del.Code != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %s", path, del.Code, del.Body)
		}
	})
}

// FuzzWriteBody sends any body with any Content-Type as a PUT, a POST and
// a PATCH through the handler. Every answer is a success or a problem, and
// a stored document reads back with the same fields.
func FuzzWriteBody(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1}`, "application/json"}, {`{"_id":"x","b":[1,{"c":null}]}`, ""}, {`{"a":1,"a":2}`, "application/json"},
		{`{"_version":1}`, "application/json"}, {`[{"op":"add","path":"/b","value":2}]`, "application/json-patch+json"},
		{`{"a":null}`, "application/merge-patch+json"}, {`{`, "text/plain"}, {`{"a":1e400}`, "application/json; charset=utf-8"},
		{`{"a":"\ud800"}`, "application/json"}, {`{"_x":1}`, "application/vnd.x+json"},
	} {
		f.Add(s[0], s[1])
	}
	h := fuzzHandler(f)
	serve(h, "PUT", "/v1/collections/f/docs/base", "application/json", `{"a":0}`)
	f.Fuzz(func(t *testing.T, body, contentType string) {
		for _, req := range []struct{ method, path string }{
			{"PUT", "/v1/collections/f/docs/p"},
			{"POST", "/v1/collections/f/docs"},
			{"PATCH", "/v1/collections/f/docs/base"},
		} {
			rec := serve(h, req.method, req.path, contentType, body)
			m := checkAnswer(t, req.method+" "+req.path, rec)
			if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
				continue
			}
			loc := req.path
			if id, ok := m["_id"].(string); ok && req.method == "POST" {
				loc = "/v1/collections/f/docs/" + url.PathEscape(id)
			}
			get := serve(h, "GET", loc, "", "")
			if g := checkAnswer(t, "GET "+loc, get); get.Code != http.StatusOK || !sameJSON(g, m) {
				t.Fatalf("%s %s answered %s, GET %s answers %d %s", req.method, req.path, rec.Body, loc, get.Code, get.Body)
			}
		}
	})
}

func sameJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
