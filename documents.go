package truce

import (
	"bytes"
	"context"
	"errors"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-json-experiment/json/jsontext"
)

// Create stores a new document from body, a JSON object. The body may name
// the id in _id; otherwise the Service generates a sortable one. Returns
// CodeAlreadyExists if a live document has that id; a deleted id is
// re-created, continuing from its tombstone's version.
func (s *Service) Create(ctx context.Context, collection string, body []byte) (*Document, error) {
	return s.CreateLocked(ctx, collection, body, "", nil)
}

// CreateLocked is Create by the holder of the lock on the _id the body
// names: lockToken is its lock token ("" for none), checked as on every
// write. It stores its result as idem's answer (see IdempotencyKey).
func (s *Service) CreateLocked(ctx context.Context, collection string, body []byte, lockToken string, idem *IdempotencyKey) (*Document, error) {
	w, err := s.createRequest(collection, body)
	if err != nil {
		return nil, err
	}
	w.pre.LockToken = lockToken
	res, err := s.write(ctx, w, idem)
	return res.Document, err
}

// createRequest builds the write of Create.
func (s *Service) createRequest(collection string, body []byte) (writeRequest, error) {
	pb, err := parseBody(body)
	if err != nil {
		return writeRequest{}, err
	}
	if pb.version != 0 {
		return writeRequest{}, Errorf(CodeInvalidPrecondition, "_version has no meaning when creating a document; put the document with _version to change an existing one")
	}
	id := pb.id
	if !pb.hasID {
		id = s.newID()
	}
	return writeRequest{kind: kindCreate, collection: collection, id: id,
		produce: func(ReadTx, *Document) ([]byte, bool, error) { return pb.fields, false, nil }}, nil
}

