package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/trucedb/truce/internal/pgtest"
	"github.com/trucedb/truce/internal/testserver"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	testserver.Cleanup()
	os.Exit(code)
}

// reply is an HTTP answer with its body decoded.
type reply struct {
	status int
	etag   string
	raw    []byte
	doc    map[string]any // the body as a JSON object, if it is one
}

// do sends method url with body (JSON-encoded unless nil) and the header
// pairs in hdr, and reads the whole answer. An error means the outcome is
// unknown: the connection failed before the answer was read.
func do(c *http.Client, method, url string, body any, hdr ...string) (*reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &reply{status: resp.StatusCode, etag: resp.Header.Get("ETag"), raw: raw}
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
		if err := json.Unmarshal(raw, &r.doc); err != nil {
			return nil, fmt.Errorf("%s %s: decode the answer: %v", method, url, err)
		}
	}
	return r, nil
}

// mustDo is do that fails the test on a transport error or an answer
// other than want.
func mustDo(t testing.TB, method, url string, body any, want int, hdr ...string) *reply {
	t.Helper()
	r, err := do(http.DefaultClient, method, url, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, r.status, want, r.raw)
	}
	return r
}

// userFields returns doc without the reserved fields, which start with _.
func userFields(doc map[string]any) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if !strings.HasPrefix(k, "_") {
			out[k] = v
		}
	}
	return out
}

// version returns a document's _version, or -1 if it has none.
func version(doc map[string]any) int64 {
	v, ok := doc["_version"].(float64)
	if !ok {
		return -1
	}
	return int64(v)
}

// asJSON returns v as decoded JSON (numbers as float64), for comparison
// with a decoded answer.
func asJSON(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
