package http_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
	"github.com/trucedb/truce/auth/authtest"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// The tokens of the auth tests, by what they may do.
const (
	tokAdmin  = "truce_admin"
	tokReader = "truce_reader" // read:orders
	tokWriter = "truce_writer" // write:orders
	tokOther  = "truce_other"  // read:other, write:other
)

// authServer is a server with an auth file of the tokens above, over a
// store holding orders/o1, a recorded conflict on it and a transaction
// that the writer began.
type authServer struct {
	*client
	svc      *truce.Service
	handler  *trucehttp.Handler
	file     *auth.File // what authFile holds; keeper reloads it
	authFile string
	keeper   *auth.Keeper
	conflict string
	txid     string
}

func mustAuthServer(tb testing.TB, opts trucehttp.Options) *authServer {
	tb.Helper()
	keeper, path := authtest.Keeper(tb,
		authtest.Token{Name: "admin", Token: tokAdmin, Scopes: []string{"admin"}},
		authtest.Token{Name: "reader", Token: tokReader, Scopes: []string{"read:orders"}},
		authtest.Token{Name: "writer", Token: tokWriter, Scopes: []string{"write:orders"}},
		authtest.Token{Name: "other", Token: tokOther, Scopes: []string{"read:other", "write:other"}},
	)
	f, err := auth.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	svc := truce.NewService(store, truce.Options{})
	opts.Auth = keeper
	h := trucehttp.NewHandler(svc, opts)
	srv := httptest.NewServer(checked(tb, h))
	tb.Cleanup(func() { srv.Close(); store.Close() })
	s := &authServer{client: &client{tb: tb, base: srv.URL, hc: srv.Client()}, svc: svc, handler: h,
		file: f, authFile: path, keeper: keeper}

	ctx := context.Background()
	if _, _, err := svc.PutCollection(ctx, "orders", truce.Settings{ConflictPolicy: truce.PolicyManual}); err != nil {
		tb.Fatal(err)
	}
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		if _, err := svc.Put(ctx, "orders", "o1", []byte(body), truce.Precondition{}, nil); err != nil {
			tb.Fatal(err)
		}
	}
	_, err = svc.Put(ctx, "orders", "o1", []byte(`{"n":3,"_version":1}`), truce.Precondition{}, nil)
	var te *truce.Error
	if !errorsAs(err, &te) || te.ConflictID == "" {
		tb.Fatalf("no conflict recorded: %v", err)
	}
	s.conflict = te.ConflictID
	writer := keeper.Set().Authenticate(tokWriter)
	tr, err := svc.BeginTransaction(truce.WithCaller(ctx, truce.Caller{ID: writer.Key(), Name: writer.Name}), time.Minute, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	s.txid = tr.ID
	return s
}

// begin begins a transaction as token and returns its id.
func (s *authServer) begin(token string) string {
	s.tb.Helper()
	id, _ := s.send("POST", "/v1/transactions", token, "").want(s.tb, http.StatusCreated, "").JSON(s.tb)["id"].(string)
	return id
}

func errorsAs(err error, te **truce.Error) bool {
	e, ok := err.(*truce.Error)
	*te = e
	return ok
}

