package loadgen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/internal/loadgen"
)

// TestTruceNodesSpreadClients runs the update workload against two nodes
// of one store and checks that each client sends its operations to its
// own node, client i to node i mod 2, and seeding to the first.
func TestTruceNodesSpreadClients(t *testing.T) {
	h := mustHandler(t, trucehttp.Options{})
	var requests [2]atomic.Int64
	var nodes [2]*httptest.Server
	for i := range nodes {
		nodes[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests[i].Add(1)
			h.ServeHTTP(w, r)
		}))
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Close()
		}
	})
	target, err := loadgen.NewTruceNodes([]string{nodes[0].URL, nodes[1].URL}, "bench", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	spec, _ := loadgen.Lookup("update")
	w, err := spec.New(target)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	op, err := w.Prepare(ctx, loadgen.Config{Clients: 2, Docs: 10, DocSize: 256}) // each client has its own body to stamp
	if err != nil {
		t.Fatal(err)
	}
	seeded := requests[0].Load()
	if seeded < 11 || requests[1].Load() != 0 { // the collection and 10 documents
		t.Fatalf("seeding sent %d and %d requests to the nodes; want at least 11 to the first only", seeded, requests[1].Load())
	}
	// One client: all its operations go to node 0.
	if _, err := loadgen.Run(ctx, op, loadgen.RunOptions{Clients: 1, Count: 20}); err != nil {
		t.Fatal(err)
	}
	if requests[1].Load() != 0 {
		t.Errorf("client 0 sent %d requests to node 1", requests[1].Load())
	}
	// Two clients: node 1 gets client 1's.
	before := requests[0].Load()
	if _, err := loadgen.Run(ctx, op, loadgen.RunOptions{Clients: 2, Duration: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if requests[0].Load() == before || requests[1].Load() == 0 {
		t.Errorf("with two clients the nodes got %d and %d requests; want some each", requests[0].Load()-before, requests[1].Load())
	}
	if got, want := target.URL(), nodes[0].URL+","+nodes[1].URL; got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}
