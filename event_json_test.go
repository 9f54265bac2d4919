package truce_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
)

func TestEventAppendJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	for _, c := range []struct {
		name string
		e    truce.Event
		doc  bool
		want string
	}{
		{"document", truce.Event{Seq: 7, Type: truce.EventDocumentUpdated, Collection: "notes", ID: "n:1", Version: 2,
			ETag: `"2-7"`, Time: at, Document: []byte(`{"_id":"n:1","a":1}`)}, true,
			`{"seq":7,"type":"document.updated","collection":"notes","id":"n:1","version":2,"etag":"\"2-7\"","time":"2026-01-02T03:04:05.006Z","document":{"_id":"n:1","a":1}}`},
		{"without document", truce.Event{Seq: 7, Type: truce.EventDocumentUpdated, Collection: "notes", ID: "n1", Version: 2,
			ETag: `"2-7"`, Time: at, Document: []byte(`{}`)}, false,
			`{"seq":7,"type":"document.updated","collection":"notes","id":"n1","version":2,"etag":"\"2-7\"","time":"2026-01-02T03:04:05.006Z"}`},
		{"conflict", truce.Event{Seq: 8, Type: truce.EventConflictOpened, Collection: "c", ID: "x", Version: 3,
			ETag: `"3-8"`, Time: at, ConflictID: "01J"}, true,
			`{"seq":8,"type":"conflict.opened","collection":"c","id":"x","version":3,"etag":"\"3-8\"","time":"2026-01-02T03:04:05.006Z","conflictId":"01J"}`},
		{"info", truce.Event{Seq: 9, Type: truce.EventLockAcquired, Collection: "c", ID: "x", Version: 3,
			ETag: `"3-8"`, Time: at, Info: []byte(`{"owner":"ann <a&b>","expiresAt":"2026-01-02T03:05:05Z","id":"shadow","n":[1,2]}`)}, true,
			`{"seq":9,"type":"lock.acquired","collection":"c","id":"x","version":3,"etag":"\"3-8\"","time":"2026-01-02T03:04:05.006Z","owner":"ann <a&b>","expiresAt":"2026-01-02T03:05:05Z","n":[1,2]}`},
		{"lock, no version", truce.Event{Seq: 10, Type: truce.EventLockReleased, Collection: "c", ID: "x", Time: at,
			Info: []byte(`{"owner":"ann"}`)}, true,
			`{"seq":10,"type":"lock.released","collection":"c","id":"x","time":"2026-01-02T03:04:05.006Z","owner":"ann"}`},
		{"transaction, no document", truce.Event{Seq: 11, Type: truce.EventTransactionCommitted, Time: at,
			Info: []byte(`{"transaction":"T1","ops":2}`)}, true,
			`{"seq":11,"type":"transaction.committed","time":"2026-01-02T03:04:05.006Z","transaction":"T1","ops":2}`},
	} {
		got := c.e.AppendJSON(nil, c.doc)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: not JSON: %v: %s", c.name, err, got)
		}
		json.Unmarshal([]byte(c.want), &w)
		if d := cmp.Diff(w, g); d != "" {
			t.Errorf("%s: (-want +got)\n%s\n%s", c.name, d, got)
		}
	}
}