// send sends a request as token ("" for none) and returns once the answer's
// header is in; a stream's body is not waited for.
func (s *authServer) send(method, path, token, body string, headers ...string) *response {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		s.tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out []byte
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		out, _ = io.ReadAll(resp.Body)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// routeRequest is a concrete request for a route's pattern.
type routeRequest struct {
	method, path, body string
	headers            []string
}

func (s *authServer) requestFor(rt trucehttp.RouteAccess) routeRequest {
	method, pattern, _ := strings.Cut(rt.Pattern, " ")
	path := strings.NewReplacer("{c}", "orders", "{id}", "o1", "{n}", "1", "{cid}", s.conflict,
		"{tid}", s.txid, "{name}", "version-conflict", "{$}", "").Replace(pattern)
	req := routeRequest{method: method, path: path}
	switch {
	case rt.Pattern == "PUT /v1/collections/{c}":
		req.body = `{"conflictPolicy":"manual"}`
	case method == "POST" && strings.HasSuffix(pattern, "/docs"), method == "PUT":
		req.body = `{"n":9}`
	case method == "PATCH":
		req.body, req.headers = `{"n":8}`, []string{"Content-Type: application/merge-patch+json"}
	case strings.HasSuffix(pattern, "/lock") && method == "POST":
		req.body = `{"ttl":"30s"}`
	case strings.HasSuffix(pattern, "/resolve"):
		req.body = `{"strategy":"keep-current"}`
	case pattern == "/v1/tx":
		req.body = `{"ops":[{"op":"check","collection":"orders","id":"o1"},{"op":"put","collection":"orders","id":"o2","document":{}}]}`
	case pattern == "/v1/transactions":
		req.body = `{"ttl":"30s"}`
	}
	if rt.Transaction {
		req.headers = append(req.headers, trucehttp.TransactionHeader+": "+s.txid)
	}
	return req
}

// anyTokenWithoutScope is what a token with no scope on orders gets from
// each route that any token may call, deciding per collection itself. A
// route missing here fails the test: every new route needs a decision.
var anyTokenWithoutScope = map[string]struct {
	status int
	scope  string
}{
	"GET /v1/collections":                {http.StatusOK, ""},       // without orders
	"GET /v1/conflicts":                  {http.StatusOK, ""},       // without orders' conflicts
	"GET /v1/conflicts/{cid}":            {http.StatusNotFound, ""}, // not even confirmed to exist
	"POST /v1/conflicts/{cid}/resolve":   {http.StatusNotFound, ""},
	"POST /v1/conflicts/{cid}/dismiss":   {http.StatusNotFound, ""},
	"GET /v1/events":                     {http.StatusOK, ""}, // without orders' events
	"GET /v1/changes":                    {http.StatusOK, ""},
	"POST /v1/tx":                        {http.StatusForbidden, "read:orders"}, // op 0, a check
	"POST /v1/transactions":              {http.StatusCreated, ""},
	"POST /v1/transactions/{tid}/commit": {http.StatusGone, ""}, // the writer's: to others, as if gone
	"DELETE /v1/transactions/{tid}":      {http.StatusGone, ""}, // the writer's: to others, as if gone
}

// TestAuthMatrix: every route of the route tables, as no token, an unknown
// token, a token without the route's scope and a token with it, answers as
// the README's table says: 401 with WWW-Authenticate, 403 naming the
// missing scope, or the route's own answer.
func TestAuthMatrix(t *testing.T) {
	probe := mustAuthServer(t, trucehttp.Options{})
	for _, rt := range trucehttp.Routes(probe.handler) {
		name := rt.Pattern
		if rt.Transaction {
			name += " (in a transaction)"
		}
		t.Run(name, func(t *testing.T) {
			for _, caller := range []string{"none", "unknown", "without", "with"} {
				s := mustAuthServer(t, trucehttp.Options{})
				token := map[string]string{"none": "", "unknown": "truce_nobody", "without": tokOther}[caller]
				if caller == "with" {
					token = map[string]string{"read:{c}": tokReader, "write:{c}": tokWriter, "admin": tokAdmin,
						"a token; per collection": tokWriter, "none": ""}[rt.Access]
					if token != "" && token != tokWriter {
						s.txid = s.begin(token) // its own: the writer's is not
					}
				}
				req := s.requestFor(rt)
				r := s.send(req.method, req.path, token, req.body, req.headers...)
				switch {
				case rt.Access == "none":
					if r.Status == 401 || r.Status == 403 {
						t.Errorf("%s: a public route answered %d", caller, r.Status)
					}
				case caller == "none" || caller == "unknown":
					r.want(t, http.StatusUnauthorized, "unauthorized")
					if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="truce"` {
						t.Errorf("%s: WWW-Authenticate %q", caller, got)
					}
				case caller == "without" && rt.Access == "a token; per collection":
					want, ok := anyTokenWithoutScope[rt.Pattern]
					if !ok {
						t.Fatalf("no expectation for %s in anyTokenWithoutScope: decide what a token without scope on the collection gets", rt.Pattern)
					}
					if r.Status != want.status {
						t.Fatalf("%s: status %d, want %d: %s", caller, r.Status, want.status, r.Body)
					}
					if want.scope != "" {
						r.want(t, http.StatusForbidden, "forbidden")
						if got := r.JSON(t)["scope"]; got != want.scope {
							t.Errorf("scope %v, want %s", got, want.scope)
						}
					} else if strings.Contains(string(r.Body), "orders") ||
						(strings.Contains(string(r.Body), s.conflict) && !strings.Contains(req.path, s.conflict)) { // an id the caller sent may be echoed
						t.Errorf("the answer shows what the token may not read: %s", r.Body)
					}
				case caller == "without":
					r.want(t, http.StatusForbidden, "forbidden")
					want := map[string]string{"read:{c}": "read:orders", "write:{c}": "write:orders", "admin": "admin"}[rt.Access]
					if got := r.JSON(t)["scope"]; got != want {
						t.Errorf("scope %v, want %s", got, want)
					}
				default: // with the scope
					if r.Status == 401 || r.Status == 403 {
						t.Errorf("a token with %s answered %d: %s", rt.Access, r.Status, r.Body)
					}
				}
			}
		})
	}
}

// TestBreakLockNeedsAdmin: a writer may release its own lock but not break
// another's; admin may.
func TestBreakLockNeedsAdmin(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	s.send("POST", "/v1/collections/orders/docs/o1/lock", tokWriter, `{"ttl":"1m"}`).want(t, http.StatusCreated, "")
	r := s.send("DELETE", "/v1/collections/orders/docs/o1/lock?force=true", tokWriter, "").want(t, http.StatusForbidden, "forbidden")
	if r.JSON(t)["scope"] != "admin" {
		t.Errorf("scope %v", r.JSON(t)["scope"])
	}
	s.send("DELETE", "/v1/collections/orders/docs/o1/lock?force=true", tokAdmin, "").want(t, http.StatusNoContent, "")
}

// TestWriterNamedInHistory: a version records the token's name as
// _updatedBy, in the answer, in history and in the change feed.
func TestWriterNamedInHistory(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	r := s.send("PUT", "/v1/collections/orders/docs/w1", tokWriter, `{"n":1}`).want(t, http.StatusCreated, "")
	if r.JSON(t)["_updatedBy"] != "writer" {
		t.Fatalf("_updatedBy in %s", r.Body)
	}
	r = s.send("GET", "/v1/collections/orders/docs/w1/versions", tokReader, "").want(t, http.StatusOK, "")
	if !strings.Contains(string(r.Body), `"updatedBy":"writer"`) {
		t.Fatalf("history %s", r.Body)
	}
	s.send("DELETE", "/v1/collections/orders/docs/w1", tokAdmin, "").want(t, http.StatusNoContent, "")
	r = s.send("GET", "/v1/changes?collection=orders&since=0", tokReader, "").want(t, http.StatusOK, "")
	var page struct{ Items []map[string]any }
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	last := page.Items[len(page.Items)-1]
	if last["type"] != "document.deleted" || last["updatedBy"] != "admin" {
		t.Fatalf("the delete's event %v", last)
	}
}

// TestFeedShowsOnlyReadable: a token that reads one collection gets, from
// the change feed, the events of that collection and the transactions
// wholly inside it, and nothing of another collection; asking for another
// collection by name is 403.
func TestFeedShowsOnlyReadable(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	s.send("PUT", "/v1/collections/other/docs/x", tokAdmin, `{"secret":1}`).want(t, http.StatusCreated, "")
	s.send("POST", "/v1/tx", tokAdmin, `{"ops":[{"op":"put","collection":"orders","id":"t1","document":{}},{"op":"put","collection":"other","id":"t2","document":{"secret":2}}]}`).want(t, http.StatusOK, "")
	s.send("POST", "/v1/tx", tokAdmin, `{"ops":[{"op":"put","collection":"orders","id":"t3","document":{}}]}`).want(t, http.StatusOK, "")
	r := s.send("GET", "/v1/changes?since=0&limit=1000", tokReader, "").want(t, http.StatusOK, "")
	var page struct{ Items []map[string]any }
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	txs := 0
	for _, e := range page.Items {
		if c, ok := e["collection"]; ok && c != "orders" {
			t.Errorf("an event of %v reached a reader of orders: %v", c, e)
		}
		if e["type"] == "transaction.committed" {
			txs++
		}
	}
	if txs != 1 || strings.Contains(string(r.Body), "secret") || strings.Contains(string(r.Body), "t2") {
		t.Errorf("%d transaction events (want the one inside orders), body %s", txs, r.Body)
	}
	s.send("GET", "/v1/changes?collection=other", tokReader, "").want(t, http.StatusForbidden, "forbidden")
	s.send("GET", "/v1/events?collection=other", tokReader, "").want(t, http.StatusForbidden, "forbidden")
	r = s.send("GET", "/v1/collections", tokReader, "").want(t, http.StatusOK, "")
	if strings.Contains(string(r.Body), `"other"`) || !strings.Contains(string(r.Body), `"orders"`) {
		t.Errorf("collections %s", r.Body)
	}
}

// TestInUseHidesUnreadableReferrers: refusing to delete a referenced
// document does not name referrers in collections the token cannot read.
func TestInUseHidesUnreadableReferrers(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	s.send("PUT", "/v1/collections/other", tokAdmin, `{"references":{"order":"orders"}}`).want(t, http.StatusCreated, "")
	s.send("PUT", "/v1/collections/other/docs/secret-ref", tokAdmin, `{"order":"o1"}`).want(t, http.StatusCreated, "")
	r := s.send("DELETE", "/v1/collections/orders/docs/o1", tokWriter, "").want(t, http.StatusConflict, "in_use")
	if strings.Contains(string(r.Body), "secret-ref") {
		t.Fatalf("the problem names a document the token may not read: %s", r.Body)
	}
	r = s.send("DELETE", "/v1/collections/orders/docs/o1", tokAdmin, "").want(t, http.StatusConflict, "in_use")
	if !strings.Contains(string(r.Body), "secret-ref") {
		t.Fatalf("admin does not see the referrer: %s", r.Body)
	}
}

// TestAuthFileReload: a token added to the file works once the server
// reloads it, and a revoked one stops working; a file that breaks keeps
// the tokens that were loaded.
func TestAuthFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.json")
	f := &auth.File{Tokens: []auth.Entry{{Name: "a", SHA256: auth.HashToken("tok-a"), Scopes: []string{"admin"}}}}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	keeper, err := auth.NewKeeper(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := mustServeService(t)
	store, _ := pebble.Open(t.TempDir(), pebble.Options{})
	defer store.Close()
	srv := httptest.NewServer(trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{Auth: keeper}))
	defer srv.Close()
	s := &authServer{client: &client{tb: t, base: srv.URL, hc: c.hc}}
	s.send("GET", "/v1/collections", "tok-a", "").want(t, http.StatusOK, "")
	f.Tokens = []auth.Entry{{Name: "b", SHA256: auth.HashToken("tok-b"), Scopes: []string{"read:*"}}}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Reload(); err != nil {
		t.Fatal(err)
	}
	s.send("GET", "/v1/collections", "tok-a", "").want(t, http.StatusUnauthorized, "unauthorized")
	s.send("GET", "/v1/collections", "tok-b", "").want(t, http.StatusOK, "")
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := keeper.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	s.send("GET", "/v1/collections", "tok-b", "").want(t, http.StatusOK, "")
}

// TestRateLimitOverHTTP: past its burst a caller gets 429 rate_limited
// with Retry-After, and every answer carries RateLimit-Policy and
// RateLimit; a token's own rate applies to it alone; health checks are
// not counted.
func TestRateLimitOverHTTP(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{RateLimit: 1, Burst: 3})
	for i := range 3 {
		r := s.send("GET", "/v1/collections/orders/docs/o1", tokReader, "").want(t, http.StatusOK, "")
		if got, want := r.Header.Get("RateLimit"), `"caller";r=`+string(rune('2'-i))+`;t=`; !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit %q, want %s…", i, got, want)
		}
		if r.Header.Get("RateLimit-Policy") != `"caller";q=3;w=3` {
			t.Errorf("RateLimit-Policy %q", r.Header.Get("RateLimit-Policy"))
		}
	}
	r := s.send("GET", "/v1/collections/orders/docs/o1", tokReader, "").want(t, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") != "1" || r.JSON(t)["retryable"] != true {
		t.Errorf("Retry-After %q, problem %s", r.Header.Get("Retry-After"), r.Body)
	}
	s.send("GET", "/v1/collections/orders/docs/o1", tokWriter, "").want(t, http.StatusOK, "")
	for range 10 {
		s.send("GET", "/healthz", "", "").want(t, http.StatusOK, "")
	}
	// Unknown tokens are limited by address, before they are refused.
	for range 3 {
		s.send("GET", "/v1/collections", "truce_guess", "").want(t, http.StatusUnauthorized, "unauthorized")
	}
	s.send("GET", "/v1/collections", "truce_guess", "").want(t, http.StatusTooManyRequests, "rate_limited")
}

// TestIndex: GET / answers, without a token, what the server is and
// links that lead somewhere; it is "/" alone, not every unknown path, and
// it does not make the paths under it public.
func TestIndex(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	r := s.send("GET", "/", "", "").want(t, http.StatusOK, "")
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	m := r.JSON(t)
	links, _ := m["links"].(map[string]any)
	if m["name"] != "truce" || m["api"] != "/v1" || links == nil {
		t.Fatalf("GET /: %s", r.Body)
	}
	for name, want := range map[string]int{"openapi": 200, "healthz": 200, "readyz": 200, "collections": 401, "metrics": 401} {
		link, _ := links[name].(string)
		if !strings.HasPrefix(link, "/") {
			t.Errorf("link %s: %q", name, link)
			continue
		}
		if got := s.send("GET", link, "", "").Status; got != want {
			t.Errorf("GET %s (%s): %d, want %d", link, name, got, want)
		}
	}
	if docs, _ := links["docs"].(string); !strings.HasPrefix(docs, "https://") {
		t.Errorf("docs link %q", docs)
	}
	s.send("GET", "/nosuch", "", "").want(t, http.StatusUnauthorized, "unauthorized")
	s.send("GET", "/nosuch", tokAdmin, "").want(t, http.StatusNotFound, "")
}

// FuzzBearerToken: the Authorization parser takes exactly one
// "Bearer <token>" header and never panics.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer abc", "Bearer", "Bearer ", "Basic abc", "Bearer  a b", "Bearer \x00", ""} {
		f.Add(s, false)
	}
	f.Add("Bearer x", true)
	f.Fuzz(func(t *testing.T, v string, twice bool) {
		values := []string{v}
		if twice {
			values = append(values, v)
		}
		tok, ok := trucehttp.BearerToken(values)
		if !ok {
			return
		}
		if twice || tok == "" || strings.ContainsAny(tok, " \t") || !strings.HasSuffix(strings.TrimRight(v, " "), tok) ||
			!strings.EqualFold(v[:6], "bearer") {
			t.Fatalf("BearerToken(%q) = %q", values, tok)
		}
	})
}

// TestBatchHidesUnreadableReferrers: a batch's in_use problem, at the top
// and in the failed op's result, leaves out referrers the token may not
// read, as a single delete's does.
func TestBatchHidesUnreadableReferrers(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	s.send("PUT", "/v1/collections/other", tokAdmin, `{"references":{"order":"orders"}}`).want(t, http.StatusCreated, "")
	s.send("PUT", "/v1/collections/other/docs/secret-ref", tokAdmin, `{"order":"o1"}`).want(t, http.StatusCreated, "")
	r := s.send("POST", "/v1/tx", tokWriter, `{"ops":[{"op":"delete","collection":"orders","id":"o1"}]}`).want(t, http.StatusConflict, "in_use")
	if strings.Contains(string(r.Body), "secret-ref") {
		t.Fatalf("the batch problem names a document the token may not read: %s", r.Body)
	}
}

// TestIdempotencyAnswersTheCaller: an answer stored for a key is replayed
// only to a caller the route admits, and a refusal of the caller (403) is
// not stored, so the same request succeeds once the token may make it.
func TestIdempotencyAnswersTheCaller(t *testing.T) {
	s := mustAuthServer(t, trucehttp.Options{})
	s.send("PUT", "/v1/collections/orders/docs/k1", tokReader, `{"n":1}`, "Idempotency-Key: k1").want(t, http.StatusForbidden, "forbidden")
	r := s.send("PUT", "/v1/collections/orders/docs/k1", tokWriter, `{"n":1}`, "Idempotency-Key: k1").want(t, http.StatusCreated, "")
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a 403 of another token was replayed")
	}
	// The writer's answer is not replayed to a reader, who is refused first.
	r = s.send("PUT", "/v1/collections/orders/docs/k1", tokReader, `{"n":1}`, "Idempotency-Key: k1").want(t, http.StatusForbidden, "forbidden")
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a 403 was marked as a replay")
	}
	s.send("PUT", "/v1/collections/orders/docs/k1", tokWriter, `{"n":1}`, "Idempotency-Key: k1").want(t, http.StatusCreated, "")
	// Public routes store nothing: a POST with a key and no token is not
	// kept.
	for range 2 {
		r = s.send("POST", "/healthz", "", `{}`, "Idempotency-Key: pub-1")
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("POST /healthz: %d, replayed %q", r.Status, r.Header.Get("Idempotent-Replayed"))
		}
	}
}
