package http_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
)

func TestGetManyHTTP(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/m/docs/a", `{"n":1}`).want(t, http.StatusCreated, "")
	b := c.do("PUT", "/v1/collections/m/docs/b", `{"n":2}`).want(t, http.StatusCreated, "")
	c.do("PUT", "/v1/collections/m/docs/gone", `{"n":3}`).want(t, http.StatusCreated, "")
	c.do("DELETE", "/v1/collections/m/docs/gone", nil).want(t, http.StatusNoContent, "")
	a := c.do("GET", "/v1/collections/m/docs/a", nil).want(t, http.StatusOK, "")

	r := c.do("POST", "/v1/collections/m/docs:get", `{"ids":["b","missing","a","gone","b"]}`).want(t, http.StatusOK, "")
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	got := r.JSON(t)
	items := got["items"].([]any)
	want := []struct {
		id    string
		found bool
		etag  string
	}{{"b", true, b.Header.Get("ETag")}, {"missing", false, ""}, {"a", true, a.Header.Get("ETag")}, {"gone", false, ""}, {"b", true, b.Header.Get("ETag")}}
	if len(items) != len(want) || got["asOf"] != float64(4) {
		t.Fatalf("answer: %s", r.Body)
	}
	for i, w := range want {
		it := items[i].(map[string]any)
		if it["id"] != w.id || it["found"] != w.found {
			t.Fatalf("item %d: %v, want id %s found %v", i, it, w.id, w.found)
		}
		if !w.found {
			if _, ok := it["document"]; ok {
				t.Errorf("item %d (missing) has a document: %v", i, it)
			}
			continue
		}
		doc := it["document"].(map[string]any)
		if it["etag"] != w.etag || doc["_id"] != w.id || doc["_version"] != float64(1) {
			t.Errorf("item %d: %v, want etag %s", i, it, w.etag)
		}
	}
	c.do("POST", "/v1/collections/m/docs:get", `{"ids":[]}`).want(t, http.StatusOK, "")

	many := make([]string, truce.MaxGetMany+1)
	for i := range many {
		many[i] = `"x"`
	}
	for _, tc := range []struct {
		path, body, code string
		status           int
	}{
		{"/v1/collections/m/docs:get", `{"ids":[` + strings.Join(many, ",") + `]}`, "invalid_parameter", 400},
		{"/v1/collections/m/docs:get", `{"ids":["a","no/slash"]}`, "invalid_id", 400},
		{"/v1/collections/m/docs:get", `{"ids":"a"}`, "invalid_parameter", 400},
		{"/v1/collections/m/docs:get", `{"id":["a"]}`, "invalid_parameter", 400},
		{"/v1/collections/m/docs:get", `{}`, "invalid_parameter", 400},
		{"/v1/collections/m/docs:get", `{"ids":[`, "invalid_json", 400},
		{"/v1/collections/nope/docs:get", `{"ids":["a"]}`, "not_found", 404},
	} {
		c.do("POST", tc.path, tc.body).want(t, tc.status, tc.code)
	}
}

func TestGetManyAuth(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	r := s.send("POST", "/v1/collections/orders/docs:get", tokReader, `{"ids":["o1"]}`).want(t, http.StatusOK, "")
	if items := r.JSON(t)["items"].([]any); items[0].(map[string]any)["found"] != true {
		t.Fatalf("reader: %s", r.Body)
	}
	s.send("POST", "/v1/collections/orders/docs:get", tokOther, `{"ids":["o1"]}`).want(t, http.StatusForbidden, "forbidden")
	s.send("POST", "/v1/collections/orders/docs:get", "", `{"ids":["o1"]}`).want(t, http.StatusUnauthorized, "unauthorized")
}

func TestExpiryHTTP(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/sessions", `{"ttl":"24h"}`).want(t, http.StatusCreated, "")
	if got := c.do("GET", "/v1/collections/sessions", nil).want(t, http.StatusOK, "").JSON(t)["settings"].(map[string]any)["ttl"]; got != "24h" {
		t.Fatalf("settings ttl %v", got)
	}
	c.do("PUT", "/v1/collections/bad", `{"ttl":"often"}`).want(t, http.StatusBadRequest, "invalid_settings")
	doc := c.do("PUT", "/v1/collections/sessions/docs/s1", `{"user":"ann"}`).want(t, http.StatusCreated, "").JSON(t)
	exp, err := time.Parse(time.RFC3339, doc["_expiresAt"].(string))
	if err != nil || exp.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("_expiresAt under ttl 24h: %v (%v)", doc["_expiresAt"], err)
	}
	soon := time.Now().Add(time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	doc = c.do("PATCH", "/v1/collections/sessions/docs/s1", `{"_expiresAt":"`+soon+`"}`, "Content-Type: application/merge-patch+json").want(t, http.StatusOK, "").JSON(t)
	if doc["_expiresAt"] != strings.TrimSuffix(soon, "Z")+".000Z" || doc["user"] != "ann" {
		t.Fatalf("after a patch of _expiresAt: %v", doc)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	c.do("PUT", "/v1/collections/sessions/docs/s1", `{"_expiresAt":"`+past+`"}`).want(t, http.StatusBadRequest, "invalid_document")
	c.do("PUT", "/v1/collections/sessions/docs/s1", `{"_expiresAt":"monday"}`).want(t, http.StatusBadRequest, "invalid_document")
	c.do("PUT", "/v1/collections/sessions/docs/s1", `{"_other":1}`).want(t, http.StatusBadRequest, "reserved_field")
	if v := c.do("GET", "/v1/collections/sessions/docs/s1", nil).want(t, http.StatusOK, "").JSON(t)["_version"]; v != float64(2) {
		t.Fatalf("refused writes changed the document: version %v", v)
	}
}
