// Command counter increments one counter document from many goroutines
// at once with client.Update, and prints the final value. No increment is
// lost: every write is conditional on the version it was computed from,
// and Update re-applies the increment to the current state when another
// writer got there first.
//
//	go run ./examples/counter --server http://127.0.0.1:8080 -g 16 -n 100
//
// The server defaults to $TRUCE_URL, else http://127.0.0.1:8080.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"

	"github.com/trucedb/truce/client"
)

// The counter document: counters/<id> holds {"count": N}.
const (
	collection = "counters"
	counterID  = "example"
)

type counter struct {
	Count int `json:"count"`
}

func main() {
	def := os.Getenv("TRUCE_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	server := flag.String("server", def, "`URL` of the truce server (default $TRUCE_URL)")
	goroutines := flag.Int("g", 8, "number of concurrent `writers`")
	each := flag.Int("n", 25, "`increments` per writer")
	flag.Parse()
	if *goroutines < 1 || *each < 1 {
		fmt.Fprintln(os.Stderr, "counter: -g and -n must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	n, err := run(ctx, *server, *goroutines, *each)
	if err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
	fmt.Printf("%s/%s: count = %d\n", collection, counterID, n)
}

// run increments the counter goroutines×each times, from goroutines
// concurrent writers, and returns its final value.
func run(ctx context.Context, serverURL string, goroutines, each int) (int, error) {
	c, err := client.New(serverURL)
	if err != nil {
		return 0, err
	}
	_, err = increment(ctx, c, goroutines, each, nil)
	if err != nil {
		return 0, err
	}
	d, err := c.Get(ctx, collection, counterID)
	if err != nil {
		return 0, err
	}
	var v counter
	if err := d.Decode(&v); err != nil {
		return 0, err
	}
	return v.Count, nil
}

// increment runs goroutines writers that each add 1 to the counter each
// times, and returns how many increments succeeded. The first error
// cancels the rest. calls, if not nil, counts the calls of the update
// function: more than the increments when conflicts made Update re-apply
// it.
func increment(ctx context.Context, c *client.Client, goroutines, each int, calls *atomic.Int64) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				// Update reads the document, calls the function, and
				// writes the result with If-Match. On a conflict it calls
				// the function again on the state the server sent back,
				// so the function must compute from doc alone.
				_, err := c.Update(ctx, collection, counterID, func(doc *client.Doc) error {
					if calls != nil {
						calls.Add(1)
					}
					var v counter
					if err := doc.Decode(&v); err != nil {
						return err
					}
					v.Count++
					return doc.Set(v)
				}, client.CreateIfMissing())
				if err != nil {
					cancel(err)
					return
				}
				mu.Lock()
				done++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// The cause is the first writer's error, or the parent's own.
	return done, context.Cause(ctx)
}
