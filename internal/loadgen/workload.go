package loadgen

import (
	"context"
	"math/rand/v2"
)

// Config says how a workload is shaped.
type Config struct {
	// Clients is the number of concurrent clients; it sizes per-client
	// state (merge-hot gives each client its own field).
	Clients int
	// Docs is how many documents read, update and mixed spread over.
	Docs int
	// DocSize is the size of each document body in bytes.
	DocSize int
	// ReadRatio is the fraction of mixed's operations that are reads.
	ReadRatio float64
	// Subscribers is how many feed subscribers watch-fanout opens
	// (DefaultSubscribers when zero).
	Subscribers int
}

// Result is what one operation did. An operation is what a client repeats:
// one read, or one write with the reads and retries it took to succeed.
type Result struct {
	Reads     int // documents read as the operation itself (read, mixed)
	Writes    int // writes that succeeded
	Conflicts int // writes refused because the version was stale
	Retries   int // attempts repeated after a conflict
	Merged    int // writes the server merged with changes made since their base
}

// Client is one concurrent client's own state. An Op is called for a given
// Client from one goroutine at a time.
type Client struct {
	// ID numbers the client from 0.
	ID int
	// Rand is the client's own random source.
	Rand *rand.Rand
	// Seq counts the client's operations so far.
	Seq uint64
}

// clientKey is the context key under which Run passes each client's
// Client to its operations.
type clientKey struct{}

// withClient returns ctx carrying c.
func withClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// clientOf returns the Client whose operation ctx belongs to, or nil
// outside an operation (preparing a workload, seeding).
func clientOf(ctx context.Context) *Client {
	c, _ := ctx.Value(clientKey{}).(*Client)
	return c
}

// Op performs one operation for c; ctx carries c, for a Store that gives
// each client a node of its own (NewTruceNodes). An error is a failure
// that invalidates the run (an unexpected status, a lost connection):
// conflicts are part of the Result, not errors.
type Op func(ctx context.Context, c *Client) (Result, error)

// Workload prepares the system under test and returns the operation its
// clients repeat.
type Workload interface {
	Prepare(ctx context.Context, cfg Config) (Op, error)
}

// WorkloadFunc adapts a function to Workload.
type WorkloadFunc func(ctx context.Context, cfg Config) (Op, error)

// Prepare calls f.
func (f WorkloadFunc) Prepare(ctx context.Context, cfg Config) (Op, error) { return f(ctx, cfg) }
