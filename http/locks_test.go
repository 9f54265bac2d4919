package http_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wantLocked checks a 423 names the holder and says when to retry.
func wantLocked(t *testing.T, r *response, owner string) {
	t.Helper()
	p := r.want(t, 423, "locked").JSON(t)
	if p["owner"] != owner || p["expiresAt"] == nil || p["retryable"] != true {
		t.Fatalf("423 without the holder: %s", r.Body)
	}
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
}

func TestLockAPI(t *testing.T) {
	c := mustServe(t)
	lock := "/v1/collections/notes/docs/n1/lock"

	// Bad requests change nothing.
	for _, bad := range []struct{ body, code string }{
		{`{"ttl":"soon"}`, "invalid_parameter"},
		{`{"ttl":"-5s"}`, "invalid_parameter"},
		{`{"wait":"x"}`, "invalid_parameter"},
		{`{"ttl":true}`, "invalid_parameter"},
		{`{"owner":"a\u0007"}`, "invalid_parameter"},
		{`{"tll":"30s"}`, "invalid_json"},
		{`[1]`, "invalid_json"},
	} {
		c.do("POST", lock, bad.body).want(t, 400, bad.code)
	}
	c.do("POST", lock+"?ttl=5s", nil).want(t, 400, "invalid_parameter")
	c.do("POST", "/v1/collections/notes/docs/a%2Fb/lock", nil).want(t, 400, "invalid_id")
	c.do("GET", lock, nil).want(t, 404, "not_found")

	r := c.do("POST", lock, `{"ttl":"30s","owner":"alice"}`).want(t, 201, "")
	body := r.JSON(t)
	tok, _ := body["token"].(string)
	if tok == "" || r.Header.Get("Lock-Token") != tok || body["owner"] != "alice" || body["expiresAt"] == nil ||
		r.Header.Get("Location") != lock {
		t.Fatalf("lock answer %s %v", r.Body, r.Header)
	}
	exp, err := time.Parse(time.RFC3339, body["expiresAt"].(string))
	if err != nil || time.Until(exp) < 25*time.Second || time.Until(exp) > 31*time.Second {
		t.Fatalf("expiresAt %v", body["expiresAt"])
	}
	// Anyone sees the lock, without its token.
	g := c.do("GET", lock, nil).want(t, 200, "").JSON(t)
	if g["owner"] != "alice" || g["token"] != nil || g["expiresAt"] != body["expiresAt"] {
		t.Fatalf("GET lock %v", g)
	}
	wantLocked(t, c.do("POST", lock, `{"owner":"bob"}`), "alice")

	// Renew: 200 with a later expiry; a numeric ttl is seconds; the Coded-URL form works too.
	rn := c.do("POST", lock, `{"ttl":120}`, "Lock-Token: <"+tok+">").want(t, 200, "").JSON(t)
	if exp2, _ := time.Parse(time.RFC3339, rn["expiresAt"].(string)); !exp2.After(exp) || rn["token"] != tok {
		t.Fatalf("renewed %v", rn)
	}
	c.do("POST", lock, `{}`, "Lock-Token: nope").want(t, 409, "lock_token_mismatch")
	c.do("POST", lock, `{}`, "Lock-Token: a b").want(t, 400, "invalid_precondition")

	// Release: the holder's token only.
	c.do("DELETE", lock, nil, "Lock-Token: nope").want(t, 409, "lock_token_mismatch")
	c.do("DELETE", lock, nil).want(t, 400, "invalid_precondition")
	c.do("DELETE", lock+"?force=maybe", nil).want(t, 400, "invalid_parameter")
	c.do("DELETE", lock, nil, "Lock-Token: "+tok).want(t, 204, "")
	c.do("GET", lock, nil).want(t, 404, "not_found")
	c.do("DELETE", lock, nil, "Lock-Token: "+tok).want(t, 412, "lock_expired")
	c.do("POST", lock, `{}`, "Lock-Token: "+tok).want(t, 412, "lock_expired")

	// Force-break: any lock, no token.
	c.do("DELETE", lock+"?force=true", nil).want(t, 404, "not_found")
	c.do("POST", lock, nil).want(t, 201, "")
	c.do("DELETE", lock+"?force=true", nil).want(t, 204, "")
	c.do("GET", lock, nil).want(t, 404, "not_found")
}

