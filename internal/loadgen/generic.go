package loadgen

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Keys of the generic workloads. A re-run on the same store reuses them.
const hotKey = "hot"

// docKey is the key of document i of read, update and mixed.
func docKey(i int) string { return "d" + strconv.Itoa(i) }

// seedWriters is the most Puts seed keeps in flight: one at a time, each
// durable, 100,000 documents took about a minute.
const seedWriters = 16

// seed prepares s and writes cfg.Docs documents (at least one) at docKey(0..),
// up to seedWriters at a time but no more than cfg.Clients, the connections
// a Store keeps open.
func seed(ctx context.Context, s Store, cfg Config) error {
	if err := s.Init(ctx); err != nil {
		return err
	}
	docs := max(cfg.Docs, 1)
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range max(min(seedWriters, cfg.Clients, docs), 1) {
		g.Go(func() error {
			doc := Doc(cfg.DocSize)
			for i := int(next.Add(1) - 1); i < docs; i = int(next.Add(1) - 1) {
				Stamp(doc, uint64(i))
				if err := s.Put(ctx, docKey(i), doc); err != nil {
					return fmt.Errorf("seed %s: %w", docKey(i), err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// Read is the read workload: each operation reads one of cfg.Docs
// documents, chosen at random.
func Read(s Store) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if err := seed(ctx, s, cfg); err != nil {
			return nil, err
		}
		docs := max(cfg.Docs, 1)
		return func(ctx context.Context, c *Client) (Result, error) {
			return read(ctx, s, docKey(c.Rand.IntN(docs)))
		}, nil
	})
}

func read(ctx context.Context, s Store, key string) (Result, error) {
	_, _, found, err := s.Get(ctx, key)
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{}, fmt.Errorf("read %s: not found", key)
	}
	return Result{Reads: 1}, nil
}

// Update is the update workload: each operation changes one of cfg.Docs
// documents chosen at random the safe way, reading it and swapping it on
// the version read, and repeating both when another client changed it
// meanwhile. Each client writes its own copy of the body.
func Update(s Store) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if err := seed(ctx, s, cfg); err != nil {
			return nil, err
		}
		docs := max(cfg.Docs, 1)
		bodies := clientBodies(cfg)
		return func(ctx context.Context, c *Client) (Result, error) {
			return update(ctx, s, docKey(c.Rand.IntN(docs)), bodies[c.ID%len(bodies)], c)
		}, nil
	})
}

// clientBodies returns a document body for each client to stamp and send.
func clientBodies(cfg Config) [][]byte {
	bodies := make([][]byte, max(cfg.Clients, 1))
	for i := range bodies {
		bodies[i] = Doc(cfg.DocSize)
	}
	return bodies
}

// update is the read-then-compare-and-swap loop, repeated until the swap
// succeeds.
func update(ctx context.Context, s Store, key string, body []byte, c *Client) (Result, error) {
	var r Result
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.Retries++
		}
		_, version, found, err := s.Get(ctx, key)
		if err != nil {
			return r, err
		}
		if !found {
			return r, fmt.Errorf("update %s: not found", key)
		}
		Stamp(body, uint64(c.ID)<<32|c.Seq)
		ok, err := s.Swap(ctx, key, version, body)
		if err != nil {
			return r, err
		}
		if ok {
			r.Writes++
			return r, nil
		}
		r.Conflicts++
	}
}

// UpdateHot is the update-hot workload: every client changes the same
// document with the update loop (read, swap on the version read, and on a
// conflict read again), so most attempts conflict. Goodput is the figure.
func UpdateHot(s Store) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if err := s.Init(ctx); err != nil {
			return nil, err
		}
		if err := s.Put(ctx, hotKey, Doc(cfg.DocSize)); err != nil {
			return nil, fmt.Errorf("seed %s: %w", hotKey, err)
		}
		bodies := clientBodies(cfg)
		return func(ctx context.Context, c *Client) (Result, error) {
			return update(ctx, s, hotKey, bodies[c.ID%len(bodies)], c)
		}, nil
	})
}

// Create is the create workload: each operation creates a new document
// under a key no other operation uses (create-only: a key that exists is
// an error).
func Create(s Store) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if err := s.Init(ctx); err != nil {
			return nil, err
		}
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		bodies := clientBodies(cfg)
		return func(ctx context.Context, c *Client) (Result, error) {
			key := "c-" + run + "-" + strconv.Itoa(c.ID) + "-" + strconv.FormatUint(c.Seq, 10)
			body := bodies[c.ID%len(bodies)]
			Stamp(body, c.Seq)
			created, err := s.Create(ctx, key, body)
			if err != nil {
				return Result{}, err
			}
			if !created {
				return Result{}, fmt.Errorf("create %s: it already exists", key)
			}
			return Result{Writes: 1}, nil
		}, nil
	})
}

// Mixed is the mixed workload: each operation is, with probability
// cfg.ReadRatio, a read of a random document, otherwise an update of one
// (as in Update).
func Mixed(s Store) Workload {
	return WorkloadFunc(func(ctx context.Context, cfg Config) (Op, error) {
		if cfg.ReadRatio < 0 || cfg.ReadRatio > 1 {
			return nil, fmt.Errorf("read ratio %g is not between 0 and 1", cfg.ReadRatio)
		}
		if err := seed(ctx, s, cfg); err != nil {
			return nil, err
		}
		docs := max(cfg.Docs, 1)
		bodies := clientBodies(cfg)
		return func(ctx context.Context, c *Client) (Result, error) {
			key := docKey(c.Rand.IntN(docs))
			if c.Rand.Float64() < cfg.ReadRatio {
				return read(ctx, s, key)
			}
			return update(ctx, s, key, bodies[c.ID%len(bodies)], c)
		}, nil
	})
}
