package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/pgtest"
)

// TestFeedAcrossNodes runs two Services, as two truce nodes, on one
// schema, and writes through both at once: a subscriber on each node gets
// every write's event, in the same seq order with the same ids, and the
// seqs have no gap.
func TestFeedAcrossNodes(t *testing.T) {
	url := pgtest.Start(t)
	nodes := []*truce.Service{
		truce.NewService(mustOpen(t, url, ""), truce.Options{}),
		truce.NewService(mustOpen(t, url, ""), truce.Options{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := nodes[0].Put(ctx, "c", "first", []byte(`{}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	var subs []*truce.Subscription
	for _, n := range nodes {
		sub, err := n.Feed().Subscribe(ctx, -1, truce.FeedFilter{})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs = append(subs, sub)
	}
	const writers, each = 4, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			n := nodes[w%len(nodes)]
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				if _, err := n.Put(ctx, "c", id, []byte(`{"i":1}`), truce.Precondition{}, nil); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		})
	}
	type seen struct {
		seq int64
		id  string
	}
	got := make([][]seen, len(subs))
	var rg sync.WaitGroup
	for i, sub := range subs {
		rg.Go(func() {
			for len(got[i]) < writers*each {
				evs, err := sub.Next(ctx, 100)
				if err != nil {
					t.Errorf("node %d: Next after %d events: %v", i, len(got[i]), err)
					return
				}
				for _, e := range evs {
					got[i] = append(got[i], seen{e.Event.Seq, e.Event.ID})
				}
			}
		})
	}
	wg.Wait()
	rg.Wait()
	if t.Failed() {
		return
	}
	for i := range got {
		for j, s := range got[i] {
			if j > 0 && s.seq != got[i][j-1].seq+1 {
				t.Fatalf("node %d: event %d has seq %d after seq %d", i, j, s.seq, got[i][j-1].seq)
			}
			if s != got[0][j] {
				t.Fatalf("event %d: node %d got %+v, node 0 got %+v", j, i, s, got[0][j])
			}
		}
	}
}
