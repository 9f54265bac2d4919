package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/trucedb/truce/auth"
	trucehttp "github.com/trucedb/truce/http"
)

// feedAuthServer is a feedServer with an auth file that the test rewrites
// and reloads while streams are open. Its tokens are named; the token of
// name is tokenOf(name), and "admin" is always there.
type feedAuthServer struct {
	*feedServer
	keeper *auth.Keeper
	path   string

	mu     sync.Mutex // guards scopes, and serializes grants
	scopes map[string][]string
}

func tokenOf(name string) string { return "truce_stream_" + name }

func bearer(name string) string { return "Authorization: Bearer " + tokenOf(name) }

// mustServeFeedAuth starts a feedServer whose auth file holds admin and the
// tokens of scopes, with heartbeats every heartbeat.
func mustServeFeedAuth(tb testing.TB, heartbeat time.Duration, scopes map[string][]string) *feedAuthServer {
	tb.Helper()
	s := &feedAuthServer{path: filepath.Join(tb.TempDir(), "auth.json"), scopes: map[string][]string{"admin": {"admin"}}}
	for name, sc := range scopes {
		s.scopes[name] = sc
	}
	if err := s.save(); err != nil {
		tb.Fatal(err)
	}
	var err error
	if s.keeper, err = auth.NewKeeper(s.path, slog.New(slog.DiscardHandler)); err != nil {
		tb.Fatal(err)
	}
	s.feedServer = mustServeFeed(tb, "", trucehttp.Options{Heartbeat: heartbeat, Auth: s.keeper}, nil)
	return s
}

func (s *feedAuthServer) save() error {
	f := &auth.File{}
	for name, sc := range s.scopes {
		f.Tokens = append(f.Tokens, auth.Entry{Name: name, SHA256: auth.HashToken(tokenOf(name)), Scopes: sc})
	}
	sort.Slice(f.Tokens, func(i, j int) bool { return f.Tokens[i].Name < f.Tokens[j].Name })
	return f.Save(s.path)
}

// grant gives the token of name the scopes, or revokes it when there are
// none, and reloads the file; Reload has returned when grant does. It may
// be called off the test's goroutine.
func (s *feedAuthServer) grant(name string, scopes ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(scopes) == 0 {
		delete(s.scopes, name)
	} else {
		s.scopes[name] = scopes
	}
	if err := s.save(); err != nil {
		return err
	}
	return s.keeper.Reload()
}

func (s *feedAuthServer) mustGrant(name string, scopes ...string) {
	s.tb.Helper()
	if err := s.grant(name, scopes...); err != nil {
		s.tb.Fatal(err)
	}
}

// put writes a document as admin.
func (s *feedAuthServer) put(col, id string) {
	s.tb.Helper()
	r := s.do("PUT", docPath(col, id), map[string]any{}, bearer("admin"))
	if r.Status != 200 && r.Status != 201 {
		s.tb.Fatalf("PUT %s/%s: %d %s", col, id, r.Status, r.Body)
	}
}

// dialFeed opens the feed over a WebSocket as the token of name.
func (s *feedAuthServer) dialFeed(ctx context.Context, path, name string) *websocket.Conn {
	s.tb.Helper()
	ws, _, err := websocket.Dial(ctx, strings.Replace(s.base, "http", "ws", 1)+path,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tokenOf(name)}}})
	if err != nil {
		s.tb.Fatalf("dial %s as %s: %v", path, name, err)
	}
	s.tb.Cleanup(func() { ws.CloseNow() })
	return ws
}

// where is an event's collection/id.
func where(data map[string]any) string { return fmt.Sprint(data["collection"], "/", data["id"]) }

// mustEnd fails the test unless the server ends st, without another event,
// within 10 s.
func mustEnd(tb testing.TB, st *sseStream) {
	tb.Helper()
	withTimeout(tb, 10*time.Second, "the end of the stream", func() {
		if e, ok := st.next(tb); ok {
			tb.Errorf("the stream delivered %s (seq %d) after its token was revoked", where(e.Data), e.ID)
		}
	})
	if err := st.sc.Err(); err != nil {
		tb.Errorf("the stream did not end cleanly: %v", err)
	}
}

// TestFeedRevokedEndsSSE: an event stream whose token is revoked while it
// is open ends (the review's case: a reader of orders removed from the
// file and the file reloaded must not get the next orders document), also
// while it is idle, at its next heartbeat; and a new request is 401.
func TestFeedRevokedEndsSSE(t *testing.T) {
	s := mustServeFeedAuth(t, 50*time.Millisecond, map[string][]string{
		"reader": {"read:orders"}, "idle": {"read:*"}, "one": {"read:orders"}})
	st := s.openSSE("/v1/events", bearer("reader"))
	idle := s.openSSE("/v1/events", bearer("idle"))
	one := s.openSSE("/v1/events?collection=orders&id=a", bearer("one"))
	s.put("orders", "a")
	if e := st.take(t, 1)[0]; where(e.Data) != "orders/a" {
		t.Fatalf("first event %v", e.Data)
	}
	one.take(t, 1)
	idle.take(t, 1)
	s.mustGrant("reader")
	s.mustGrant("idle")
	s.mustGrant("one")
	s.put("orders", "b")
	s.put("orders", "a")
	mustEnd(t, st)
	mustEnd(t, one)
	mustEnd(t, idle)
	s.do("GET", "/v1/events", nil, bearer("reader")).want(t, http.StatusUnauthorized, "unauthorized")
}

