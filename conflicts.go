package truce

import (
	"context"
	"errors"
	"time"

	"github.com/trucedb/truce/merge"
)

// recordConflict stores the conflict drafted by a refused manual-policy
// write, with its conflict.opened event, and names it in the error. It runs
// as a commit of its own right after the refused write's transaction: that
// transaction wrote nothing (a failed Update applies nothing), so nothing
// is lost by not sharing its commit, and the conflict is durable before the
// caller sees the 409. The document may have moved on in between; the
// conflict records the state that the refused write saw.
func (s *Service) recordConflict(ctx context.Context, e *Error) error {
	c := *e.conflict
	c.ID = s.newID()
	c.Status = ConflictOpen
	c.CreatedAt = s.now().UTC().Truncate(time.Millisecond) // as documents show times
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.PutConflict(&c); err != nil {
			return err
		}
		return appendConflictEvent(tx, &c, EventConflictOpened, c.CurrentVersion, FormatETag(c.CurrentVersion, e.Current.Seq), c.CreatedAt)
	})
	if err != nil {
		return err
	}
	e.ConflictID = c.ID
	e.Detail += "; recorded as conflict " + c.ID
	return nil
}

func appendConflictEvent(tx Tx, c *Conflict, typ EventType, version int64, etag string, at time.Time) error {
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	return tx.AppendEvent(&Event{Seq: seq, Type: typ, Collection: c.Collection, ID: c.DocID,
		Version: version, ETag: etag, Time: at, ConflictID: c.ID})
}

// getConflict reads a conflict, or CodeNotFound.
func getConflict(tx ReadTx, id string) (*Conflict, error) {
	if id == "" || len(id) > 255 {
		return nil, Errorf(CodeNotFound, "there is no conflict %.80q", id)
	}
	c, err := tx.Conflict(id)
	if errors.Is(err, ErrNoRecord) {
		return nil, Errorf(CodeNotFound, "there is no conflict %.80q", id)
	}
	return c, err
}

func checkOpen(c *Conflict) error {
	if c.Status != ConflictOpen {
		return Errorf(CodeConflictClosed, "conflict %s was %s at %s", c.ID, c.Status, AppendTime(nil, c.ClosedAt))
	}
	return nil
}

// GetConflict returns a recorded conflict, or CodeNotFound.
func (s *Service) GetConflict(ctx context.Context, id string) (*Conflict, error) {
	var c *Conflict
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		c, err = getConflict(tx, id)
		return err
	})
	return c, err
}

