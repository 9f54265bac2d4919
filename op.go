package truce

import (
	"errors"
	"strconv"
)

// OpKind names what an operation of a transaction does.
type OpKind string

// The operations of a transaction (docs/api.md section 7).
const (
	OpCreate OpKind = "create" // as Service.Create
	OpPut    OpKind = "put"    // as Service.Put
	OpPatch  OpKind = "patch"  // as Service.Patch
	OpDelete OpKind = "delete" // as Service.Delete
	OpCheck  OpKind = "check"  // the preconditions only; writes nothing
)

// Op is one operation of a transaction. Its preconditions answer as the
// same request would on its own: IfMatch and IfNoneMatch with
// CodePreconditionFailed, Version with CodeVersionConflict or the
// collection's conflict policy; Pre.LockToken proves the right to write a
// locked document.
type Op struct {
	Kind       OpKind `json:"kind"`
	Collection string `json:"collection"`
	// ID names the document; a create without one gets a generated id.
	ID  string       `json:"id,omitempty"`
	Pre Precondition `json:"pre"`
	// Document is the JSON object of a create or put; it may carry _id and
	// (put) _version, as the body of the request would.
	Document []byte `json:"document,omitempty"`
	// PatchType and Patch are the patch of a patch operation.
	PatchType PatchType `json:"patchType,omitempty"`
	Patch     []byte    `json:"patch,omitempty"`
}

// IsWrite reports whether the operation writes (every kind but check).
func (op *Op) IsWrite() bool { return op.Kind != OpCheck }

// OpResult is the outcome of one operation of a committed transaction.
type OpResult struct {
	Kind OpKind
	// Document is the version the operation stored (a tombstone for a
	// delete); for a check, the current document, or nil when none is live.
	Document *Document
	// Created and Merged are as in WriteResult.
	Created bool
	Merged  *MergeInfo
}

// OpError is the failure of one operation of a transaction: nothing of
// the transaction was applied. Err is the operation's own error, as the
// same request would have got on its own.
type OpError struct {
	// Index is the operation's position, from 0.
	Index int
	Op    OpKind
	Err   error
	// Total is the number of ops of the transaction.
	Total int
}

// Error says which op failed and why.
func (e *OpError) Error() string {
	var te *Error
	if errors.As(e.Err, &te) {
		return e.Err.Error() // its detail names the op already
	}
	return "op " + strconv.Itoa(e.Index) + " (" + string(e.Op) + "): " + e.Err.Error()
}

// Unwrap returns the op's own error, so that errors.As finds its *Error.
func (e *OpError) Unwrap() error { return e.Err }

// opError wraps err as the failure of op i, adding which op it was to the
// detail of an *Error.
func opError(i, total int, op *Op, err error) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Detail = "op " + strconv.Itoa(i) + " (" + string(op.Kind) + " " + refString(op.Collection, op.ID) + "): " + e.Detail
		err = &c
	}
	return &OpError{Index: i, Op: op.Kind, Err: err, Total: total}
}

// prepareOp checks op on its own, before any transaction, and returns the
// write it makes (nil for a check). A create without an id gets one here,
// so that every run of the transaction writes the same document.
func (s *Service) prepareOp(op *Op) (*writeRequest, error) {
	if (op.Kind == OpCreate || op.Kind == OpPut) && op.Document == nil {
		return nil, Errorf(CodeInvalidDocument, "a %s op needs a document: the JSON object to store", op.Kind)
	}
	if err := checkCollectionName(op.Collection); err != nil {
		return nil, err
	}
	if op.Kind == OpCreate {
		if !op.Pre.IsZero() {
			return nil, Errorf(CodeInvalidPrecondition, "a create takes no precondition: it fails with already_exists when the id is live")
		}
		w, err := s.createRequest(op.Collection, op.Document)
		if err != nil {
			return nil, err
		}
		if op.ID != "" && op.ID != w.id {
			if pb, _ := parseBody(op.Document); pb.hasID {
				return nil, Errorf(CodeInvalidID, "_id in the document (%s) differs from the op's id (%s)", w.id, op.ID)
			}
			w.id = op.ID
		}
		op.ID = w.id
		if err := checkID(op.ID); err != nil {
			return nil, err
		}
		w.pre.LockToken = op.Pre.LockToken
		return &w, nil
	}
	if op.ID == "" {
		return nil, Errorf(CodeInvalidID, "a %s op needs the document's id", op.Kind)
	}
	if err := checkID(op.ID); err != nil {
		return nil, err
	}
	var w writeRequest
	var err error
	switch op.Kind {
	case OpCheck:
		if op.Document != nil || op.Patch != nil {
			return nil, Errorf(CodeInvalidParameter, "a check op takes only preconditions, not a document or a patch")
		}
		return nil, nil
	case OpPut:
		w, err = putRequest(op.Collection, op.ID, op.Document, op.Pre)
	case OpPatch:
		w, err = patchRequest(op.Collection, op.ID, op.PatchType, op.Patch, op.Pre)
	case OpDelete:
		if op.Document != nil || op.Patch != nil {
			return nil, Errorf(CodeInvalidParameter, "a delete op takes no document or patch")
		}
		w = deleteRequest(op.Collection, op.ID, op.Pre)
	default:
		return nil, Errorf(CodeInvalidParameter, "op %q is not one of create, put, patch, delete, check", op.Kind)
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// applyOp runs one prepared operation inside tx.
func (s *Service) applyOp(tx Tx, op *Op, w *writeRequest) (OpResult, error) {
	if w == nil {
		d, err := checkOp(tx, op)
		return OpResult{Kind: OpCheck, Document: d}, err
	}
	res, err := s.applyWrite(tx, *w)
	return OpResult{Kind: op.Kind, Document: res.Document, Created: res.Created, Merged: res.Merged}, err
}

// checkOp evaluates a check: its preconditions as a write's would be
// (412 for the header forms, 409 version_conflict for a stale version, no
// conflict policy since nothing is written), and, without any, that the
// document is live. It returns the live document, or nil.
func checkOp(tx ReadTx, op *Op) (*Document, error) {
	ref := refString(op.Collection, op.ID)
	cur, err := getDocument(tx, op.Collection, op.ID)
	if err != nil {
		return nil, err
	}
	live := cur != nil && !cur.Deleted
	err = op.Pre.check(cur, ref)
	if errors.Is(err, errStale) {
		return nil, &Error{Code: CodeVersionConflict, Current: cur,
			Detail: ref + " is at version " + itoa(cur.Version) + "; the check names version " + itoa(op.Pre.Version)}
	}
	if err != nil {
		return nil, err
	}
	if op.Pre.IsZero() && !live {
		return nil, notFound(op.Collection, op.ID, cur)
	}
	if !live {
		return nil, nil
	}
	return cur, nil
}
