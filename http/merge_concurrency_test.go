package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestMergeConcurrentDisjointWriters: 16 writers each own one field of a
// shared document and write with the version they read, under the merge
// policy. Disjoint changes always merge, so no write is refused, and every
// writer's last value is in the final document.
func TestMergeConcurrentDisjointWriters(t *testing.T) {
	const writers, rounds = 16, 20
	c := mustServe(t)
	c.do("PUT", "/v1/collections/hot", `{"conflictPolicy":"merge"}`).want(t, 201, "")
	path := "/v1/collections/hot/docs/d"
	c.do("PUT", path, `{}`).want(t, 201, "")

	var wg sync.WaitGroup
	var merged atomic.Int64
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			field := fmt.Sprintf("f%d", i)
			for round := range rounds {
				// c.do calls Fatal, which must not run off the test's
				// goroutine: use the plain HTTP client here.
				r, err := rawDo(c, "GET", path, nil)
				if err != nil || r.Status != 200 {
					errs <- fmt.Errorf("%s round %d: GET: %v %v", field, round, err, r)
					return
				}
				var doc map[string]any
				if err := json.Unmarshal(r.Body, &doc); err != nil {
					errs <- err
					return
				}
				doc[field] = round
				delete(doc, "_createdAt")
				delete(doc, "_updatedAt")
				r, err = rawDo(c, "PUT", path, doc)
				if err != nil {
					errs <- fmt.Errorf("%s round %d: PUT: %v", field, round, err)
					return
				}
				if r.Status != 200 {
					errs <- fmt.Errorf("%s round %d: PUT: status %d: %s", field, round, r.Status, r.Body)
					return
				}
				if r.Header.Get("Truce-Merged") != "" {
					merged.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	t.Logf("%d of %d writes were merged", merged.Load(), writers*rounds)
	doc := c.do("GET", path, nil).want(t, 200, "").JSON(t)
	for i := range writers {
		if got := doc[fmt.Sprintf("f%d", i)]; got != float64(rounds-1) {
			t.Errorf("f%d = %v, want %d", i, got, rounds-1)
		}
	}
	if v := doc["_version"]; v != float64(1+writers*rounds) {
		t.Errorf("_version = %v, want %d", v, 1+writers*rounds)
	}
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
