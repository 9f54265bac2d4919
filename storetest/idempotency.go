package storetest

import (
	"bytes"
	"testing"

	"github.com/trucedb/truce"
)

var idempotencyTests = []test{
	{"Idempotency", testIdempotency},
}

func testIdempotency(t *testing.T, h *harness) {
	doc := &truce.Document{Collection: "c", ID: "d", Version: 3, Seq: 9, CreatedAt: at(1), UpdatedAt: at(2), Body: []byte(`{"a":1}`)}
	recs := []*truce.IdempotencyRecord{
		{IdempotencyKey: truce.IdempotencyKey{Caller: "ann", Key: "k1", Fingerprint: []byte{1, 2}}, CreatedAt: at(0), ExpiresAt: at(10),
			Result: &truce.WriteResult{Document: doc, Created: true}},
		{IdempotencyKey: truce.IdempotencyKey{Caller: "ann", Key: "k2", Fingerprint: []byte{3}}, CreatedAt: at(0), ExpiresAt: at(20),
			Answer: []byte(`{"s":412,"ct":"application/problem+json"}`)},
		// Caller and key must not run together: ("annk", "1") is not ("ann", "k1").
		{IdempotencyKey: truce.IdempotencyKey{Caller: "annk", Key: "1", Fingerprint: []byte{4}}, CreatedAt: at(0), ExpiresAt: at(30), Answer: []byte{0, 1, 0xff}},
		// A claim: a request with the key runs; no answer yet.
		{IdempotencyKey: truce.IdempotencyKey{Caller: "bob", Key: "k4", Fingerprint: []byte{5}, Claim: "c1"}, CreatedAt: at(0), ExpiresAt: at(50)},
	}
	h.update(func(tx truce.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		for _, want := range recs {
			got, err := tx.Idempotency(want.Caller, want.Key)
			check(t, "Idempotency", err)
			if got == nil || !bytes.Equal(got.Fingerprint, want.Fingerprint) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
				!bytes.Equal(got.Answer, want.Answer) || got.Claim != want.Claim {
				t.Errorf("Idempotency(%s, %s) = %+v, want %+v", want.Caller, want.Key, got, want)
				continue
			}
			if (got.Result == nil) != (want.Result == nil) {
				t.Errorf("Idempotency(%s, %s).Result = %v", want.Caller, want.Key, got.Result)
			} else if got.Result != nil {
				d := got.Result.Document
				if !got.Result.Created || d.ID != "d" || d.Version != 3 || d.Seq != 9 || string(d.Body) != `{"a":1}` || !d.UpdatedAt.Equal(at(2)) {
					t.Errorf("stored result %+v", d)
				}
			}
		}
		_, err := tx.Idempotency("ann", "k3")
		noRecord(t, "Idempotency(ann, k3)", err)
		_, err = tx.Idempotency("bob", "k1")
		noRecord(t, "Idempotency(bob, k1)", err)
		return nil
	})

	// Replacing a record moves its expiry; sweeping deletes only what expired.
	h.update(func(tx truce.Tx) error {
		r := *recs[0]
		r.ExpiresAt = at(40)
		return tx.PutIdempotency(&r)
	})
	var n int
	h.update(func(tx truce.Tx) error {
		var err error
		n, err = tx.DeleteExpiredIdempotency(at(25), 100)
		return err
	})
	if n != 1 {
		t.Fatalf("DeleteExpiredIdempotency(at 25) deleted %d, want 1 (ann/k2)", n)
	}
	h.read(func(tx truce.ReadTx) error {
		_, err := tx.Idempotency("ann", "k2")
		noRecord(t, "Idempotency(ann, k2) after sweep", err)
		for _, k := range [][2]string{{"ann", "k1"}, {"annk", "1"}} {
			_, err := tx.Idempotency(k[0], k[1])
			check(t, "Idempotency after sweep", err)
		}
		return nil
	})
	h.update(func(tx truce.Tx) error {
		var err error
		n, err = tx.DeleteExpiredIdempotency(at(100), 1)
		return err
	})
	if n != 1 {
		t.Fatalf("DeleteExpiredIdempotency with limit 1 deleted %d", n)
	}
	h.update(func(tx truce.Tx) error {
		var err error
		n, err = tx.DeleteExpiredIdempotency(at(100), 100)
		return err
	})
	if n != 2 {
		t.Fatalf("second sweep deleted %d, want the last 2", n)
	}
}
