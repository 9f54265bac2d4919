package http_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentIfMatchLosesNoUpdate: 16 clients each add 1 to a counter
// 25 times with GET then PUT If-Match, retrying on 412. Every increment
// must land exactly once.
func TestConcurrentIfMatchLosesNoUpdate(t *testing.T) {
	c := mustServe(t)
	const clients, each = 16, 25
	c.do("PUT", "/v1/collections/counters/docs/c", `{"n":0}`).want(t, 201, "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	retries := 0
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					r := c.do("GET", "/v1/collections/counters/docs/c", nil)
					var doc struct{ N int }
					if err := json.Unmarshal(r.Body, &doc); err != nil {
						t.Error(err)
						return
					}
					w := c.do("PUT", "/v1/collections/counters/docs/c", fmt.Sprintf(`{"n":%d}`, doc.N+1), "If-Match: "+r.Header.Get("ETag"))
					if w.Status == 200 {
						break
					}
					if w.Status != 412 {
						t.Errorf("PUT: %d %s", w.Status, w.Body)
						return
					}
					mu.Lock()
					retries++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	final := c.do("GET", "/v1/collections/counters/docs/c", nil).JSON(t)
	if final["n"] != float64(clients*each) || final["_version"] != float64(clients*each+1) {
		t.Fatalf("final %v, want n=%d and _version=%d", final, clients*each, clients*each+1)
	}
	// Versions are contiguous: every one of them is in the history.
	vs := c.do("GET", "/v1/collections/counters/docs/c/versions?limit=1000", nil).JSON(t)["items"].([]any)
	for i, v := range vs {
		if v.(map[string]any)["version"] != float64(clients*each+1-i) {
			t.Fatalf("history has a gap at %d: %v", i, v)
		}
	}
	t.Logf("%d retries after 412", retries)
}

// TestConcurrentBodyVersionLosesNoUpdate is the same with _version (409).
func TestConcurrentBodyVersionLosesNoUpdate(t *testing.T) {
	c := mustServe(t)
	const clients, each = 16, 10
	c.do("PUT", "/v1/collections/counters/docs/c", `{"n":0}`).want(t, 201, "")
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				doc := c.do("GET", "/v1/collections/counters/docs/c", nil).JSON(t)
				for {
					w := c.do("PUT", "/v1/collections/counters/docs/c", fmt.Sprintf(`{"n":%v,"_version":%v}`, doc["n"].(float64)+1, doc["_version"]))
					if w.Status == 200 {
						break
					}
					if w.Status != 409 {
						t.Errorf("PUT: %d %s", w.Status, w.Body)
						return
					}
					doc = w.JSON(t)["current"].(map[string]any)["document"].(map[string]any) // recover without a GET
				}
			}
		}()
	}
	wg.Wait()
	final := c.do("GET", "/v1/collections/counters/docs/c", nil).JSON(t)
	if final["n"] != float64(clients*each) {
		t.Fatalf("final %v, want n=%d", final, clients*each)
	}
}

// TestRacingCreates: 20 clients create the same id; exactly one wins.
func TestRacingCreates(t *testing.T) {
	c := mustServe(t)
	for _, mode := range []string{"post", "put-if-none-match"} {
		t.Run(mode, func(t *testing.T) {
			const n = 20
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if mode == "post" {
						statuses[i] = c.do("POST", "/v1/collections/race/docs", fmt.Sprintf(`{"_id":"one","by":%d}`, i)).Status
					} else {
						statuses[i] = c.do("PUT", "/v1/collections/race/docs/two", fmt.Sprintf(`{"by":%d}`, i), "If-None-Match: *").Status
					}
				}()
			}
			wg.Wait()
			won, lost := 0, 0
			for _, s := range statuses {
				switch s {
				case 201:
					won++
				case 409, 412:
					lost++
				}
			}
			if won != 1 || lost != n-1 {
				t.Fatalf("statuses %v: %d created", statuses, won)
			}
		})
	}
}

// TestRacingUniqueValues: 20 clients create different documents with the
// same unique value; exactly one wins, and the index stays exact.
func TestRacingUniqueValues(t *testing.T) {
	c := mustServe(t)
	c.do("PUT", "/v1/collections/users", `{"unique":["email"]}`).want(t, 201, "")
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = c.do("PUT", fmt.Sprintf("/v1/collections/users/docs/u%d", i), `{"email":"same@x"}`).Status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		if s == 201 {
			won++
		} else if s != 409 {
			t.Fatalf("status %d", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d winners: %v", won, statuses)
	}
	if got := c.do("GET", "/v1/collections/users", nil).JSON(t)["counts"].(map[string]any)["documents"]; got != float64(1) {
		t.Fatalf("%v documents", got)
	}
}
