package truce

import (
	"encoding/json"
	"testing"
)

// TestFeedFilterReadable: with Readable set, an event passes when its
// collection is readable, a transaction.committed event when every write
// is, and an event of no collection and any other type never (a type
// added later is withheld until someone decides who may read it); without
// Readable everything passes.
func TestFeedFilterReadable(t *testing.T) {
	commit := func(collections ...string) []byte {
		info := commitEventInfo{Transaction: "t", Ops: len(collections)}
		for _, c := range collections {
			info.Writes = append(info.Writes, commitEventDoc{Collection: c, ID: "x", Version: 1})
		}
		b, err := json.Marshal(info)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	readsA := func(c string) bool { return c == "a" }
	for _, c := range []struct {
		name     string
		e        Event
		readable func(string) bool
		want     bool
	}{
		{"readable collection", Event{Type: EventDocumentCreated, Collection: "a"}, readsA, true},
		{"other collection", Event{Type: EventLockAcquired, Collection: "b"}, readsA, false},
		{"commit inside readable", Event{Type: EventTransactionCommitted, Info: commit("a", "a")}, readsA, true},
		{"commit touching other", Event{Type: EventTransactionCommitted, Info: commit("a", "b")}, readsA, false},
		{"commit with bad info", Event{Type: EventTransactionCommitted, Info: []byte("{")}, readsA, false},
		{"unknown type without collection", Event{Type: "cluster.rebalanced"}, readsA, false},
		{"unknown type, no Readable", Event{Type: "cluster.rebalanced"}, nil, true},
		{"commit touching other, no Readable", Event{Type: EventTransactionCommitted, Info: commit("b")}, nil, true},
	} {
		f := FeedFilter{Readable: c.readable}
		if got := f.match(&c.e); got != c.want {
			t.Errorf("%s: match = %v, want %v", c.name, got, c.want)
		}
	}
}
