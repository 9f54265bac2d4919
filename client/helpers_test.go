package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// mustServe starts a real truce server on 127.0.0.1 over a Pebble store
// in a temporary directory, and returns its base URL.
func mustServe(tb testing.TB) string {
	tb.Helper()
	srv := httptest.NewServer(mustHandler(tb))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// mustHandler returns the truce HTTP handler over a Pebble store in a
// temporary directory, which is closed when the test ends (after the
// servers started later are closed).
func mustHandler(tb testing.TB) http.Handler {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{})
}

// mustClient returns a client for url, failing the test if New fails.
func mustClient(tb testing.TB, url string, opts ...client.Option) *client.Client {
	tb.Helper()
	c, err := client.New(url, opts...)
	if err != nil {
		tb.Fatalf("client.New(%q): %v", url, err)
	}
	return c
}

// testCtx returns a context that ends with the test or after a minute.
func testCtx(tb testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return c
}

// attempt is one request as it left the client.
type attempt struct {
	Method string
	Path   string // with the query
	Header http.Header
	Body   []byte
	At     time.Time
}

// fault decides the fate of one request: a nil answer and a nil error
// pass it on to the server.
type fault func(req *http.Request) (*http.Response, error)

// faultTransport is an http.RoundTripper that records every request and
// answers the first ones with scripted faults, in order, before passing
// requests on to the real transport.
type faultTransport struct {
	next http.RoundTripper

	mu       sync.Mutex
	script   []fault
	attempts []attempt
}

// newFaults returns a client whose requests go through a fault transport
// with script, and the transport.
func newFaults(tb testing.TB, url string, script []fault, opts ...client.Option) (*client.Client, *faultTransport) {
	tb.Helper()
	ft := &faultTransport{next: http.DefaultTransport, script: script}
	opts = append([]client.Option{client.WithHTTPClient(&http.Client{Transport: ft})}, opts...)
	return mustClient(tb, url, opts...), ft
}

func (ft *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	ft.mu.Lock()
	ft.attempts = append(ft.attempts, attempt{Method: req.Method, Path: req.URL.RequestURI(),
		Header: req.Header.Clone(), Body: body, At: time.Now()})
	var f fault
	if len(ft.script) > 0 {
		f, ft.script = ft.script[0], ft.script[1:]
	}
	ft.mu.Unlock()
	if f != nil {
		resp, err := f(req)
		if resp != nil || err != nil {
			if resp != nil {
				resp.Request = req
			}
			return resp, err
		}
	}
	return ft.next.RoundTrip(req)
}

// log returns the requests seen so far.
func (ft *faultTransport) log() []attempt {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]attempt(nil), ft.attempts...)
}

// reset forgets the requests seen so far and sets a new script.
func (ft *faultTransport) reset(script ...fault) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.attempts, ft.script = nil, script
}

// pass lets a request through.
func pass(*http.Request) (*http.Response, error) { return nil, nil }

// errDropped stands for a connection that broke before the answer came.
var errDropped = errors.New("connection reset by peer (injected)")

// drop fails a request before it reaches the server.
func drop(*http.Request) (*http.Response, error) { return nil, errDropped }

// problemAnswer answers with a problem+json of status and code, and a
// Retry-After header when retryAfter is not "".
func problemAnswer(status int, code string, retryable bool, retryAfter string) fault {
	return func(req *http.Request) (*http.Response, error) {
		body := fmt.Sprintf(`{"type":"/problems/%s","title":"injected","status":%d,"detail":"injected %s","code":%q,"retryable":%t,"requestId":"injected-1"}`,
			strings.ReplaceAll(code, "_", "-"), status, code, code, retryable)
		h := http.Header{"Content-Type": {"application/problem+json"}, "Content-Length": {strconv.Itoa(len(body))}}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}, nil
	}
}

// plainAnswer answers with a non-problem body, as a proxy would.
func plainAnswer(status int, body string) fault {
	return func(req *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"text/html"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}, nil
	}
}

// recordSleeps makes c record its waits between retries instead of
// sleeping, and choose the longest wait the jitter allows.
func recordSleeps(c *client.Client) *[]time.Duration {
	var mu sync.Mutex
	waits := &[]time.Duration{}
	client.SetSleep(c, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	})
	client.SetJitter(c, func(d time.Duration) time.Duration { return d })
	return waits
}

// mustErr returns the *client.Error in err, failing the test if there is
// none.
func mustErr(tb testing.TB, err error) *client.Error {
	tb.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *client.Error", err, err)
	}
	return e
}

// counter is the document the Update tests increment.
type counter struct {
	N int `json:"n"`
}

// increment is an Update function that adds one to a counter's n and
// keeps every other field, the reserved ones included (the _version it
// sends back is the one it read, as the If-Match says).
func increment(d *client.Doc) error {
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return err
	}
	n, _ := m["n"].(float64)
	m["n"] = n + 1
	return d.Set(m)
}
