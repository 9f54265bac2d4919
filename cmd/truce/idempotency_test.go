package main_test

import (
	"net/http"
	"testing"

	"github.com/trucedb/truce/internal/testserver"
)

// TestIdempotencyReplayAfterRestart: the answer to an Idempotency-Key is
// durable with the write it answers, so a retry after a crash (kill -9)
// gets the same answer and creates nothing new.
func TestIdempotencyReplayAfterRestart(t *testing.T) {
	bin := testserver.Build(t)
	dir := t.TempDir()
	srv := testserver.Start(t, bin, dir)
	first := mustDo(t, "POST", srv.URL+"/v1/collections/orders/docs", map[string]any{"item": "book"}, 201, "Idempotency-Key", "order-1")
	srv.Kill()

	srv = testserver.Start(t, bin, dir)
	again, err := do(http.DefaultClient, "POST", srv.URL+"/v1/collections/orders/docs", map[string]any{"item": "book"}, "Idempotency-Key", "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if again.status != 201 || string(again.raw) != string(first.raw) || again.etag != first.etag {
		t.Fatalf("after restart: %d %s, want the first answer %s", again.status, again.raw, first.raw)
	}
	list := mustDo(t, "GET", srv.URL+"/v1/collections/orders/docs", nil, 200)
	if items := list.doc["items"].([]any); len(items) != 1 {
		t.Fatalf("%d orders after a replayed POST", len(items))
	}
	mustDo(t, "POST", srv.URL+"/v1/collections/orders/docs", map[string]any{"item": "pen"}, 422, "Idempotency-Key", "order-1")
	srv.Stop()
}
