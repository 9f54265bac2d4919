package pebble

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trucedb/truce"
)

// The conformance suite checks round trips to the microsecond; this store
// keeps nanoseconds, zero times and the difference between nil and empty.
func TestCodecRoundTrip(t *testing.T) {
	ns := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	docs := []*truce.Document{
		{Collection: "c", ID: "x", Version: 1, Seq: 1, CreatedAt: ns, UpdatedAt: ns, Body: []byte(`{"a":1}`)},
		{Collection: "c", ID: "x", Version: 1 << 40, Seq: 1 << 50, Body: []byte{}},
		{Collection: "c", ID: "x", Version: 3, Seq: 9, Deleted: true},
		{Collection: "c", ID: "x", Version: 4, Seq: 10, CreatedAt: time.Unix(-1e10, 5)},
		{Collection: "c", ID: "x", Version: 5, Seq: 11, UpdatedBy: "ci", Body: []byte(`{"a":1}`)},
		{Collection: "c", ID: "x", Version: 6, Seq: 12, UpdatedBy: "::1", Deleted: true},
	}
	for _, want := range docs {
		got, err := decodeDocument(appendDocument(nil, want), want.Collection, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" || (want.Body == nil) != (got.Body == nil) {
			t.Errorf("document round trip (-want +got):\n%s", d)
		}
	}
	events := []*truce.Event{
		{Seq: 7, Type: truce.EventDocumentCreated, Collection: "c", ID: "x", Version: 1, ETag: truce.FormatETag(1, 7), Time: ns, Document: []byte(`{}`)},
		{Seq: 8, Type: truce.EventDocumentDeleted, Collection: "c", ID: "x", Version: 2, ETag: `"other"`},
		{Seq: 9, Type: "custom", Collection: "c", ID: "x", Version: 3, Document: []byte{}},
		{Seq: 10, Type: truce.EventConflictOpened, Collection: "c", ID: "x", Version: 3, ETag: truce.FormatETag(3, 9), Time: ns, ConflictID: "01J"},
		{Seq: 11, Type: truce.EventConflictResolved, Collection: "c", ID: "x", Version: 4, ETag: truce.FormatETag(4, 11), ConflictID: "01J", Document: []byte(`{"a":1}`)},
		{Seq: 12, Type: truce.EventLockAcquired, Collection: "c", ID: "x", Time: ns, Info: []byte(`{"owner":"alice"}`)},
		{Seq: 13, Type: truce.EventType("future.kind"), Info: []byte(`{}`)},
	}
	for _, want := range events {
		got, err := decodeEvent(appendEvent(nil, want), want.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" || (want.Document == nil) != (got.Document == nil) {
			t.Errorf("event round trip (-want +got):\n%s", d)
		}
	}
	for _, bad := range [][]byte{nil, {formatV1}, {2, 0}, {formatV1, 0, 0x80}} {
		if _, err := decodeDocument(bad, "c", "x"); err == nil {
			t.Errorf("decodeDocument(%x) succeeded", bad)
		}
		if _, err := decodeEvent(bad, 1); err == nil {
			t.Errorf("decodeEvent(%x) succeeded", bad)
		}
	}
}
