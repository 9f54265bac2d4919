package truce_test

import (
	"encoding/json"
	"strings"
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

// TestEventJSONBytes pins the exact bytes of strings that need escaping:
// the feed's JSON escapes them as encoding/json does, <, > and & included,
// and copies Info's values as they are.
func TestEventJSONBytes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := truce.Event{Seq: 1, Type: "a\"b\\c", Collection: "<c>", ID: "x&y\u2028\u2029\t\n\r\b\f\x01\x1f\x7fé😀", Time: at,
		Info: []byte(`{"k<&>\u2028é":"v <&>","\"q\"":1}`)}
	want := `{"seq":1,"type":"a\"b\\c","collection":"\u003cc\u003e","id":"x\u0026y\u2028\u2029\t\n\r\b\f\u0001\u001f` + "\x7fé😀" +
		`","time":"2026-01-02T03:04:05.000Z","k\u003c\u0026\u003e\u2028é":"v <&>","\"q\"":1}`
	if got := string(e.AppendJSON(nil, true)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, s := range []string{"", "plain", `"\`, "<>&", "\u2028\u2029", "\x00\x08\x0c\x1b", "é😀"} {
		e := truce.Event{Type: truce.EventType(s)}
		j, _ := json.Marshal(s)
		want := `{"seq":0,"type":` + string(j) + `,"time":"0001-01-01T00:00:00.000Z"}`
		if got := string(e.AppendJSON(nil, false)); got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

// BenchmarkEventAppendJSON measures encoding an event for the feed, done
// once per committed write: a document update with a 1 KiB document, and a
// lock event whose Info is copied member by member.
func BenchmarkEventAppendJSON(b *testing.B) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	doc := []byte(`{"_id":"n1","text":"` + strings.Repeat("lorem ipsum ", 85) + `"}`)
	for _, c := range []struct {
		name string
		e    truce.Event
	}{
		{"update", truce.Event{Seq: 123456, Type: truce.EventDocumentUpdated, Collection: "notes", ID: "01JABCDEFGHJKMNPQRSTVWXYZ0",
			Version: 42, ETag: `"42-123456"`, Time: at, Document: doc}},
		{"lock", truce.Event{Seq: 123457, Type: truce.EventLockAcquired, Collection: "notes", ID: "01JABCDEFGHJKMNPQRSTVWXYZ0",
			Version: 42, ETag: `"42-123456"`, Time: at, Info: []byte(`{"owner":"ann","expiresAt":"2026-01-02T03:05:05Z","fence":123457}`)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = c.e.AppendJSON(buf[:0], true)
			}
		})
	}
}
