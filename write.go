package truce

import (
	"context"
	"errors"
	"maps"
	"slices"
)

// writeKind says which request a write answers; the rules differ slightly.
type writeKind int

const (
	kindCreate writeKind = iota // POST: create only, no precondition needed
	kindPut
	kindPatch
	kindDelete
	kindRestore
	kindImport // Service.Import: a version from another server
)

// produceFunc computes the new body from the current document (nil or a
// tombstone when there is no live one). It returns del to write a tombstone.
type produceFunc func(tx ReadTx, cur *Document) (body []byte, del bool, err error)

type writeRequest struct {
	kind       writeKind
	collection string
	id         string
	pre        Precondition
	produce    produceFunc
	// prepare, if set, runs first inside the transaction; an error refuses
	// the write.
	prepare func(tx ReadTx) error
	// commit, if set, runs inside the transaction after the new version is
	// stored and its event appended, so that what it writes shares the
	// write's commit.
	commit func(tx Tx, d *Document) error
	// caller is who writes (WithCaller): UpdatedBy, and what it may read.
	caller Caller
	// expire marks the delete of a document whose _expiresAt has passed
	// (expiry.go): the server's own, which no lock or rule of the
	// collection holds back.
	expire bool
	// imported is the version an import writes (kindImport): its number,
	// times and author are kept.
	imported *Document
}

// WriteResult is the outcome of a write.
type WriteResult struct {
	// Document is the version the write stored (a tombstone for a delete).
	Document *Document
	// Created reports whether the write brought a document to life: a
	// create, or a write to an id that had no live document.
	Created bool
	// Merged is set when the collection's merge policy combined a write
	// with a stale body version with the changes made since.
	Merged *MergeInfo
	// Unchanged reports an import (Service.Import) of a version the
	// document already held: nothing was written, and Document is that
	// stored version.
	Unchanged bool
}

// write runs one document write as one atomic, durable commit: it checks
// the preconditions and every rule against the current state, stores the
// new version and its history entry, maintains the unique and reference
// indexes, trims history, and appends the change-log event. With idem, the
// result is stored as idem's answer in the same commit, so a nil error
// means the answer is stored.
func (s *Service) write(ctx context.Context, w writeRequest, idem *IdempotencyKey) (WriteResult, error) {
	if err := checkCollectionName(w.collection); err != nil {
		return WriteResult{}, err
	}
	if err := checkID(w.id); err != nil {
		return WriteResult{}, err
	}
	w.caller = callerFrom(ctx)
	var res WriteResult
	update := s.store.Update
	if du, ok := s.store.(DocumentUpdater); ok {
		update = func(ctx context.Context, fn func(Tx) error) error {
			return du.UpdateDocument(ctx, w.collection, w.id, fn)
		}
	}
	err := update(ctx, func(tx Tx) error {
		var err error
		if res, err = s.applyWrite(tx, w); err != nil || idem == nil {
			return err
		}
		return s.putAnswer(tx, idem, &IdempotencyRecord{Result: &res})
	})
	var e *Error
	if errors.As(err, &e) && e.conflict != nil {
		if rerr := s.recordConflict(ctx, e); rerr != nil {
			return res, rerr
		}
	}
	return res, err
}

