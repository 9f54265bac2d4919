package truce

import (
	"context"
	"errors"
	"strconv"

	"github.com/trucedb/truce/merge"
)

// VersionPage is one page of a document's history, newest first.
type VersionPage struct {
	Items []*Document
	// Next is the cursor (a version number, for before=) of the next page,
	// "" on the last page.
	Next string
}

// keptFrom returns the oldest version of cur's history that the
// collection's historyLimit keeps. A limit lowered since the last write
// takes effect at once for reads; storage is trimmed on the next write.
func keptFrom(s *Settings, cur *Document) int64 {
	if s.HistoryLimit <= 0 {
		return 1
	}
	return max(1, cur.Version-int64(s.HistoryLimit)+1)
}

// history reads a document's current version and the collection's
// settings, for the history methods. The document may be deleted, but it
// must have existed.
func history(tx ReadTx, collection, id string) (*Document, *Settings, error) {
	cur, err := getDocument(tx, collection, id)
	if err != nil {
		return nil, nil, err
	}
	if cur == nil {
		return nil, nil, Errorf(CodeNotFound, "%s has no history: it never existed", refString(collection, id))
	}
	c, err := getCollection(tx, collection)
	if err != nil {
		return nil, nil, err
	}
	if c == nil {
		c = &Collection{}
	}
	return cur, &c.Settings, nil
}

// ListVersions lists the kept versions of a document (deleted or not) older
// than before (0: from the newest), newest first; limit 0 means 100.
func (s *Service) ListVersions(ctx context.Context, collection, id string, before int64, limit int) (*VersionPage, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	if before < 0 {
		return nil, Errorf(CodeInvalidParameter, "before must be a positive version, not %d", before)
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	page := &VersionPage{}
	err = s.store.View(ctx, func(tx ReadTx) error {
		cur, settings, err := history(tx, collection, id)
		if err != nil {
			return err
		}
		from := keptFrom(settings, cur)
		vs, err := tx.Versions(collection, id, before, limit+1)
		if err != nil {
			return err
		}
		for len(vs) > 0 && vs[len(vs)-1].Version < from {
			vs = vs[:len(vs)-1]
		}
		if len(vs) > limit {
			vs = vs[:limit]
			page.Next = strconv.FormatInt(vs[limit-1].Version, 10)
		}
		page.Items = vs
		return nil
	})
	return page, err
}

// GetVersion returns a document as it was at version v (a tombstone if v
// deleted it). Returns CodeVersionTrimmed for a version that history no
// longer keeps and CodeNotFound for one that never existed.
func (s *Service) GetVersion(ctx context.Context, collection, id string, v int64) (*Document, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	var d *Document
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		d, err = readVersion(tx, collection, id, v)
		return err
	})
	return d, err
}

func readVersion(tx ReadTx, collection, id string, v int64) (*Document, error) {
	cur, settings, err := history(tx, collection, id)
	if err != nil {
		return nil, err
	}
	ref := refString(collection, id)
	switch {
	case v < 1:
		return nil, Errorf(CodeInvalidParameter, "versions start at 1, not %d", v)
	case v > cur.Version:
		return nil, Errorf(CodeNotFound, "%s has no version %d; its latest is %d", ref, v, cur.Version)
	case v < keptFrom(settings, cur):
		return nil, trimmed(ref, v, keptFrom(settings, cur))
	case v == cur.Version:
		return cur, nil
	}
	d, err := tx.Version(collection, id, v)
	if errors.Is(err, ErrNoRecord) {
		return nil, trimmed(ref, v, keptFrom(settings, cur))
	}
	return d, err
}

func trimmed(ref string, v, from int64) error {
	return Errorf(CodeVersionTrimmed, "version %d of %s is no longer kept (the collection's historyLimit keeps versions from %d on)", v, ref, from)
}

// Diff returns an RFC 6902 JSON Patch that turns the document's version
// from into version to. It compares the user's fields; a tombstone counts
// as {"_deleted": true}.
func (s *Service) Diff(ctx context.Context, collection, id string, from, to int64) ([]byte, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	var a, b *Document
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if a, err = readVersion(tx, collection, id, from); err != nil {
			return err
		}
		b, err = readVersion(tx, collection, id, to)
		return err
	})
	if err != nil {
		return nil, err
	}
	return merge.Diff(diffBody(a), diffBody(b))
}

func diffBody(d *Document) []byte {
	if d.Deleted {
		return []byte(`{"_deleted":true}`)
	}
	return d.Body
}

// Restore writes the content of version v as a new version (preconditions
// apply as to any write). Restoring a tombstone deletes the document;
// restoring a version of a deleted document brings it back. It stores its
// result as idem's answer (see IdempotencyKey).
func (s *Service) Restore(ctx context.Context, collection, id string, v int64, pre Precondition, idem *IdempotencyKey) (WriteResult, error) {
	return s.write(ctx, writeRequest{kind: kindRestore, collection: collection, id: id, pre: pre,
		produce: func(tx ReadTx, cur *Document) ([]byte, bool, error) {
			old, err := readVersion(tx, collection, id, v)
			if err != nil {
				return nil, false, err
			}
			return old.Body, old.Deleted, nil
		}}, idem)
}