// Get returns the current version of a live document, or CodeNotFound.
func (s *Service) Get(ctx context.Context, collection, id string) (*Document, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	d, err := s.store.Document(ctx, collection, id)
	if errors.Is(err, ErrNoRecord) {
		d, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if d == nil || d.Deleted {
		return nil, notFound(collection, id, d)
	}
	if d.expired(s.now()) {
		return nil, Errorf(CodeNotFound, "%s expired at %s; its history is still readable", refString(collection, id), AppendTime(nil, d.ExpiresAt()))
	}
	return d, nil
}

// Put creates or replaces a whole document with body, a JSON object. A
// _version in the body is a body precondition (CodeVersionConflict when
// stale, unless the collection's policy says otherwise); pre carries the
// header preconditions. An _id in the body must match id. It stores its
// result as idem's answer (see IdempotencyKey).
func (s *Service) Put(ctx context.Context, collection, id string, body []byte, pre Precondition, idem *IdempotencyKey) (WriteResult, error) {
	w, err := putRequest(collection, id, body, pre)
	if err != nil {
		return WriteResult{}, err
	}
	return s.write(ctx, w, idem)
}

// putRequest builds the write of Put.
func putRequest(collection, id string, body []byte, pre Precondition) (writeRequest, error) {
	pb, err := parseBody(body)
	if err != nil {
		return writeRequest{}, err
	}
	if pb.hasID && pb.id != id {
		return writeRequest{}, Errorf(CodeInvalidID, "_id in the body (%s) differs from the document's id (%s)", pb.id, id)
	}
	if pb.version != 0 {
		if pre.Version != 0 && pre.Version != pb.version {
			return writeRequest{}, Errorf(CodeInvalidPrecondition, "_version %d in the body differs from the version %d the write is conditional on", pb.version, pre.Version)
		}
		pre.Version = pb.version
	}
	return writeRequest{kind: kindPut, collection: collection, id: id, pre: pre,
		produce: func(ReadTx, *Document) ([]byte, bool, error) { return pb.fields, false, nil }}, nil
}

// PatchType names a patch format.
type PatchType string

// The patch formats PATCH accepts, by media type.
const (
	MergePatch PatchType = "application/merge-patch+json" // RFC 7396
	JSONPatch  PatchType = "application/json-patch+json"  // RFC 6902
)

// Patch changes a live document with a JSON Merge Patch or a JSON Patch.
// A failed JSON Patch test operation is CodePatchTestFailed; a patch that
// does not apply is CodeInvalidPatch. Patches may not touch reserved fields.
// It stores its result as idem's answer (see IdempotencyKey).
func (s *Service) Patch(ctx context.Context, collection, id string, typ PatchType, patch []byte, pre Precondition, idem *IdempotencyKey) (WriteResult, error) {
	w, err := patchRequest(collection, id, typ, patch, pre)
	if err != nil {
		return WriteResult{}, err
	}
	return s.write(ctx, w, idem)
}

// patchRequest builds the write of Patch.
func patchRequest(collection, id string, typ PatchType, patch []byte, pre Precondition) (writeRequest, error) {
	apply, err := compilePatch(typ, patch)
	if err != nil {
		return writeRequest{}, err
	}
	return writeRequest{kind: kindPatch, collection: collection, id: id, pre: pre,
		produce: func(_ ReadTx, cur *Document) ([]byte, bool, error) {
			out, err := apply(cur.Body)
			if err != nil {
				var e *Error
				if errors.As(err, &e) && e.Code == CodePatchTestFailed {
					e.Current = cur
				}
				return nil, false, err
			}
			pb, err := parseBody(out)
			if err != nil {
				var e *Error
				if errors.As(err, &e) && e.Code == CodeInvalidDocument {
					return nil, false, Errorf(CodeInvalidPatch, "the patch would turn %s into something other than a JSON object", refString(collection, id))
				}
				return nil, false, err
			}
			return pb.fields, false, nil
		}}, nil
}

// compilePatch checks a patch and returns the function that applies it.
func compilePatch(typ PatchType, patch []byte) (func([]byte) ([]byte, error), error) {
	if err := checkJSON(patch, maxDepth); err != nil {
		return nil, err
	}
	switch typ {
	case MergePatch:
		v := jsontext.Value(patch)
		if !v.IsValid() || v.Kind() != '{' {
			return nil, Errorf(CodeInvalidPatch, "a JSON Merge Patch must be a JSON object")
		}
		fields, err := topLevelNames(patch)
		if err != nil {
			return nil, Errorf(CodeInvalidPatch, "the merge patch is not valid JSON: %v", err)
		}
		for _, f := range fields {
			if strings.HasPrefix(f, "_") && f != FieldExpiresAt {
				return nil, Errorf(CodeReservedField, "the merge patch sets %q: fields that start with an underscore are reserved; to make the patch conditional, give it a precondition", f)
			}
		}
		return func(doc []byte) ([]byte, error) {
			out, err := jsonpatch.MergePatch(doc, patch)
			if err != nil {
				return nil, Errorf(CodeInvalidPatch, "the merge patch does not apply: %v", err)
			}
			return out, nil
		}, nil
	case JSONPatch:
		if k := jsontext.Value(patch).Kind(); k != '[' {
			return nil, Errorf(CodeInvalidPatch, "a JSON Patch must be an array of operations, not %s", kindName(k))
		}
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, Errorf(CodeInvalidPatch, "the JSON Patch is malformed: %v", err)
		}
		for i, op := range p {
			if err := checkPatchOp(i, op); err != nil {
				return nil, err
			}
		}
		opts := jsonpatch.NewApplyOptions()
		return func(doc []byte) ([]byte, error) {
			out, err := p.ApplyWithOptions(doc, opts)
			switch {
			case errors.Is(err, jsonpatch.ErrTestFailed):
				return nil, Errorf(CodePatchTestFailed, "a test operation of the JSON Patch failed: %s", firstLine(err))
			case err != nil:
				return nil, Errorf(CodeInvalidPatch, "the JSON Patch does not apply: %s", firstLine(err))
			}
			return out, nil
		}, nil
	}
	return nil, Errorf(CodeUnsupportedMediaType, "a patch is a JSON Merge Patch (%s) or a JSON Patch (%s), not %q", MergePatch, JSONPatch, string(typ))
}

