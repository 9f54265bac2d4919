package truce_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// collect reads n events from sub, failing the test on an error.
func collect(t *testing.T, sub *truce.Subscription, n int) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var seqs []int64
	for len(seqs) < n {
		evs, err := sub.Next(ctx, 7)
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(seqs), err)
		}
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
	}
	return seqs
}

func writeConcurrently(t *testing.T, svc *truce.Service, writers, each int) {
	t.Helper()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := svc.Put(context.Background(), "c", fmt.Sprintf("w%d-%d", w, i%3), []byte(`{}`), truce.Precondition{}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestFeedSlowSubscriberCatchesUp: a subscriber that reads nothing while the
// ring moves past its position reads the log itself afterwards, and gets
// every event once, in order, as does one that keeps up.
func TestFeedSlowSubscriberCatchesUp(t *testing.T) {
	svc, _ := mustService(t)
	feed := svc.Feed()
	truce.SetFeedRing(feed, 16)
	slow, err := feed.Subscribe(t.Context(), 0, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	live, err := feed.Subscribe(t.Context(), 0, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// Start the hub: a wait that times out.
	wctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	if _, err := live.Next(wctx, 1); err != context.DeadlineExceeded {
		t.Fatalf("Next on an empty feed = %v, want a timeout", err)
	}
	cancel()
	for truce.FeedRingFirst(feed) == 0 {
		time.Sleep(time.Millisecond) // the hub loads
	}
	const total = 8 * 25
	var liveSeqs []int64
	done := make(chan struct{})
	go func() { defer close(done); liveSeqs = collect(t, live, total) }()
	writeConcurrently(t, svc, 8, 25)
	<-done
	if n := feed.Subscribers(); n != 2 {
		t.Errorf("Subscribers = %d, want 2", n)
	}
	if first := truce.FeedRingFirst(feed); first <= 1 {
		t.Fatalf("the ring still starts at %d: the test did not make the subscriber fall behind it", first)
	}
	for name, got := range map[string][]int64{"live": liveSeqs, "slow": collect(t, slow, total)} {
		for i, seq := range got {
			if seq != int64(i+1) {
				t.Fatalf("%s subscriber: event %d has seq %d", name, i, seq)
			}
		}
	}
}

// TestFeedExpiredUnderSubscriber: a subscriber that fell behind both the
// ring and the retained log gets events_expired, not a gap.
func TestFeedExpiredUnderSubscriber(t *testing.T) {
	svc, _ := mustService(t)
	feed := svc.Feed()
	truce.SetFeedRing(feed, 8)
	slow, err := feed.Subscribe(t.Context(), 0, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	live, err := feed.Subscribe(t.Context(), -1, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	done := make(chan struct{})
	go func() { defer close(done); collect(t, live, 40) }()
	writeConcurrently(t, svc, 4, 10)
	<-done
	if _, err := svc.TrimEvents(t.Context(), truce.EventRetention{MaxCount: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Next(t.Context(), 10); truce.ErrorCode(err) != truce.CodeEventsExpired {
		t.Fatalf("Next behind the trimmed log = %v, want events_expired", err)
	}
	if _, err := feed.Subscribe(t.Context(), 34, truce.FeedFilter{}); truce.ErrorCode(err) != truce.CodeEventsExpired {
		t.Fatalf("Subscribe behind the trimmed log = %v, want events_expired", err)
	}
}

func TestParseEventRetention(t *testing.T) {
	for _, c := range []struct {
		in   string
		want truce.EventRetention
		err  bool
	}{
		{"168h", truce.EventRetention{MaxAge: 168 * time.Hour}, false},
		{"1000000", truce.EventRetention{MaxCount: 1000000}, false},
		{"168h,1000000", truce.EventRetention{MaxAge: 168 * time.Hour, MaxCount: 1000000}, false},
		{"1000, 2h", truce.EventRetention{MaxAge: 2 * time.Hour, MaxCount: 1000}, false},
		{"0", truce.EventRetention{}, false},
		{"", truce.EventRetention{}, true},
		{"-1", truce.EventRetention{}, true},
		{"1h,2h", truce.EventRetention{}, true},
		{"week", truce.EventRetention{}, true},
		{"1h30m", truce.EventRetention{MaxAge: 90 * time.Minute}, false},
		{"1h10m", truce.EventRetention{MaxAge: 70 * time.Minute}, false},
		{"90s", truce.EventRetention{MaxAge: 90 * time.Second}, false},
	} {
		got, err := truce.ParseEventRetention(c.in)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("ParseEventRetention(%q) = %+v, %v", c.in, got, err)
		}
		if !c.err {
			if c.in == "168h" && got.String() != "168h" {
				t.Errorf("String of a week is %q, want the form people write, 168h", got.String())
			}
			if back, _ := truce.ParseEventRetention(got.String()); back != got {
				t.Errorf("String of %+v does not parse back: %q", got, got.String())
			}
		}
	}
}

// TestTrimEventsByAge: with a clock the test moves, events older than MaxAge
// go and younger ones stay.
func TestTrimEventsByAge(t *testing.T) {
	store, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	svc := truce.NewService(store, truce.Options{Now: clock})
	for i := range 6 {
		if _, err := svc.Put(t.Context(), "c", fmt.Sprint("d", i), []byte(`{}`), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
		advance(time.Minute) // event i+1 is written at minute i
	}
	// Now is minute 6: events of minutes 0-2 are older than 3m30s.
	trimmed, err := svc.TrimEvents(t.Context(), truce.EventRetention{MaxAge: 3*time.Minute + 30*time.Second})
	if err != nil || trimmed != 3 {
		t.Fatalf("TrimEvents by age = %d, %v; want 3", trimmed, err)
	}
	// Count and age together: the stricter wins.
	trimmed, err = svc.TrimEvents(t.Context(), truce.EventRetention{MaxAge: time.Hour, MaxCount: 1})
	if err != nil || trimmed != 5 {
		t.Fatalf("TrimEvents by count = %d, %v; want 5", trimmed, err)
	}
}

// TestFeedSeqsWithoutEvents: seqs that carry no event (a commit may allocate
// one for a record that is not in the feed) are passed over, by the ring and
// by the log alike, and the position moves past them.
func TestFeedSeqsWithoutEvents(t *testing.T) {
	svc, store := mustService(t)
	feed := svc.Feed()
	put := func(id string) {
		if _, err := svc.Put(t.Context(), "c", id, []byte(`{}`), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	gap := func() {
		if err := store.Update(t.Context(), func(tx truce.Tx) error { _, err := tx.NextSeq(); return err }); err != nil {
			t.Fatal(err)
		}
	}
	fromLog, err := feed.Subscribe(t.Context(), 0, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer fromLog.Close()
	put("a")
	gap()
	put("b")
	gap()
	if got := collect(t, fromLog, 2); got[0] != 1 || got[1] != 3 || fromLog.Pos() != 4 {
		t.Fatalf("from the log: %v, position %d; want [1 3], 4", got, fromLog.Pos())
	}
	live, err := feed.Subscribe(t.Context(), -1, truce.FeedFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	done := make(chan []int64)
	go func() { done <- collect(t, live, 1) }()
	time.Sleep(50 * time.Millisecond) // the hub runs
	gap()
	put("c")
	if got := <-done; got[0] != 6 || live.Pos() != 6 {
		t.Fatalf("live: %v, position %d; want [6], 6", got, live.Pos())
	}
}
