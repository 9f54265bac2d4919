package client_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/trucedb/truce/client"
)

// TestLostAnswerIsReplayed: the server commits a POST but the answer is
// lost on the way back; the client retries with the same Idempotency-Key
// and gets the first answer, so exactly one document exists.
func TestLostAnswerIsReplayed(t *testing.T) {
	url := mustServe(t)
	ctx := testCtx(t)
	lose := func(req *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return nil, errors.New("connection reset after the server answered")
	}
	c, ft := newFaults(t, url, []fault{lose}, client.WithRetry(client.RetryPolicy{BaseDelay: 1, MaxDelay: 1}))
	doc, err := c.Create(ctx, "orders", map[string]any{"item": "book"})
	if err != nil {
		t.Fatal(err)
	}
	log := ft.log()
	if len(log) != 2 || log[0].Header.Get("Idempotency-Key") == "" || log[0].Header.Get("Idempotency-Key") != log[1].Header.Get("Idempotency-Key") {
		t.Fatalf("attempts %+v", log)
	}
	n := 0
	for d, err := range c.List(ctx, "orders") {
		if err != nil {
			t.Fatal(err)
		}
		if d.ID != doc.ID {
			t.Fatalf("a second order %s besides %s", d.ID, doc.ID)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d orders after a retried POST, want 1", n)
	}
}
