package truce_test

import (
	"context"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// TestImportExpiringDocuments: an export of a collection with a ttl,
// history included, imports into a collection with another ttl as it was:
// every version's _expiresAt kept, the expired ones too, none added, and
// again unchanged; the sweeper then deletes the documents whose last
// versions have expired.
func TestImportExpiringDocuments(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	src := truce.NewService(mustStore(t), truce.Options{Now: clock})
	if _, _, err := src.PutCollection(ctx, "s", truce.Settings{TTL: "1h"}); err != nil {
		t.Fatal(err)
	}
	// Version 1 has expired when the next write comes: that write deletes
	// it first (version 2, a tombstone), then writes version 3.
	for i, body := range []string{`{"n":1}`, `{"n":2}`} {
		if i > 0 {
			now = now.Add(2 * time.Hour)
		}
		if _, err := src.Put(ctx, "s", "a", []byte(body), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.Put(ctx, "s", "b", []byte(`{"_expiresAt":null,"n":3}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, ref := range []struct {
		id string
		v  int64
	}{{"a", 1}, {"a", 2}, {"a", 3}, {"b", 1}} {
		d, err := src.GetVersion(ctx, "s", ref.id, ref.v)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, truce.ExportLine(d))
	}

	dst := truce.NewService(mustStore(t), truce.Options{Now: clock})
	if _, _, err := dst.PutCollection(ctx, "s", truce.Settings{TTL: "24h"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, l := range lines {
			if _, err := dst.Import(ctx, l); err != nil {
				t.Fatalf("import %s: %v", l, err)
			}
		}
	}
	for _, ref := range []struct {
		id string
		v  int64
	}{{"a", 1}, {"a", 2}, {"a", 3}, {"b", 1}} {
		want, _ := src.GetVersion(ctx, "s", ref.id, ref.v)
		got, err := dst.GetVersion(ctx, "s", ref.id, ref.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.JSON()) != string(want.JSON()) {
			t.Errorf("%s version %d: imported %s, want %s", ref.id, ref.v, got.JSON(), want.JSON())
		}
	}
	if n, err := dst.ExpireDocuments(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireDocuments right after the import: %d, %v", n, err)
	}
	now = now.Add(time.Hour)
	// Both expire an hour later: b's null took the source's ttl, and the
	// import kept that expiry, not this collection's ttl of 24h.
	if n, err := dst.ExpireDocuments(ctx); err != nil || n != 2 {
		t.Fatalf("ExpireDocuments an hour later: %d, %v", n, err)
	}
}
