package pebble

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/trucedb/truce"
)

// Records written before transactions had owners have no "o": they load
// without an owner, so that any caller may still use them until they
// expire, as when they were begun.
func TestLegacyTransactionRecords(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	v := `{"id":"old","t":"2026-01-01T00:00:00Z","x":"` + expires.Format(time.RFC3339) + `","r":0}`
	if err := s.db.Set(transactionKey(nil, "old"), []byte(v), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(transactionExpiryKey(nil, expires, "old"), nil, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	svc := truce.NewService(s, truce.Options{})
	ctx := truce.WithCaller(context.Background(), truce.Caller{ID: "token:ab12", Name: "ann"})
	if _, err := svc.TransactionWrite(ctx, "old", truce.Op{Kind: truce.OpPut, Collection: "acc", ID: "a", Document: []byte(`{}`)}, nil, nil); err != nil {
		t.Fatalf("staging in a transaction without owner: %v", err)
	}
	err = s.View(t.Context(), func(tx truce.ReadTx) error {
		tr, err := tx.Transaction("old")
		if err == nil && (tr.Owner != "" || !tr.ExpiresAt.Equal(expires) || len(tr.Ops) != 1) {
			t.Errorf("legacy record read as %+v", tr)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := svc.CommitTransaction(ctx, "old", nil, nil); err != nil || len(res) != 1 {
		t.Fatalf("commit: %v %+v", err, res)
	}
}
