package truce

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Document expiry. A document may carry _expiresAt, an RFC 3339 time; a
// collection's Settings.TTL gives one to every write that carries none.
// Unlike the other reserved fields, _expiresAt is the client's to write, so
// it lives in the body: parseBody rewrites it in TimeLayout (UTC,
// milliseconds) as the body's first member, where expiresAt finds it
// without decoding the rest, and every read returns it as written.
//
// Once the time passes, the document reads as deleted (404, and missing
// from GetMany), and the next write to it, or the sweeper in Run
// (ExpireDocuments), deletes it as a DELETE would: a tombstone version, the
// history kept, a document.deleted event. A write that was based on the
// expired version therefore meets the tombstone: If-Match is 412, a body
// version is 404, a PATCH is 404, and a PUT without a precondition creates
// the document anew. A document that live documents still reference is not
// deleted (the delete would be refused with in_use): it stays, and reads
// as deleted, until they no longer do.

// expiryPrefix is how a body that carries _expiresAt starts; the time,
// len(TimeLayout) bytes once rendered, and a closing quote follow.
const expiryPrefix = `{"` + FieldExpiresAt + `":"`

// expiryTimeLen is the length of a time rendered in TimeLayout, for years
// 0 to 9999.
const expiryTimeLen = len("2006-01-02T15:04:05.000Z")

// expiryIndex is the name under which the Store keeps the index of a
// collection's documents by expiry. It is not a JSON array, so no index of
// Settings.Indexes has it (indexName).
const expiryIndex = "expiresAt"

// expiresAt returns the time a stored body expires, if it carries one.
func expiresAt(body []byte) (time.Time, bool) {
	if !bytes.HasPrefix(body, []byte(expiryPrefix)) || len(body) < len(expiryPrefix)+expiryTimeLen+2 {
		return time.Time{}, false
	}
	t, err := time.Parse(TimeLayout, string(body[len(expiryPrefix):len(expiryPrefix)+expiryTimeLen]))
	return t, err == nil
}

// ExpiresAt returns when the document expires (its _expiresAt), or the
// zero time when it does not.
func (d *Document) ExpiresAt() time.Time {
	t, _ := expiresAt(d.Body)
	return t
}

// expired reports whether a live document's expiry is not after now.
func (d *Document) expired(now time.Time) bool {
	t, ok := expiresAt(d.Body)
	return ok && !now.Before(t)
}

// withoutExpiry returns body without its _expiresAt member: the user's
// fields, which the schema checks.
func withoutExpiry(body []byte) []byte {
	if _, ok := expiresAt(body); !ok {
		return body
	}
	rest := body[len(expiryPrefix)+expiryTimeLen+1:] // after the closing quote
	if rest[0] == '}' {
		return []byte("{}")
	}
	return append([]byte{'{'}, rest[1:]...)
}

// expiry records the value of a body's _expiresAt: an RFC 3339 time, or
// null for none.
func (pb *parsedBody) expiry(v jsontext.Value) error {
	if v.Kind() == 'n' {
		pb.expires = ""
		return nil
	}
	bad := Errorf(CodeInvalidDocument, "_expiresAt must be an RFC 3339 time such as 2030-01-02T15:04:05Z, or null for none; %.60s is not", v)
	if v.Kind() != '"' {
		return bad
	}
	tok, err := jsontext.NewDecoder(bytes.NewReader(v)).ReadToken()
	if err != nil {
		return jsonError(err)
	}
	t, err := time.Parse(time.RFC3339Nano, tok.String())
	if err != nil || t.UTC().Year() < 1970 || t.UTC().Year() > 9999 {
		return bad
	}
	pb.expires = string(AppendTime(nil, t))
	return nil
}

// withExpiry returns the compact object fields with pb's _expiresAt as its
// first member.
func (pb *parsedBody) withExpiry(fields []byte) []byte {
	if pb.expires == "" {
		return fields
	}
	return setExpiry(fields, pb.expires)
}

// setExpiry returns a body without _expiresAt with exp (in TimeLayout) as
// its first member.
func setExpiry(body []byte, exp string) []byte {
	out := make([]byte, 0, len(body)+len(expiryPrefix)+expiryTimeLen+2)
	out = append(append(append(out, expiryPrefix...), exp...), '"')
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...)
}

// settleExpiry returns the body a write stores: its _expiresAt in the
// canonical place, or, when it has none and the collection has a TTL, one
// TTL from now. A time that is not in the future is refused (a write of a
// version that has expired would delete it at once), except for a restore,
// whose old version's expiry is dropped, and an import, which keeps the
// exported body as it was.
func settleExpiry(w writeRequest, settings *Settings, body []byte, now time.Time) ([]byte, error) {
	t, ok := expiresAt(body)
	if !ok && bytes.Contains(body, []byte(`"`+FieldExpiresAt+`"`)) {
		// A body not built by parseBody (a merge's result) that may carry
		// _expiresAt elsewhere: put it in its place.
		pb, err := parseBody(body)
		if err != nil {
			return nil, err
		}
		body = pb.fields
		t, ok = expiresAt(body)
	}
	if w.kind == kindImport {
		// An import stores the exported version as it was, so that a rerun
		// finds it unchanged: no ttl added, an expiry past or not.
		return body, nil
	}
	if ok && !t.After(now) {
		if w.kind != kindRestore {
			return nil, Errorf(CodeInvalidDocument, "%s: _expiresAt %s is not in the future (it is %s now); give a later time, or null for none",
				refString(w.collection, w.id), AppendTime(nil, t), AppendTime(nil, now))
		}
		body, ok = withoutExpiry(body), false
	}
	if ttl := settings.ttl(); !ok && ttl > 0 {
		body = setExpiry(body, string(AppendTime(nil, now.Add(ttl))))
	}
	return body, nil
}

