package http_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// mustServe starts a real HTTP server on 127.0.0.1 over a Pebble store in
// a temporary directory.
func mustServe(tb testing.TB) *client {
	tb.Helper()
	c, _ := mustServeService(tb)
	return c
}

// mustServeService is mustServe that also returns the Service.
func mustServeService(tb testing.TB) (*client, *truce.Service) {
	tb.Helper()
	store, err := pebble.Open(tb.TempDir(), pebble.Options{})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	svc := truce.NewService(store, truce.Options{MaxDocBytes: 64 << 10})
	srv := httptest.NewServer(checked(tb, trucehttp.NewHandler(svc, trucehttp.Options{})))
	tb.Cleanup(func() {
		srv.Close()
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return &client{tb: tb, base: srv.URL, hc: srv.Client()}, svc
}

type client struct {
	tb   testing.TB
	base string
	hc   *http.Client
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r *response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// do sends a request; headers are "Name: value" strings. A body given as a
// string is sent as application/json unless a Content-Type header is given.
func (c *client) do(method, path string, body any, headers ...string) *response {
	c.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// want checks the status, and for problems the code and the problem shape.
func (r *response) want(tb testing.TB, status int, code string) *response {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if code == "" {
		return r
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.JSON(tb)
	if p["code"] != code {
		tb.Fatalf("code %v, want %s; body: %s", p["code"], code, r.Body)
	}
	if p["status"] != float64(status) || p["type"] != "/problems/"+strings.ReplaceAll(code, "_", "-") ||
		p["title"] == "" || p["detail"] == "" || p["requestId"] == "" || p["instance"] == "" {
		tb.Fatalf("incomplete problem: %s", r.Body)
	}
	if _, ok := p["retryable"].(bool); !ok {
		tb.Fatalf("problem without retryable: %s", r.Body)
	}
	return r
}

// rawDo is c.do without the test's Fatal, for use off the test's
// goroutine: a body other than nil is sent as JSON.
func rawDo(c *client, method, path string, body any, headers ...string) (*response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: out}, nil
}