// applyWrite checks and applies one write inside tx: the preconditions and
// every rule against the current state (which includes tx's own earlier
// writes), the new version and its history entry, the unique and reference
// indexes, history trimming and the change-log event. Several calls in one
// Update make one atomic commit.
func (s *Service) applyWrite(tx Tx, w writeRequest) (WriteResult, error) {
	if w.prepare != nil {
		if err := w.prepare(tx); err != nil {
			return WriteResult{}, err
		}
	}
	if w.kind == kindImport {
		// A version the document already holds is written by nobody: a
		// rerun of an import changes nothing, whoever holds the lock.
		cur, err := getDocument(tx, w.collection, w.id)
		if err != nil {
			return WriteResult{}, err
		}
		done, err := checkImport(tx, w.imported, cur)
		if err != nil || done != nil {
			return WriteResult{Document: done, Unchanged: done != nil}, err
		}
	}
	// A lock comes before every other rule: its holder is working on the
	// document, and nobody else's write is considered at all.
	if !w.expire {
		if err := s.checkLock(tx, w.collection, w.id, w.pre.LockToken); err != nil {
			return WriteResult{}, err
		}
	}
	ref := refString(w.collection, w.id)
	coll, err := getCollection(tx, w.collection)
	if err != nil {
		return WriteResult{}, err
	}
	newColl := coll == nil
	if newColl {
		coll = &Collection{Name: w.collection}
	}
	settings := &coll.Settings
	cur, err := getDocument(tx, w.collection, w.id)
	if err != nil {
		return WriteResult{}, err
	}
	live := cur != nil && !cur.Deleted
	// One reading of the clock for the whole write: whether the document
	// has expired, whether the new expiry is ahead, and the times stored.
	now := s.now().UTC()
	if live && !w.expire && w.kind != kindImport && cur.expired(now) {
		// The write meets the document as the sweeper would have left it.
		// (An import writes the versions of the export as they were, the
		// expired ones too: the sweeper deletes the document afterwards.)
		tomb, err := s.expireInTx(tx, cur)
		if err != nil {
			return WriteResult{}, err
		}
		if tomb != nil {
			cur, live = tomb, false
		}
	}

	if w.kind != kindCreate && w.kind != kindImport && !w.expire && settings.RequirePreconditions && w.pre.IsZero() {
		return WriteResult{}, Errorf(CodePreconditionRequired, "collection %s requires every write to be conditional on the version it changes, or to be create-only", w.collection)
	}
	if w.kind == kindCreate && live {
		return WriteResult{}, Errorf(CodeAlreadyExists, "%s already exists (version %d); replace it with a put instead", ref, cur.Version)
	}
	stale := false
	if err := w.pre.check(cur, ref); errors.Is(err, errStale) {
		switch settings.Policy() {
		case PolicyLastWriteWins:
		case PolicyMerge, PolicyManual:
			stale = true
		default:
			return WriteResult{}, &Error{Code: CodeVersionConflict, Current: cur,
				Detail: ref + " is at version " + itoa(cur.Version) + "; the request was based on version " + itoa(w.pre.Version)}
		}
	} else if err != nil {
		return WriteResult{}, err
	}
	if !live && (w.kind == kindPatch || w.kind == kindDelete) {
		return WriteResult{}, notFound(w.collection, w.id, cur)
	}

	var body []byte
	var del bool
	var merged *MergeInfo
	if stale {
		body, merged, err = mergeStale(tx, w, cur, settings)
	} else {
		body, del, err = w.produce(tx, cur)
	}
	if err != nil {
		return WriteResult{}, err
	}
	if del && !live && w.kind != kindImport {
		return WriteResult{}, notFound(w.collection, w.id, cur)
	}
	if !del {
		if body, err = settleExpiry(w, settings, body, now); err != nil {
			return WriteResult{}, err
		}
		if err := s.checkBody(tx, settings, ref, w.collection, w.id, body, w.caller.CanRead); err != nil {
			return WriteResult{}, err
		}
	}
	var oldBody []byte
	if live {
		oldBody = cur.Body
	}
	if err := s.maintainUniqueExpiring(tx, settings, w.collection, w.id, oldBody, body); err != nil {
		return WriteResult{}, err
	}
	if err := maintainReferences(tx, settings, w.collection, w.id, oldBody, body); err != nil {
		return WriteResult{}, err
	}
	if del {
		if err := checkNotReferenced(tx, w.collection, w.id); err != nil {
			return WriteResult{}, err
		}
	}

	seq, err := tx.NextSeq()
	if err != nil {
		return WriteResult{}, err
	}
	d := &Document{Collection: w.collection, ID: w.id, Version: 1, Seq: seq,
		CreatedAt: now, UpdatedAt: now, UpdatedBy: w.caller.Name, Deleted: del, Body: body}
	if cur != nil {
		d.Version = cur.Version + 1
		if now.Before(cur.UpdatedAt) { // a clock that stepped back must not reorder history
			d.UpdatedAt = cur.UpdatedAt
		}
		if live {
			d.CreatedAt = cur.CreatedAt
		} else {
			d.CreatedAt = d.UpdatedAt
		}
	}
	if imp := w.imported; imp != nil {
		d.Version, d.CreatedAt, d.UpdatedAt, d.UpdatedBy = imp.Version, imp.CreatedAt, imp.UpdatedAt, imp.UpdatedBy
	}
	if err := tx.PutDocument(d); err != nil {
		return WriteResult{}, err
	}
	var oldDoc, newDoc *Document
	if live {
		oldDoc = cur
	}
	if !del {
		newDoc = d
	}
	if err := maintainIndexes(tx, settings, w.collection, oldDoc, newDoc); err != nil {
		return WriteResult{}, err
	}
	if err := maintainExpiry(tx, w.collection, w.id, oldBody, body); err != nil {
		return WriteResult{}, err
	}
	if lim := int64(settings.HistoryLimit); lim > 0 && d.Version > lim {
		if err := tx.TrimVersions(w.collection, w.id, d.Version-lim+1); err != nil {
			return WriteResult{}, err
		}
	}
	ev := &Event{Seq: seq, Type: EventDocumentUpdated, Collection: w.collection, ID: w.id,
		Version: d.Version, ETag: d.ETag(), Time: d.UpdatedAt}
	switch {
	case del:
		ev.Type = EventDocumentDeleted
	case !live:
		ev.Type = EventDocumentCreated
	}
	if !del {
		ev.Document = d.JSON()
	}
	by := w.caller.Name
	if w.imported != nil {
		by = w.imported.UpdatedBy
	}
	if by != "" {
		ev.Info = appendJSONString(append(make([]byte, 0, len(by)+16), `{"updatedBy":`...), by)
		ev.Info = append(ev.Info, '}')
	}
	if w.expire {
		ev.Info = []byte(`{"expired":true}`)
	}
	if err := tx.AppendEvent(ev); err != nil {
		return WriteResult{}, err
	}
	if w.commit != nil {
		if err := w.commit(tx, d); err != nil {
			return WriteResult{}, err
		}
	}
	if newColl {
		coll.Seq, coll.CreatedAt, coll.UpdatedAt = seq, now, now
		if err := tx.PutCollection(coll); err != nil {
			return WriteResult{}, err
		}
	}
	return WriteResult{Document: d, Created: !live && !del, Merged: merged}, nil
}

