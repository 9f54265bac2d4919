package main_test

import (
	"testing"

	"github.com/trucedb/truce/internal/testserver"
)

// TestServeTransactions runs the real binary with the transaction flags:
// --max-tx-ops limits a batch, and an interactive transaction staged
// before a kill -9 commits after the restart.
func TestServeTransactions(t *testing.T) {
	bin := testserver.Build(t)
	dir := t.TempDir()
	srv := testserver.Start(t, bin, dir, "--max-tx-ops", "2", "--max-tx-ttl", "1m")
	put := func(id string) map[string]any {
		return map[string]any{"op": "put", "collection": "c", "id": id, "document": map[string]any{"n": 1}}
	}
	tooMany := mustDo(t, "POST", srv.URL+"/v1/tx", map[string]any{"ops": []any{put("a"), put("b"), put("c")}}, 400)
	if tooMany.doc["code"] != "too_many_ops" {
		t.Fatalf("3 ops with --max-tx-ops 2: %s", tooMany.raw)
	}
	mustDo(t, "POST", srv.URL+"/v1/tx", map[string]any{"ops": []any{put("a"), put("b")}}, 200)

	begun := mustDo(t, "POST", srv.URL+"/v1/transactions", map[string]any{"ttl": "30s"}, 201)
	id, _ := begun.doc["id"].(string)
	mustDo(t, "PUT", srv.URL+"/v1/collections/c/docs/a", map[string]any{"n": 2}, 202, "Truce-Transaction", id)
	srv.Kill()

	srv = testserver.Start(t, bin, dir)
	mustDo(t, "POST", srv.URL+"/v1/transactions/"+id+"/commit", nil, 200)
	if got := mustDo(t, "GET", srv.URL+"/v1/collections/c/docs/a", nil, 200); got.doc["n"] != 2.0 {
		t.Errorf("after the commit: %s", got.raw)
	}
	srv.Stop()
}
