package pebble

import (
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

// Records written before the answer became opaque kept the status, content
// type and body the http package gave in s, ct and b. They are still read,
// and their answer is handed on in the form the http package encodes
// answers in (its storedAnswer), so that a retry within the TTL still
// gets the first answer rather than applying its write again. The values
// are what the previous code wrote, byte for byte.
func TestLegacyIdempotencyRecords(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	old := map[string]string{
		"k1": `{"c":"addr:127.0.0.1","k":"k1","f":"AQI=","t":"2026-01-01T00:00:00Z","x":"2026-01-02T00:00:00Z","s":412,"ct":"application/problem+json","b":"eyJjb2RlIjoicHJlY29uZGl0aW9uX2ZhaWxlZCJ9"}`,
		"k2": `{"c":"addr:127.0.0.1","k":"k2","f":"Aw==","t":"2026-01-01T00:00:00Z","x":"2026-01-02T00:00:00Z","s":204}`,
	}
	want := map[string]string{
		"k1": `{"s":412,"ct":"application/problem+json","b":"eyJjb2RlIjoicHJlY29uZGl0aW9uX2ZhaWxlZCJ9"}`,
		"k2": `{"s":204}`,
	}
	expires := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for key, v := range old {
		if err := s.db.Set(idempotencyKey(nil, "addr:127.0.0.1", key), []byte(v), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := s.db.Set(idemExpiryKey(nil, expires, "addr:127.0.0.1", key), nil, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	err = s.View(t.Context(), func(tx truce.ReadTx) error {
		for key := range old {
			rec, err := tx.Idempotency("addr:127.0.0.1", key)
			if err != nil {
				return err
			}
			if string(rec.Answer) != want[key] || rec.Result != nil || !rec.ExpiresAt.Equal(expires) || rec.Key != key {
				t.Errorf("legacy record %s read as %+v, answer %s; want answer %s", key, rec, rec.Answer, want[key])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// They are swept as any other.
	var n int
	err = s.Update(t.Context(), func(tx truce.Tx) error {
		n, err = tx.DeleteExpiredIdempotency(expires, 10)
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
}