// expiryKey returns the key of a document's entry in the expiry index:
// the time in milliseconds since 1970, big-endian, then the id, so that
// keys sort by expiry and never collide.
func expiryKey(t time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(t.UnixMilli())), id...)
}

// maintainExpiry moves the document's entry in the expiry index from the
// expiry of oldBody to that of newBody (nil bodies for none).
func maintainExpiry(tx Tx, collection, id string, oldBody, newBody []byte) error {
	ot, oldOK := expiresAt(oldBody)
	nt, newOK := expiresAt(newBody)
	if oldOK == newOK && ot.Equal(nt) {
		return nil
	}
	if oldOK {
		if err := tx.DeleteIndexEntry(collection, expiryIndex, expiryKey(ot, id)); err != nil {
			return err
		}
	}
	if newOK {
		return tx.PutIndexEntry(collection, expiryIndex, expiryKey(nt, id), id)
	}
	return nil
}

// expireInTx deletes cur, a live document that has expired, in tx, as a
// DELETE would, unless live documents reference it. It returns the
// tombstone, or nil when it left cur in place.
func (s *Service) expireInTx(tx Tx, cur *Document) (*Document, error) {
	if err := checkNotReferenced(tx, cur.Collection, cur.ID); err != nil {
		if ErrorCode(err) == CodeInUse {
			return nil, nil
		}
		return nil, err
	}
	w := deleteRequest(cur.Collection, cur.ID, Precondition{})
	w.expire = true
	res, err := s.applyWrite(tx, w)
	return res.Document, err
}

// maintainUniqueExpiring is maintainUnique, where a value held by a
// document that has expired is free: that document is deleted first, in
// the same commit, as a write to it would.
func (s *Service) maintainUniqueExpiring(tx Tx, settings *Settings, collection, id string, oldBody, newBody []byte) error {
	err := maintainUnique(tx, settings, collection, id, oldBody, newBody)
	for range settings.Unique {
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeUniqueViolation || e.Holder == nil {
			return err
		}
		holder, herr := getDocument(tx, e.Holder.Collection, e.Holder.ID)
		if herr != nil {
			return herr
		}
		if holder == nil || holder.Deleted || !holder.expired(s.now()) {
			return err
		}
		tomb, xerr := s.expireInTx(tx, holder)
		if xerr != nil || tomb == nil {
			return cmpErr(xerr, err)
		}
		// maintainUnique may have moved some entries already; doing it
		// again finds them in place.
		err = maintainUnique(tx, settings, collection, id, oldBody, newBody)
	}
	return err
}

func cmpErr(first, second error) error {
	if first != nil {
		return first
	}
	return second
}

// expireIfDue deletes the document, in tx, if it is live and has expired
// (and no live document references it): what a read inside a write, such
// as a batch's check or a transaction's read, does first, so that it sees
// what a write would.
func (s *Service) expireIfDue(tx Tx, collection, id string) error {
	cur, err := getDocument(tx, collection, id)
	if err != nil || cur == nil || cur.Deleted || !cur.expired(s.now()) {
		return err
	}
	_, err = s.expireInTx(tx, cur)
	return err
}

// ExpireDocuments deletes every document whose _expiresAt has passed (by
// the Service's clock), each as a DELETE would, in commits of a bounded
// size, and returns how many it deleted. Documents that live documents
// reference are left in place. Run calls it every few seconds.
func (s *Service) ExpireDocuments(ctx context.Context) (int, error) {
	var names []string
	err := s.store.View(ctx, func(tx ReadTx) error {
		cs, err := tx.Collections()
		for _, c := range cs {
			names = append(names, c.Name)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, name := range names {
		for from := []byte{}; from != nil; {
			n, next, err := s.expireBatch(ctx, name, from)
			total += n
			if err != nil {
				return total, err
			}
			from = next
		}
	}
	return total, nil
}

// expireBatch deletes the expired documents among the next sweepBatch
// entries of a collection's expiry index from the key from on, in one
// commit. next is where the following batch starts, nil after the last.
func (s *Service) expireBatch(ctx context.Context, collection string, from []byte) (n int, next []byte, err error) {
	// Most sweeps find nothing due: look in a read before taking a write
	// transaction, which writers would wait behind.
	due := false
	err = s.store.View(ctx, func(tx ReadTx) error {
		to := binary.BigEndian.AppendUint64(nil, uint64(s.now().UnixMilli()+1))
		es, err := tx.IndexEntries(collection, expiryIndex, from, to, false, 1)
		due = len(es) > 0
		return err
	})
	if err != nil || !due {
		return 0, nil, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		n, next = 0, nil
		now := s.now()
		to := binary.BigEndian.AppendUint64(nil, uint64(now.UnixMilli()+1))
		es, err := tx.IndexEntries(collection, expiryIndex, from, to, false, sweepBatch)
		if err != nil {
			return err
		}
		if len(es) == sweepBatch {
			next = append(bytes.Clone(es[len(es)-1].Key), 0)
		}
		for _, e := range es {
			cur, err := getDocument(tx, collection, e.ID)
			if err != nil {
				return err
			}
			if cur == nil || cur.Deleted || !cur.expired(now) {
				continue
			}
			d, err := s.expireInTx(tx, cur)
			if err != nil {
				return err
			}
			if d != nil {
				n++
			}
		}
		return nil
	})
	return n, next, err
}