// checkBody applies the size limit, the schema and the reference rule to a
// body about to be written.
func (s *Service) checkBody(tx ReadTx, settings *Settings, ref, collection, id string, body []byte, canRead func(string) bool) error {
	if len(body) > s.maxDocBytes {
		return Errorf(CodeTooLarge, "%s would be %d bytes; the limit is %d", ref, len(body), s.maxDocBytes)
	}
	if err := s.schemas.validate(collection, settings.Schema, ref, withoutExpiry(body)); err != nil {
		return err
	}
	targets, err := referenceTargets(settings, body)
	if err != nil {
		return err
	}
	for _, f := range slices.Sorted(maps.Keys(targets)) {
		target := DocRef{Collection: settings.References[f], ID: targets[f]}
		if target.Collection == collection && target.ID == id {
			continue // a document may name itself
		}
		if canRead != nil && !canRead(target.Collection) {
			return &Error{Code: CodeForbidden, Scope: "read:" + target.Collection,
				Detail: ref + ": " + f + " references collection " + target.Collection + ", which the caller may not read"}
		}
		d, err := getDocument(tx, target.Collection, target.ID)
		if err != nil {
			return err
		}
		if d == nil || d.Deleted || d.expired(s.now()) {
			return Errorf(CodeInvalidReference, "%s: %s names %s, which does not exist; create it first", ref, f, refString(target.Collection, target.ID))
		}
	}
	return nil
}

// maintainUnique moves the document's unique-index entries from the values
// of oldBody to those of newBody (nil for none), refusing a value that
// another live document holds.
func maintainUnique(tx Tx, settings *Settings, collection, id string, oldBody, newBody []byte) error {
	if len(settings.Unique) == 0 {
		return nil
	}
	oldKeys, err := uniqueKeys(settings, oldBody)
	if err != nil {
		return err
	}
	newKeys, err := uniqueKeys(settings, newBody)
	if err != nil {
		return err
	}
	for _, f := range settings.sortedUnique() {
		ov, nv := oldKeys[f], newKeys[f]
		if string(ov) == string(nv) && (ov == nil) == (nv == nil) {
			continue
		}
		if nv != nil {
			holder, err := tx.UniqueHolder(collection, f, nv)
			switch {
			case errors.Is(err, ErrNoRecord):
			case err != nil:
				return err
			case holder != id:
				return &Error{Code: CodeUniqueViolation, Field: f, Value: rawValue(nv),
					Holder: &DocRef{Collection: collection, ID: holder},
					Detail: "field " + f + " must be unique in " + collection + ", and " + refString(collection, holder) + " already holds " + truncate(string(nv), 80)}
			}
		}
		if ov != nil {
			if err := tx.DeleteUnique(collection, f, ov); err != nil {
				return err
			}
		}
		if nv != nil {
			if err := tx.PutUnique(collection, f, nv, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// maintainReferences moves the document's entries in the reference index
// from the targets of oldBody to those of newBody.
func maintainReferences(tx Tx, settings *Settings, collection, id string, oldBody, newBody []byte) error {
	if len(settings.References) == 0 {
		return nil
	}
	oldT, err := referenceTargets(settings, oldBody)
	if err != nil {
		oldT = nil // a body stored under other settings; its entries were never written
	}
	newT, err := referenceTargets(settings, newBody)
	if err != nil {
		return err
	}
	for _, f := range slices.Sorted(maps.Keys(settings.References)) {
		o, okO := oldT[f]
		n, okN := newT[f]
		if okO == okN && o == n {
			continue
		}
		from := DocRef{Collection: collection, ID: id, Field: f}
		if okO {
			if err := tx.DeleteReference(Reference{From: from, To: DocRef{Collection: settings.References[f], ID: o}}); err != nil {
				return err
			}
		}
		if okN {
			if err := tx.PutReference(Reference{From: from, To: DocRef{Collection: settings.References[f], ID: n}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNotReferenced refuses to delete a document that other live
// documents reference.
func checkNotReferenced(tx ReadTx, collection, id string) error {
	refs, err := tx.Referrers(collection, id, 101)
	if err != nil {
		return err
	}
	var others []DocRef
	for _, r := range refs {
		if r.From.Collection == collection && r.From.ID == id {
			continue // its own reference dies with it
		}
		others = append(others, r.From)
	}
	if len(others) == 0 {
		return nil
	}
	more := ""
	if len(others) > 100 {
		others, more = others[:100], " (the first 100 are listed)"
	}
	return &Error{Code: CodeInUse, Referrers: others,
		Detail: refString(collection, id) + " is referenced by " + itoa(int64(len(others))) + " live document(s), e.g. " +
			refString(others[0].Collection, others[0].ID) + " (field " + others[0].Field + ")" + more + "; change or delete them first"}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
