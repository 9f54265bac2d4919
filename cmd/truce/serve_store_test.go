package main_test

import (
	"net/http"
	"testing"

	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/internal/testserver"
)

// TestServeStoreManyNodes runs two truce servers on one PostgreSQL
// (--store): what one writes, the other reads, and a conditional update
// through either sees the other's writes.
func TestServeStoreManyNodes(t *testing.T) {
	bin := testserver.Build(t)
	url := pgtest.Start(t)
	a := testserver.Start(t, bin, url)
	b := testserver.Start(t, bin, url)
	for _, srv := range []*testserver.Server{a, b} {
		mustDo(t, "GET", srv.URL+"/readyz", nil, http.StatusOK)
	}
	doc := "/v1/collections/notes/docs/n1"
	put := mustDo(t, "PUT", a.URL+doc, map[string]any{"title": "from a"}, http.StatusCreated)
	got := mustDo(t, "GET", b.URL+doc, nil, http.StatusOK)
	if got.etag != put.etag || got.doc["title"] != "from a" {
		t.Errorf("node b read %v (ETag %s), want what node a wrote (ETag %s)", got.doc, got.etag, put.etag)
	}
	upd := mustDo(t, "PUT", b.URL+doc, map[string]any{"title": "from b"}, http.StatusOK, "If-Match", put.etag)
	mustDo(t, "PUT", a.URL+doc, map[string]any{"title": "stale"}, http.StatusPreconditionFailed, "If-Match", put.etag)
	got = mustDo(t, "GET", a.URL+doc, nil, http.StatusOK)
	if got.etag != upd.etag {
		t.Errorf("node a read ETag %s after node b's update, want %s", got.etag, upd.etag)
	}
	a.Stop()
	b.Stop()
}
