package http_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkLockCycles measures lock-acquire, write, release cycles over
// HTTP: each operation is POST …/lock (waiting in line when another client
// holds it), PUT of a ~1 KiB document with the Lock-Token, and DELETE
// …/lock, all durable. With one document every client queues for the same
// lock; with 1,000, clients rarely meet.
func BenchmarkLockCycles(b *testing.B) {
	for _, docs := range []int{1, 1000} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("docs=%d/clients=%d", docs, clients), func(b *testing.B) {
				base, hc := benchServer(b)
				body := []byte(doc1K)
				runClients(b, clients, func(int) error {
					url := fmt.Sprintf("%s/v1/collections/bench/docs/d%d", base, rand.IntN(docs))
					resp, err := hc.Post(url+"/lock", "application/json", strings.NewReader(`{"ttl":"30s","wait":"30s"}`))
					if err != nil {
						return err
					}
					drain(resp)
					if resp.StatusCode != 201 {
						return fmt.Errorf("lock: %d", resp.StatusCode)
					}
					tok := resp.Header.Get("Lock-Token")
					req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Lock-Token", tok)
					if resp, err = hc.Do(req); err != nil {
						return err
					}
					drain(resp)
					if resp.StatusCode != 200 && resp.StatusCode != 201 {
						return fmt.Errorf("PUT: %d", resp.StatusCode)
					}
					req, _ = http.NewRequest("DELETE", url+"/lock", nil)
					req.Header.Set("Lock-Token", tok)
					if resp, err = hc.Do(req); err != nil {
						return err
					}
					drain(resp)
					if resp.StatusCode != 204 {
						return fmt.Errorf("unlock: %d", resp.StatusCode)
					}
					return nil
				})
			})
		}
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
