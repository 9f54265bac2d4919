package loadgen_test

import (
	"context"
	"testing"

	"github.com/trucedb/truce/internal/loadgen"
)

// TestTxTransfer runs transfers from 16 clients over 5 accounts, so that
// many batches conflict, then checks that money was neither made nor lost
// and that the accounts went through exactly two versions per transfer.
func TestTxTransfer(t *testing.T) {
	const clients, accounts, transfers = 16, 5, 300
	base := mustServe(t)
	s := runWorkload(t, base, "tx-transfer", loadgen.Config{Clients: clients, Docs: accounts, DocSize: 256}, transfers)
	if s.Writes != transfers || s.Conflicts != s.Retries {
		t.Errorf("writes %d conflicts %d retries %d, want %d writes and a retry per conflict", s.Writes, s.Conflicts, s.Retries, transfers)
	}
	if s.Conflicts == 0 {
		t.Errorf("16 clients on 5 accounts never conflicted: the ifMatch is not checked")
	}
	target := mustTarget(t, base)
	total, versions, err := loadgen.TxTotal(context.Background(), target, accounts)
	if err != nil {
		t.Fatal(err)
	}
	if total != accounts*loadgen.InitialBalance {
		t.Errorf("total balance %d after the transfers, want %d", total, accounts*loadgen.InitialBalance)
	}
	if want := int64(accounts + 2*transfers); versions != want { // the seed is version 1
		t.Errorf("accounts went through %d versions in all, want %d: a batch was half applied or a commit not counted", versions, want)
	}
}

// TestLockCycle runs lock cycles from 12 clients on one hot document and
// on a few: every write is refused unless it carries the holder's token
// (the workload fails on a 423), and the unconditional read-modify-writes
// add up only if no two cycles on a document overlapped.
func TestLockCycle(t *testing.T) {
	for _, docs := range []int{1, 3} {
		base := mustServe(t)
		const cycles = 150
		s := runWorkload(t, base, "lock-cycle", loadgen.Config{Clients: 12, Docs: docs, DocSize: 256}, cycles)
		if s.Writes != cycles {
			t.Errorf("docs %d: %d writes, want %d", docs, s.Writes, cycles)
		}
		counters, versions, err := loadgen.LockCounters(context.Background(), mustTarget(t, base), docs)
		if err != nil {
			t.Fatal(err)
		}
		if counters != cycles {
			t.Errorf("docs %d: counters add up to %d after %d cycles: two cycles overlapped and lost an update", docs, counters, cycles)
		}
		if versions != int64(docs+cycles) {
			t.Errorf("docs %d: %d versions in all, want %d", docs, versions, docs+cycles)
		}
	}
}

// TestWatchFanout runs writers while 40 subscribers follow the feed, and
// checks that every subscriber received the event of every write.
func TestWatchFanout(t *testing.T) {
	const clients, subscribers, writes = 4, 40, 200
	base := mustServe(t)
	target := mustTarget(t, base)
	spec, _ := loadgen.Lookup("watch-fanout")
	w, err := spec.New(target)
	if err != nil {
		t.Fatal(err)
	}
	fan := w.(loadgen.Fanout)
	ctx := context.Background()
	op, err := w.Prepare(ctx, loadgen.Config{Clients: clients, DocSize: 256, Subscribers: subscribers})
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadgen.Run(ctx, op, loadgen.RunOptions{Clients: clients, Count: writes, Measuring: fan.Measuring})
	if err != nil {
		t.Fatal(err)
	}
	d, err := fan.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Writes != writes || d.Writes != writes || d.Subscribers != subscribers {
		t.Fatalf("writes %d/%d subscribers %d, want %d and %d", s.Writes, d.Writes, d.Subscribers, writes, subscribers)
	}
	if d.Expected != writes*subscribers || d.Delivered != d.Expected {
		t.Errorf("delivered %d of %d events", d.Delivered, d.Expected)
	}
	if d.Latency.P50 <= 0 || d.Latency.Max < d.Latency.P50 {
		t.Errorf("delivery delay %+v, want recorded", d.Latency)
	}
}

// mustTarget returns the test server as a loadgen target over "bench".
func mustTarget(t *testing.T, base string) *loadgen.Truce {
	t.Helper()
	target, err := loadgen.NewTruce(base, "bench", "", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	return target
}
