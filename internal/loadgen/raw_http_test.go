package loadgen

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
		closing  bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, false},
		{"chunked", "HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\nRetry-After: 1\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n", 503, false},
		{"close", "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 201, true},
		{"no length", "HTTP/1.0 200 OK\r\n\r\nto the end", 200, true},
		{"no body", "HTTP/1.1 204 No Content\r\n\r\n", 204, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The same answer twice: the first must be read exactly to its end.
			in := tc.in
			if !tc.closing {
				in += tc.in
			}
			br := bufio.NewReader(strings.NewReader(in))
			for i := range 2 {
				status, closing, err := readResponse(br)
				if err != nil || status != tc.status || closing != tc.closing {
					t.Fatalf("answer %d: status %d, closing %v, err %v; want %d, %v", i, status, closing, err, tc.status, tc.closing)
				}
				if closing {
					break
				}
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the answers: %v, want EOF", err)
			}
		})
	}
	for _, in := range []string{"HTTP/1.1 2x0 OK\r\n\r\n", "SMTP ready\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(in))); !errors.Is(err, errMalformed) {
			t.Errorf("%q: err %v, want errMalformed", in, err)
		}
	}
}

// TestRawRoundTrip sends prebuilt PUTs to a net/http server over one
// kept-alive connection, and reads its answers, small and chunked.
func TestRawRoundTrip(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
		mu.Unlock()
		if r.URL.Path == "/p/big" {
			w.Write([]byte(strings.Repeat("x", 10000))) // chunked: more than net/http buffers
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	target, err := newRawTarget(srv.URL + "/p")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := dialRaw(target)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.c.Close()
	for _, tc := range []struct {
		path   string
		status int
	}{{"/a", 201}, {"/big", 200}, {"/b", 201}} {
		status, closing, err := rc.roundTrip(target.putRequest(tc.path, "tok", []byte(`{"a":1}`)))
		if err != nil || status != tc.status || closing {
			t.Fatalf("%s: %d %v %v", tc.path, status, closing, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{`PUT /p/a Bearer tok {"a":1}`, `PUT /p/big Bearer tok {"a":1}`, `PUT /p/b Bearer tok {"a":1}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("server got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := newRawTarget("https://example.com"); err == nil {
		t.Error("https: no error")
	}
}
