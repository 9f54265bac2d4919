package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
)

// TestChangedAcrossStores checks that a commit through one Store wakes the
// waiters of another on the same schema (another node), and that a commit
// that allocates no seq, or one in another schema, does not.
func TestChangedAcrossStores(t *testing.T) {
	url := pgtest.Start(t)
	a, b, elsewhere := mustOpen(t, url, "n"), mustOpen(t, url, "n"), mustOpen(t, url, "n2")
	ctx := context.Background()
	// A first commit with a seq shows the listener of b is up (it wakes its
	// waiters once when it connects, too): only then can silence mean
	// something.
	ch := b.Changed()
	if err := a.Update(ctx, func(tx truce.Tx) error { return write(tx, "w") }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed was not closed by a commit on another Store")
	}
	ch = b.Changed()
	if err := a.Update(ctx, func(tx truce.Tx) error { return tx.PutCollection(&truce.Collection{Name: "c"}) }); err != nil {
		t.Fatal(err)
	}
	if err := elsewhere.Update(ctx, func(tx truce.Tx) error { return write(tx, "x") }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Error("Changed was closed by a commit without seqs, or one in another schema")
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.Update(ctx, func(tx truce.Tx) error { return write(tx, "x") }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed was not closed by a commit on another Store")
	}
	var n int
	if err := b.View(ctx, func(tx truce.ReadTx) error {
		evs, err := tx.Events(0, 10)
		n = len(evs)
		return err
	}); err != nil || n != 2 {
		t.Errorf("after the notification, a View of the other Store read %d events (%v), want 2", n, err)
	}
}

// TestChangedLongSchema checks notifications on a schema whose name would
// make too long a channel name.
func TestChangedLongSchema(t *testing.T) {
	url := pgtest.Start(t)
	const schema = "ünïcode_schema_with_a_name_much_longer_than_fifty_bytes_in_all"
	a, b := mustOpen(t, url, schema), mustOpen(t, url, schema)
	b.Changed()
	time.Sleep(200 * time.Millisecond)
	ch := b.Changed()
	if err := a.Update(context.Background(), func(tx truce.Tx) error { return write(tx, "x") }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("Changed was not closed by a commit on another Store")
	}
}
