package http_test

import (
	"sync"
	"testing"
)

func TestIdempotencyKey(t *testing.T) {
	c := mustServe(t)
	first := c.do("POST", "/v1/collections/orders/docs", `{"item":"book"}`, "Idempotency-Key: k1").want(t, 201, "")
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first answer marked replayed")
	}
	again := c.do("POST", "/v1/collections/orders/docs", `{"item":"book"}`, "Idempotency-Key: k1").want(t, 201, "")
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) ||
		again.Header.Get("ETag") != first.Header.Get("ETag") || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("replay differs:\n%s %v\n%s %v", first.Body, first.Header, again.Body, again.Header)
	}
	if n := c.do("GET", "/v1/collections/orders", nil).JSON(t)["counts"].(map[string]any)["documents"]; n != float64(1) {
		t.Fatalf("%v documents after a retried POST", n)
	}
	c.do("POST", "/v1/collections/orders/docs", `{"item":"pen"}`, "Idempotency-Key: k1").want(t, 422, "idempotency_key_reused")
	c.do("PUT", "/v1/collections/orders/docs/x", `{"item":"book"}`, "Idempotency-Key: k1").want(t, 422, "idempotency_key_reused")
	c.do("POST", "/v1/collections/orders/docs", `{}`, `Idempotency-Key: "quoted"`).want(t, 201, "")
	c.do("POST", "/v1/collections/orders/docs", `{}`, "Idempotency-Key: ").want(t, 400, "invalid_idempotency_key")
	c.do("POST", "/v1/collections/orders/docs", `{}`, `Idempotency-Key: "a b"`).want(t, 400, "invalid_idempotency_key")

	// A refused write is answered the same way again, even after the state changed.
	c.do("PUT", "/v1/collections/orders/docs/y", `{"v":1}`, "If-Match: *", "Idempotency-Key: k2").want(t, 412, "precondition_failed")
	c.do("PUT", "/v1/collections/orders/docs/y", `{"v":0}`).want(t, 201, "")
	r := c.do("PUT", "/v1/collections/orders/docs/y", `{"v":1}`, "If-Match: *", "Idempotency-Key: k2").want(t, 412, "precondition_failed")
	if r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("refusal not replayed")
	}
	// DELETE replays 204 rather than 404.
	c.do("DELETE", "/v1/collections/orders/docs/y", nil, "Idempotency-Key: k3").want(t, 204, "")
	c.do("DELETE", "/v1/collections/orders/docs/y", nil, "Idempotency-Key: k3").want(t, 204, "")
	// Keys are per caller and independent of GET.
	c.do("GET", "/v1/collections/orders/docs/y", nil, "Idempotency-Key: k3").want(t, 404, "not_found")
}

// TestIdempotencyConcurrentDuplicates: 20 copies of one POST with one key
// race; exactly one document is created and every answer is that one
// (201) or "still in flight" (409 idempotency_key_in_use).
func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	c := mustServe(t)
	const n = 20
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do("POST", "/v1/collections/pay/docs", `{"amount":5}`, "Idempotency-Key: same")
			statuses[i], bodies[i] = r.Status, string(r.Body)
			if r.Status == 409 && r.Header.Get("Retry-After") == "" {
				t.Error("409 in_use without Retry-After")
			}
		}()
	}
	wg.Wait()
	var created string
	for i, s := range statuses {
		switch s {
		case 201:
			if created != "" && bodies[i] != created {
				t.Fatalf("two different creations:\n%s\n%s", created, bodies[i])
			}
			created = bodies[i]
		case 409:
		default:
			t.Fatalf("status %d: %s", s, bodies[i])
		}
	}
	if n := c.do("GET", "/v1/collections/pay", nil).JSON(t)["counts"].(map[string]any)["documents"]; n != float64(1) {
		t.Fatalf("%v documents, want 1 (statuses %v)", n, statuses)
	}
}
