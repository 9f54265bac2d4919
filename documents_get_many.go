package truce

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
)

// MaxGetMany is the most ids one GetMany reads.
const MaxGetMany = 1000

// Lookup is the answer of GetMany: one item per id asked for, in the order
// asked, read in one snapshot.
type Lookup struct {
	Items []LookupItem
	// AsOf is the change-log seq of the snapshot: the events after it are
	// exactly the changes the answer does not show.
	AsOf int64
}

// LookupItem is one id of a GetMany and what it found.
type LookupItem struct {
	ID string
	// Document is the live document, or nil when the id has none: it never
	// existed, it was deleted, or it has expired (_expiresAt).
	Document *Document
}

// GetMany reads the live documents of collection with the given ids in one
// consistent snapshot, as one round trip would: every item is as it was at
// the same instant (Lookup.AsOf). An id may repeat; each is answered. An
// id without a live document is an item with a nil Document, not an
// error. It returns CodeInvalidID for a malformed id, CodeInvalidParameter
// for more than MaxGetMany ids, and CodeNotFound for a missing collection.
func (s *Service) GetMany(ctx context.Context, collection string, ids []string) (*Lookup, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	if len(ids) > MaxGetMany {
		return nil, Errorf(CodeInvalidParameter, "%d ids asked for; one read takes at most %d: split them", len(ids), MaxGetMany)
	}
	for i, id := range ids {
		if !ValidID(id) {
			return nil, Errorf(CodeInvalidID, "ids[%d]: %.80q is not a valid document id: use 1-255 bytes of letters, digits and . _ ~ : @ -", i, id)
		}
	}
	out := &Lookup{Items: make([]LookupItem, len(ids))}
	err := s.store.View(ctx, func(tx ReadTx) error {
		c, err := getCollection(tx, collection)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(CodeNotFound, "collection %s does not exist", collection)
		}
		if out.AsOf, err = tx.LastSeq(); err != nil {
			return err
		}
		now := s.now()
		for i, id := range ids {
			d, err := getDocument(tx, collection, id)
			if err != nil {
				return err
			}
			if d != nil && (d.Deleted || d.expired(now)) {
				d = nil
			}
			out.Items[i] = LookupItem{ID: id, Document: d}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendJSON appends the answer as the API shows it:
// {"items":[{"id","found","etag","document"}…],"asOf":N}, where a missing
// id's item has found false and neither etag nor document.
func (l *Lookup) AppendJSON(b []byte) []byte {
	b = append(b, `{"items":[`...)
	for i, it := range l.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendQuote(b, it.ID)
		if it.Document == nil {
			b = append(b, `,"found":false}`...)
			continue
		}
		b = append(b, `,"found":true,"etag":`...)
		b = strconv.AppendQuote(b, it.Document.ETag())
		b = append(b, `,"document":`...)
		b = it.Document.AppendJSON(b)
		b = append(b, '}')
	}
	b = append(b, `],"asOf":`...)
	b = strconv.AppendInt(b, l.AsOf, 10)
	return append(b, '}')
}

// DecodeGetMany parses the body of a bulk read, {"ids": ["a", "b"]},
// strictly: anything else is a CodeInvalidJSON or CodeInvalidParameter
// error that says what is wrong.
func DecodeGetMany(body []byte) ([]string, error) {
	if err := checkJSON(body, 4); err != nil {
		return nil, err
	}
	var req struct {
		IDs *[]string `json:"ids"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, Errorf(CodeInvalidParameter, `a bulk read is {"ids": ["id", …]}: %s`, strings.TrimPrefix(err.Error(), "json: "))
	}
	if req.IDs == nil {
		return nil, Errorf(CodeInvalidParameter, `a bulk read is {"ids": ["id", …]}: ids is missing`)
	}
	return *req.IDs, nil
}
