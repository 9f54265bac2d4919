package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// mustServeQuery serves a Service with the given options and a collection
// "orders" indexed on status and total.
func mustServeQuery(tb testing.TB, opts truce.Options) (*client, *truce.Service) {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	svc := truce.NewService(store, opts)
	srv := httptest.NewServer(trucehttp.NewHandler(svc, trucehttp.Options{}))
	tb.Cleanup(func() { srv.Close(); store.Close() })
	c := &client{tb: tb, base: srv.URL, hc: srv.Client()}
	c.do("PUT", "/v1/collections/orders", `{"indexes":[["status","total"]]}`).want(tb, http.StatusCreated, "")
	for i, body := range []string{`{"status":"open","total":5}`, `{"status":"open","total":50}`, `{"status":"closed","total":7}`} {
		c.do("PUT", "/v1/collections/orders/docs/o"+string(rune('1'+i)), body).want(tb, http.StatusCreated, "")
	}
	return c, svc
}

func TestQueryHTTP(t *testing.T) {
	c, _ := mustServeQuery(t, truce.Options{})
	r := c.do("POST", "/v1/collections/orders/query", `{"where":{"status":"open","total":{"$gte":1}},"orderBy":[{"field":"total","desc":true}],"limit":1,"fields":["total"]}`).want(t, http.StatusOK, "")
	page := r.JSON(t)
	items := page["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["_id"] != "o2" || items[0].(map[string]any)["_version"] != float64(1) ||
		items[0].(map[string]any)["status"] != nil || page["next"] == nil || page["asOf"] != float64(4) {
		t.Fatalf("first page: %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("ETag") != "" {
		t.Errorf("headers: %v", r.Header)
	}
	r = c.do("POST", "/v1/collections/orders/query", `{"where":{"status":"open","total":{"$gte":1}},"orderBy":[{"field":"total","desc":true}],"limit":1,"fields":["total"],"after":"`+page["next"].(string)+`"}`).want(t, http.StatusOK, "")
	if p := r.JSON(t); p["next"] != nil || p["items"].([]any)[0].(map[string]any)["_id"] != "o1" {
		t.Fatalf("last page: %s", r.Body)
	}
	// The change feed continues from asOf.
	c.do("PUT", "/v1/collections/orders/docs/o4", `{"status":"open","total":6}`).want(t, http.StatusCreated, "")
	ch := c.do("GET", "/v1/changes?since=4", nil).want(t, http.StatusOK, "").JSON(t)
	if evs := ch["items"].([]any); len(evs) != 1 || evs[0].(map[string]any)["id"] != "o4" {
		t.Errorf("changes since asOf: %v", ch)
	}

	for _, tc := range []struct {
		body, code, pointer string
		status              int
	}{
		{`{"where":{"total":{"$regex":"x"}}}`, "invalid_query", "/where/total/$regex", 400},
		{`{"where":{"status":{"$in":"open"}}}`, "invalid_query", "/where/status/$in", 400},
		{`{"where":{},"after":"q1.AAAA"}`, "invalid_query", "/after", 400},
		{`{"wher":{}}`, "invalid_query", "/wher", 400},
		{`{"limit":"x"}`, "invalid_query", "/limit", 400},
		{`{"where":{"total":5}}`, "index_required", "", 400},
		{`{"where":`, "invalid_json", "", 400},
		{`[]`, "invalid_query", "", 400},
	} {
		r := c.do("POST", "/v1/collections/orders/query", tc.body).want(t, tc.status, tc.code)
		p := r.JSON(t)
		if tc.pointer != "" {
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["pointer"] != tc.pointer {
				t.Errorf("%s: errors %v, want pointer %s", tc.body, p["errors"], tc.pointer)
			}
		}
		if tc.code == "index_required" && !strings.Contains(p["detail"].(string), `["total"]`) {
			t.Errorf("index_required names no index: %s", r.Body)
		}
	}
	c.do("POST", "/v1/collections/nope/query", `{}`).want(t, http.StatusNotFound, "not_found")
	c.do("POST", "/v1/collections/orders/query?scan=true", `{}`).want(t, http.StatusBadRequest, "invalid_parameter")
	c.do("POST", "/v1/collections/orders/query", `{}`, "Content-Type: text/plain").want(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	c.do("GET", "/v1/collections/orders/query", nil).want(t, http.StatusMethodNotAllowed, "method_not_allowed")

	// A query is a read: an Idempotency-Key does not make its answer stick,
	// nor does reusing the key for another query refuse it.
	a := c.do("POST", "/v1/collections/orders/query", `{"where":{"status":"open"}}`, "Idempotency-Key: k1").want(t, http.StatusOK, "")
	b := c.do("POST", "/v1/collections/orders/query", `{"where":{"status":"closed"}}`, "Idempotency-Key: k1").want(t, http.StatusOK, "")
	if a.Header.Get("Idempotent-Replayed") != "" || b.Header.Get("Idempotent-Replayed") != "" || string(a.Body) == string(b.Body) {
		t.Errorf("a query went through the idempotency layer: %s / %s", a.Body, b.Body)
	}
	for _, code := range []string{"invalid-query", "index-required", "scan-too-large", "index-building"} {
		c.do("GET", "/problems/"+code, nil).want(t, http.StatusOK, "")
	}
}

func TestQueryHTTPScanAndBuild(t *testing.T) {
	c, svc := mustServeQuery(t, truce.Options{MaxScanDocs: 2})
	r := c.do("POST", "/v1/collections/orders/query", `{"where":{"total":7},"scan":true}`).want(t, http.StatusBadRequest, "scan_too_large")
	if !strings.Contains(r.JSON(t)["detail"].(string), "2 documents") {
		t.Errorf("scan_too_large: %s", r.Body)
	}
	c.do("POST", "/v1/collections/orders/query", `{"where":{"total":7},"scan":true,"limit":1}`).want(t, http.StatusBadRequest, "scan_too_large")
	c.do("POST", "/v1/collections/orders/query", `{"where":{"status":"open"},"scan":true}`).want(t, http.StatusOK, "")

	// An index added to a collection with documents builds in the
	// background: the collection says so, and a query that needs it is
	// 503 with Retry-After until it is done.
	c.do("PUT", "/v1/collections/orders", `{"indexes":[["status","total"],["total"]]}`).want(t, http.StatusOK, "")
	info := c.do("GET", "/v1/collections/orders", nil).want(t, http.StatusOK, "").JSON(t)
	if info["building"] != true {
		t.Errorf("collection while building: %v", info)
	}
	r = c.do("POST", "/v1/collections/orders/query", `{"where":{"total":7}}`).want(t, http.StatusServiceUnavailable, "index_building")
	if r.Header.Get("Retry-After") == "" || r.JSON(t)["retryable"] != true {
		t.Errorf("index_building: %v %s", r.Header, r.Body)
	}
	if err := svc.BuildIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	info = c.do("GET", "/v1/collections/orders", nil).want(t, http.StatusOK, "").JSON(t)
	if info["building"] != false || !strings.Contains(string(c.do("GET", "/v1/collections/orders", nil).Body), `"indexes":[["status","total"],["total"]]`) {
		t.Errorf("collection after the build: %v", info)
	}
	r = c.do("POST", "/v1/collections/orders/query", `{"where":{"total":7}}`).want(t, http.StatusOK, "")
	if items := r.JSON(t)["items"].([]any); len(items) != 1 {
		t.Errorf("after the build: %s", r.Body)
	}
	c.do("PUT", "/v1/collections/orders", `{"indexes":[["a.."]]}`).want(t, http.StatusBadRequest, "invalid_settings")
}

// TestQueryHTTPScopes: a query needs read: on its collection, as a GET of
// its documents does, though it is a POST.
func TestQueryHTTPScopes(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	for _, tc := range []struct {
		token  string
		status int
	}{
		{tokReader, http.StatusOK},
		{tokWriter, http.StatusOK},
		{tokAdmin, http.StatusOK},
		{tokOther, http.StatusForbidden},
		{"", http.StatusUnauthorized},
	} {
		r := s.send("POST", "/v1/collections/orders/query", tc.token, `{}`)
		if r.Status != tc.status {
			t.Errorf("token %q: status %d, want %d: %s", tc.token, r.Status, tc.status, r.Body)
		}
	}
	r := s.send("POST", "/v1/collections/orders/query", tokOther, `{}`)
	if !strings.Contains(string(r.Body), `"scope":"read:orders"`) {
		t.Errorf("403 names no scope: %s", r.Body)
	}
}