// TestLockFencesEveryWritePath: every write route reads the Lock-Token
// header: while a document is locked, a write without it is 423 naming
// the holder with Retry-After; with it, every write goes through; after
// release the token is 412 lock_expired. (The fencing rules are truce's
// TestLockFencesEveryWritePath.)
func TestLockFencesEveryWritePath(t *testing.T) {
	c := mustServe(t)
	cid := openConflict(t, c, "notes", "d") // d at version 2, an open conflict
	doc := "/v1/collections/notes/docs/d"
	r := c.do("POST", doc+"/lock", `{"owner":"alice","ttl":"1m"}`).want(t, 201, "")
	tok := "Lock-Token: " + r.Header.Get("Lock-Token")
	etag := func() string { return c.do("GET", doc, nil).want(t, 200, "").Header.Get("ETag") }

	type write struct {
		name, method, path, body string
		headers                  []string
	}
	writes := func() []write {
		return []write{
			{"PUT", "PUT", doc, `{"title":"t"}`, nil},
			{"PATCH merge", "PATCH", doc, `{"title":"m"}`, []string{"Content-Type: application/merge-patch+json"}},
			{"PATCH json", "PATCH", doc, `[{"op":"replace","path":"/title","value":"j"}]`, []string{"Content-Type: application/json-patch+json"}},
			{"restore", "POST", doc + "/versions/1/restore", "", nil},
			{"resolve", "POST", "/v1/conflicts/" + cid + "/resolve", `{"strategy":"take-proposed"}`, []string{"If-Match: " + etag()}},
			{"DELETE", "DELETE", doc, "", nil},
		}
	}
	for _, w := range writes() {
		var body any
		if w.body != "" {
			body = w.body
		}
		wantLocked(t, c.do(w.method, w.path, body, w.headers...), "alice")
	}
	// POST with the locked _id: the document must not exist for a create.
	wantLocked(t, c.do("POST", "/v1/collections/notes/docs", `{"_id":"d","x":1}`), "alice")

	for i := range writes() {
		w := writes()[i] // afresh: the resolve needs the ETag as it is now
		var body any
		if w.body != "" {
			body = w.body
		}
		r := c.do(w.method, w.path, body, append(w.headers, tok)...)
		if r.Status != 200 && r.Status != 204 {
			t.Fatalf("%s with the token: %d %s", w.name, r.Status, r.Body)
		}
	}
	c.do("POST", "/v1/collections/notes/docs", `{"_id":"d","x":1}`, tok).want(t, 201, "")

	c.do("DELETE", doc+"/lock", nil, tok).want(t, 204, "")
	c.do("PUT", doc, `{"x":3}`, tok).want(t, 412, "lock_expired")
	c.do("PUT", doc, `{"x":3}`).want(t, 200, "")
}

// TestLockWaitOverHTTP: a waiting request that disconnects leaves the
// queue; the next waiter gets the lock as soon as the holder releases it.
func TestLockWaitOverHTTP(t *testing.T) {
	c, svc := mustServeService(t)
	lock := "/v1/collections/notes/docs/w/lock"
	tok := c.do("POST", lock, `{"owner":"alice"}`).want(t, 201, "").Header.Get("Lock-Token")

	ctx, cancel := context.WithCancel(context.Background())
	quit := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", c.base+lock, strings.NewReader(`{"owner":"quitter","wait":"1m"}`))
		resp, err := c.hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		quit <- err
	}()
	waitUntil(t, func() bool { return svc.LockWaiters("notes", "w") == 1 })
	cancel()
	if err := <-quit; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	waitUntil(t, func() bool { return svc.LockWaiters("notes", "w") == 0 })

	got := make(chan *response, 1)
	go func() { got <- c.do("POST", lock, `{"owner":"bob","wait":"1m"}`) }()
	waitUntil(t, func() bool { return svc.LockWaiters("notes", "w") == 1 })
	c.do("DELETE", lock, nil, "Lock-Token: "+tok).want(t, 204, "")
	r := <-got
	if r.want(t, 201, "").JSON(t)["owner"] != "bob" {
		t.Fatalf("waiter got %s", r.Body)
	}
	// A wait that runs out is 423 with the holder.
	wantLocked(t, c.do("POST", lock, `{"owner":"carol","wait":"100ms"}`), "bob")
}

func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLockEndsByItself: a holder that stops renewing loses the lock at its
// ttl with no action from anyone; its later write is 412 lock_expired, and
// once another client holds the lock, 423.
func TestLockEndsByItself(t *testing.T) {
	c := mustServe(t)
	doc := "/v1/collections/notes/docs/e"
	tok := "Lock-Token: " + c.do("POST", doc+"/lock", `{"owner":"ann","ttl":"200ms"}`).want(t, 201, "").Header.Get("Lock-Token")
	c.do("PUT", doc, `{"x":1}`, tok).want(t, 201, "")
	time.Sleep(300 * time.Millisecond)
	c.do("GET", doc+"/lock", nil).want(t, 404, "not_found")
	c.do("PUT", doc, `{"x":2}`, tok).want(t, 412, "lock_expired")
	c.do("POST", doc+"/lock", `{"owner":"bob"}`).want(t, 201, "")
	wantLocked(t, c.do("PUT", doc, `{"x":2}`, tok), "bob")
	if v := c.do("GET", doc, nil).JSON(t)["x"]; v != float64(1) {
		t.Fatalf("x = %v after refused writes", v)
	}
}