// ListConflicts lists recorded conflicts that pass f, ordered by id (which is
// creation order), up to limit (0 means 100) after the cursor after.
func (s *Service) ListConflicts(ctx context.Context, f ConflictFilter, after string, limit int) (*ConflictPage, error) {
	switch f.Status {
	case "", ConflictOpen, ConflictResolved, ConflictDismissed:
	default:
		return nil, Errorf(CodeInvalidParameter, "conflict status %.40q is unknown; use open, resolved or dismissed", f.Status)
	}
	if len(after) > 255 {
		return nil, Errorf(CodeInvalidParameter, "cursor %.80q is not one this server gave out", after)
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	page := &ConflictPage{}
	err = s.store.View(ctx, func(tx ReadTx) error {
		cs, err := tx.Conflicts(f, after, limit+1)
		if err != nil {
			return err
		}
		if len(cs) > limit {
			cs = cs[:limit]
			page.Next = cs[limit-1].ID
		}
		page.Items = cs
		return nil
	})
	return page, err
}

// ResolveConflict resolves an open conflict with a strategy (the Strategy
// constants; document is the body for StrategyCustom, nil otherwise). The
// resolution is an ordinary write of the document, with pre (whose IfMatch
// must name the document's current ETag) and every rule of the
// collection; the conflict is marked resolved and conflict.resolved is
// appended in the same commit, which stores the result as idem's answer
// too (see IdempotencyKey). A conflict that is no longer open is
// CodeConflictClosed.
func (s *Service) ResolveConflict(ctx context.Context, id, strategy string, document []byte, pre Precondition, idem *IdempotencyKey) (WriteResult, *Conflict, error) {
	var custom []byte
	customID := ""
	switch strategy {
	case StrategyKeepCurrent, StrategyTakeProposed, StrategyMerge:
		if document != nil {
			return WriteResult{}, nil, Errorf(CodeInvalidDocument, "strategy %s takes no document; send the document with strategy custom", strategy)
		}
	case StrategyCustom:
		if document == nil {
			return WriteResult{}, nil, Errorf(CodeInvalidDocument, "strategy custom needs the resolved document in \"document\"")
		}
		pb, err := parseBody(document)
		if err != nil {
			return WriteResult{}, nil, err
		}
		if pb.version != 0 {
			return WriteResult{}, nil, Errorf(CodeInvalidPrecondition, "_version has no meaning in a resolution; make it conditional on the document's current ETag instead")
		}
		custom = pb.fields
		if pb.hasID {
			customID = pb.id
		}
	default:
		return WriteResult{}, nil, Errorf(CodeInvalidDocument, "strategy %.40q is unknown; use keep-current, take-proposed, merge or custom", strategy)
	}
	c, err := s.GetConflict(ctx, id)
	if err != nil {
		return WriteResult{}, nil, err
	}
	if err := checkOpen(c); err != nil {
		return WriteResult{}, nil, err
	}
	if len(pre.IfMatch) == 0 {
		return WriteResult{}, nil, Errorf(CodePreconditionRequired, "resolving a conflict must be conditional on the ETag of %s as it is now, so that a change made since you looked is not overwritten", refString(c.Collection, c.DocID))
	}
	if customID != "" && customID != c.DocID {
		return WriteResult{}, nil, Errorf(CodeInvalidID, "_id in the document (%s) differs from the conflict's document (%s)", customID, c.DocID)
	}
	var closed *Conflict
	res, err := s.write(ctx, writeRequest{kind: kindPut, collection: c.Collection, id: c.DocID, pre: pre,
		prepare: func(tx ReadTx) error {
			cur, err := getConflict(tx, id)
			if err != nil {
				return err
			}
			c = cur
			return checkOpen(c)
		},
		produce: func(_ ReadTx, cur *Document) ([]byte, bool, error) {
			switch strategy {
			case StrategyKeepCurrent:
				return cur.Body, false, nil
			case StrategyTakeProposed:
				return c.Proposed, c.Proposed == nil, nil
			case StrategyMerge:
				if c.Proposed == nil {
					return nil, true, nil
				}
				// Merge3 keeps its second argument on conflicting paths:
				// swapping the sides takes the proposed value there.
				merged, _, err := merge.Merge3(c.Base, c.Proposed, cur.Body)
				return merged, false, err
			default:
				return custom, false, nil
			}
		},
		commit: func(tx Tx, d *Document) error {
			cc := *c
			cc.Status, cc.ClosedAt = ConflictResolved, d.UpdatedAt.Truncate(time.Millisecond)
			cc.Resolution = &Resolution{Strategy: strategy, Version: d.Version}
			if err := tx.PutConflict(&cc); err != nil {
				return err
			}
			closed = &cc
			return appendConflictEvent(tx, &cc, EventConflictResolved, d.Version, d.ETag(), d.UpdatedAt)
		}}, idem)
	if err != nil {
		return WriteResult{}, nil, err
	}
	return res, closed, nil
}

// DismissConflict closes an open conflict without writing the document,
// appending conflict.dismissed in the same commit.
func (s *Service) DismissConflict(ctx context.Context, id string) (*Conflict, error) {
	var out *Conflict
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := getConflict(tx, id)
		if err != nil {
			return err
		}
		if err := checkOpen(c); err != nil {
			return err
		}
		cc := *c
		cc.Status, cc.ClosedAt = ConflictDismissed, s.now().UTC().Truncate(time.Millisecond)
		if err := tx.PutConflict(&cc); err != nil {
			return err
		}
		var version int64
		var etag string
		if d, err := getDocument(tx, c.Collection, c.DocID); err != nil {
			return err
		} else if d != nil {
			version, etag = d.Version, d.ETag()
		}
		out = &cc
		return appendConflictEvent(tx, &cc, EventConflictDismissed, version, etag, cc.ClosedAt)
	})
	return out, err
}