// TestFeedRevokedClosesWebSocket: a WebSocket whose token is revoked is
// closed as a policy violation, with a reason, before the next event.
func TestFeedRevokedClosesWebSocket(t *testing.T) {
	s := mustServeFeedAuth(t, 50*time.Millisecond, map[string][]string{"reader": {"read:orders"}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws := s.dialFeed(ctx, "/v1/events", "reader")
	s.put("orders", "a")
	_, msg, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"id":"a"`) {
		t.Fatalf("first message %s, %v", msg, err)
	}
	s.mustGrant("reader")
	s.put("orders", "b")
	_, msg, err = ws.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason == "" {
		t.Fatalf("read after revocation: %s, %v; want a close with 1008 and a reason", msg, err)
	}
}

// TestFeedRevokedLongPoll: a long poll whose token is revoked while it
// waits answers 401, not the event that came after.
func TestFeedRevokedLongPoll(t *testing.T) {
	s := mustServeFeedAuth(t, 0, map[string][]string{"reader": {"read:orders"}})
	s.put("orders", "a")
	var page struct{ Last int64 }
	if err := json.Unmarshal(s.do("GET", "/v1/changes", nil, bearer("reader")).want(t, 200, "").Body, &page); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		r   *response
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := rawDo(s.client, "GET", fmt.Sprintf("/v1/changes?since=%d&wait=1s", page.Last), nil, bearer("reader"))
		done <- answer{r, err}
	}()
	// Revoke once the poll waits (it has subscribed).
	for s.svc.Feed().Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	s.mustGrant("reader")
	s.put("orders", "b")
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	a.r.want(t, http.StatusUnauthorized, "unauthorized")
	if a.r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

// TestFeedScopeChanges: on an open stream, a collection the token may no
// longer read stops at once, and one it may now read starts; the same
// holds for a token that read every collection, and for a stream of one
// collection.
func TestFeedScopeChanges(t *testing.T) {
	s := mustServeFeedAuth(t, 50*time.Millisecond, map[string][]string{"w": {"read:orders", "read:other"}})
	all := s.openSSE("/v1/events", bearer("w"))
	other := s.openSSE("/v1/events?collection=other", bearer("w"))
	next := func(st *sseStream, want string) {
		t.Helper()
		if e := st.take(t, 1)[0]; where(e.Data) != want {
			t.Fatalf("got %s (seq %d), want %s", where(e.Data), e.ID, want)
		}
	}
	s.put("other", "1")
	s.put("orders", "1")
	next(all, "other/1")
	next(all, "orders/1")
	next(other, "other/1")

	s.mustGrant("w", "read:orders") // narrowed
	s.put("other", "2")
	s.put("orders", "2")
	next(all, "orders/2")

	s.mustGrant("w", "read:orders", "read:other") // widened
	s.put("other", "3")
	next(all, "other/3")
	next(other, "other/3")

	s.mustGrant("w", "read:*") // every collection: the filter is dropped
	s.put("other", "4")
	next(all, "other/4")
	next(other, "other/4")

	s.mustGrant("w", "write:orders") // narrowed from every collection
	s.put("other", "5")
	s.put("orders", "5")
	next(all, "orders/5")

	s.mustGrant("w", "admin")
	s.put("other", "6")
	next(all, "other/6")
	next(other, "other/6")
}

// TestFeedReloadsWhileEventsFlow: with writers and streams running while
// the token's scopes change again and again, the streams get every event
// of the collection the token always reads, in order and once, nothing
// written after the last reload of a collection it may no longer read,
// and a token revoked meanwhile sees its stream closed. Run it with -race.
func TestFeedReloadsWhileEventsFlow(t *testing.T) {
	grants := [][]string{{"read:orders"}, {"read:orders", "read:other"}, {"read:*"}, {"write:orders"}, {"admin"}, {"write:*", "read:other"}}
	s := mustServeFeedAuth(t, 20*time.Millisecond, map[string][]string{"w": grants[1], "doomed": {"read:*"}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sse := s.openSSE("/v1/events", bearer("w"))
	wsAll := s.dialFeed(ctx, "/v1/events", "w")
	wsOrders := s.dialFeed(ctx, "/v1/events?collection=orders&document=false", "w")
	wsDoomed := s.dialFeed(ctx, "/v1/events", "doomed")

	// Readers of the WebSockets, off the test's goroutine.
	type result struct {
		got []map[string]any
		err error
	}
	read := func(ws *websocket.Conn, until string) <-chan result {
		out := make(chan result, 1)
		go func() {
			var res result
			for {
				_, msg, err := ws.Read(ctx)
				if err != nil {
					res.err = err
					break
				}
				var m map[string]any
				if err := json.Unmarshal(msg, &m); err != nil {
					res.err = err
					break
				}
				res.got = append(res.got, m)
				if where(m) == until {
					break
				}
			}
			out <- res
		}()
		return out
	}
	all, orders, doomed := read(wsAll, "orders/final"), read(wsOrders, "orders/final"), read(wsDoomed, "")

	const writers, perWriter = 3, 60
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var reloads int
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.grant("w", grants[i%len(grants)]...); err != nil {
				t.Error(err)
				return
			}
			reloads++
			time.Sleep(time.Millisecond)
		}
	}()
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				col := []string{"orders", "other"}[i%2]
				r, err := rawDo(s.client, "PUT", docPath(col, fmt.Sprintf("w%d-%d", w, i)), map[string]any{}, bearer("admin"))
				if err != nil || r.Status >= 300 {
					t.Errorf("PUT: %v %v", r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-reloaded
	s.mustGrant("w", "read:orders")
	s.mustGrant("doomed")
	s.put("other", "final")
	s.put("orders", "final")

	var got []map[string]any
	for {
		e := sse.take(t, 1)[0]
		got = append(got, e.Data)
		if where(e.Data) == "orders/final" {
			break
		}
	}
	// What was committed, in order, as admin sees it (once a stream has
	// had the last event, the feed has it all).
	var page struct{ Items []map[string]any }
	if err := json.Unmarshal(s.do("GET", "/v1/changes?since=0&limit=1000&document=false", nil, bearer("admin")).want(t, 200, "").Body, &page); err != nil {
		t.Fatal(err)
	}
	var wantOrders []string
	for _, e := range page.Items {
		if e["collection"] == "orders" {
			wantOrders = append(wantOrders, where(e))
		}
	}
	if len(wantOrders) != writers*perWriter/2+1 {
		t.Fatalf("%d orders events committed", len(wantOrders))
	}

	check := func(what string, got []map[string]any) {
		t.Helper()
		var gotOrders []string
		last := -1.0
		for _, e := range got {
			seq, _ := e["seq"].(float64)
			if seq <= last {
				t.Errorf("%s: seq %v after %v", what, seq, last)
			}
			last = seq
			switch w := where(e); {
			case w == "other/final":
				t.Errorf("%s: other/final, written after the token lost read:other", what)
			case e["collection"] == "orders":
				gotOrders = append(gotOrders, w)
			case e["collection"] != "other":
				t.Errorf("%s: an event of %s", what, w)
			}
		}
		if !slices.Equal(gotOrders, wantOrders) {
			t.Errorf("%s: %d orders events, want the %d committed, in order", what, len(gotOrders), len(wantOrders))
		}
	}
	check("SSE", got)
	for what, ch := range map[string]<-chan result{"WebSocket": all, "WebSocket of orders": orders} {
		res := <-ch
		if res.err != nil {
			t.Errorf("%s: %v", what, res.err)
		}
		check(what, res.got)
	}
	res := <-doomed
	if websocket.CloseStatus(res.err) != websocket.StatusPolicyViolation {
		t.Errorf("the revoked token's WebSocket ended with %v, want a close with 1008", res.err)
	}
	for _, e := range res.got {
		if w := where(e); strings.HasSuffix(w, "/final") {
			t.Errorf("the revoked token got %s, written after its revocation", w)
		}
	}
	t.Logf("%d reloads while %d events were written; the revoked token saw %d events", reloads, len(page.Items), len(res.got))
}

// TestFeedRevokedEndsAtOnce: a revoked token's idle streams end when the
// auth file is reloaded, not at their next heartbeat, which here is ten
// minutes away: SSE ends, the WebSocket closes with 1008, and a long poll
// with a five-minute wait answers 401.
func TestFeedRevokedEndsAtOnce(t *testing.T) {
	s := mustServeFeedAuth(t, 10*time.Minute, map[string][]string{"reader": {"read:orders"}, "other": {"read:orders"}})
	st := s.openSSE("/v1/events", bearer("reader"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws := s.dialFeed(ctx, "/v1/events", "reader")
	kept := s.openSSE("/v1/events", bearer("other"))
	done := make(chan *response, 1)
	go func() {
		r, err := rawDo(s.client, "GET", "/v1/changes?wait=5m", nil, bearer("reader"))
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	for s.svc.Feed().Subscribers() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	s.mustGrant("reader") // no scopes left: revoked
	mustEnd(t, st)
	_, _, err := ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Errorf("WebSocket: %v, want a close with 1008", err)
	}
	select {
	case r := <-done:
		if r != nil {
			r.want(t, http.StatusUnauthorized, "unauthorized")
		}
	case <-ctx.Done():
		t.Fatal("the long poll of a revoked token went on waiting")
	}
	// A stream whose token was not revoked goes on.
	s.put("orders", "a")
	if e := kept.take(t, 1)[0]; where(e.Data) != "orders/a" {
		t.Fatalf("the other token's stream: %v", e.Data)
	}
}
