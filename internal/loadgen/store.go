package loadgen

import "context"

// Store is the system under test as the generic workloads see it: keyed
// documents with an opaque version, read and compare-and-swapped. Its
// methods are safe for concurrent use.
type Store interface {
	// Init prepares the store once before a workload: a collection, a
	// table. It may be called again for another workload.
	Init(ctx context.Context) error
	// Put writes doc at key unconditionally (seeding).
	Put(ctx context.Context, key string, doc []byte) error
	// Create writes doc at key only if no document is there; created is
	// false when one is.
	Create(ctx context.Context, key string, doc []byte) (created bool, err error)
	// Get reads key: its document and version, found false when absent.
	Get(ctx context.Context, key string) (doc []byte, version string, found bool, err error)
	// Swap writes doc at key only if the document is still at version;
	// swapped is false when another writer changed it (a conflict).
	Swap(ctx context.Context, key, version string, doc []byte) (swapped bool, err error)
	// Close releases connections.
	Close() error
}