// checkPatchOp checks one JSON Patch operation's kind and paths.
func checkPatchOp(i int, op jsonpatch.Operation) error {
	kind := op.Kind()
	switch kind {
	case "add", "remove", "replace", "move", "copy", "test":
	default:
		return Errorf(CodeInvalidPatch, "operation %d: op %q is not one of add, remove, replace, move, copy, test", i, kind)
	}
	paths := []string{"path"}
	if kind == "move" || kind == "copy" {
		paths = append(paths, "from")
	}
	for _, name := range paths {
		var p string
		var err error
		if name == "path" {
			p, err = op.Path()
		} else {
			p, err = op.From()
		}
		if err != nil {
			return Errorf(CodeInvalidPatch, "operation %d (%s) has no valid %s", i, kind, name)
		}
		if p != "" && p[0] != '/' {
			return Errorf(CodeInvalidPatch, "operation %d (%s): %s %q is not a JSON Pointer", i, kind, name, p)
		}
		if strings.HasPrefix(p, "/_") && p != "/"+FieldExpiresAt {
			return Errorf(CodeReservedField, "operation %d (%s) touches %s: fields that start with an underscore are reserved", i, kind, p)
		}
		if p == "" && kind != "test" {
			return Errorf(CodeInvalidPatch, "operation %d (%s) targets the whole document; replace the document with a put instead", i, kind)
		}
	}
	if kind == "add" || kind == "replace" || kind == "test" {
		if _, err := op.ValueInterface(); err != nil {
			return Errorf(CodeInvalidPatch, "operation %d (%s) has no value", i, kind)
		}
	}
	return nil
}

func topLevelNames(obj []byte) ([]string, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var names []string
	for dec.PeekKind() == '"' {
		t, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		names = append(names, t.String())
		if err := dec.SkipValue(); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return truncate(s, 200)
}

// Delete deletes a live document by writing a tombstone version, which it
// returns. Returns CodeInUse if live documents reference it. It stores its
// result as idem's answer (see IdempotencyKey).
func (s *Service) Delete(ctx context.Context, collection, id string, pre Precondition, idem *IdempotencyKey) (*Document, error) {
	res, err := s.write(ctx, deleteRequest(collection, id, pre), idem)
	return res.Document, err
}

// deleteRequest builds the write of Delete.
func deleteRequest(collection, id string, pre Precondition) writeRequest {
	return writeRequest{kind: kindDelete, collection: collection, id: id, pre: pre,
		produce: func(ReadTx, *Document) ([]byte, bool, error) { return nil, true, nil }}
}

// Page is one page of a document listing.
type Page struct {
	Items []*Document
	// Next is the cursor of the next page, "" on the last page.
	Next string
}

// MaxPageSize is the largest page List and Versions return.
const MaxPageSize = 1000

// List returns up to limit live documents of a collection with ids after
// the cursor after, ordered by id. limit 0 means 100.
func (s *Service) List(ctx context.Context, collection, after string, limit int) (*Page, error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, err
	}
	if after != "" && !ValidID(after) {
		return nil, Errorf(CodeInvalidParameter, "cursor %.80q is not one this server gave out", after)
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	page := &Page{}
	err = s.store.View(ctx, func(tx ReadTx) error {
		c, err := getCollection(tx, collection)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(CodeNotFound, "collection %s does not exist", collection)
		}
		// Expired documents read as deleted (expiry.go): read on past them.
		now := s.now()
		var docs []*Document
		for from := after; len(docs) <= limit; {
			batch, err := tx.Documents(collection, from, limit+1)
			if err != nil {
				return err
			}
			for _, d := range batch {
				if !d.expired(now) {
					docs = append(docs, d)
				}
			}
			if len(batch) <= limit {
				break
			}
			from = batch[len(batch)-1].ID
		}
		if len(docs) > limit {
			docs = docs[:limit]
			page.Next = docs[limit-1].ID
		}
		page.Items = docs
		return nil
	})
	return page, err
}

func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return 100, nil
	case limit < 0 || limit > MaxPageSize:
		return 0, Errorf(CodeInvalidParameter, "limit must be between 1 and %d, not %d", MaxPageSize, limit)
	}
	return limit, nil
}
