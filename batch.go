package truce

import (
	"context"
	"encoding/json"

	"github.com/oklog/ulid/v2"
)

// AnswerFunc encodes the results of a batch or of a transaction's call as
// the transport answers them, to be stored as the IdempotencyRecord's
// Answer in the call's own commit, so that a retry replays the same
// answer. The Service keeps the bytes as they are.
type AnswerFunc func(results []OpResult) []byte

// Batch applies ops as one atomic, durable commit: every rule applies as if
// the ops ran in order (a create may reference a document created by an
// earlier op; a unique value freed by one op may be taken by a later one),
// and either all of them are applied or none is. A committed batch appends
// the per-document events and then one EventTransactionCommitted.
//
// On failure it returns a *OpError naming the op that failed and
// wrapping its own error. Returns CodeTooManyOps (as a *OpError) for a
// document named by more than one write op, and, unwrapped, for more ops
// than Options.MaxOps; CodeInvalidParameter for no ops at all.
//
// A create without an ID gets a generated one, which Batch sets in ops.
//
// Within a batch the manual conflict policy behaves as merge: an
// unmergeable write fails the batch with CodeMergeConflict, and no
// conflict is recorded, because nothing of the batch is applied.
//
// With idem, answer(results) is stored as idem's answer in the batch's
// commit (see IdempotencyKey); answer is needed only with idem.
func (s *Service) Batch(ctx context.Context, ops []Op, idem *IdempotencyKey, answer AnswerFunc) ([]OpResult, error) {
	if len(ops) == 0 {
		return nil, Errorf(CodeInvalidParameter, "the transaction has no ops; send {\"ops\": [...]} with at least one")
	}
	if len(ops) > s.maxOps {
		return nil, Errorf(CodeTooManyOps, "the transaction has %d ops; the limit is %d: split it", len(ops), s.maxOps)
	}
	ws, err := s.prepareOps(ops, true, callerFrom(ctx))
	if err != nil {
		return nil, err
	}
	txid := ulid.Make().String()
	var results []OpResult
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		if results, err = s.applyOps(tx, txid, ops, ws); err != nil {
			return err
		}
		return s.storeOpsAnswer(tx, idem, answer, results)
	})
	return results, err
}

// prepareOps checks each op on its own and, if once, that no document is
// written twice, and returns their writes (nil for a check).
func (s *Service) prepareOps(ops []Op, once bool, c Caller) ([]*writeRequest, error) {
	ws := make([]*writeRequest, len(ops))
	writer := make(map[DocRef]int, len(ops))
	for i := range ops {
		op := &ops[i]
		w, err := s.prepareOp(op)
		if err != nil {
			return nil, opError(i, len(ops), op, err)
		}
		ws[i] = w
		if w != nil {
			w.caller = c
		}
		if w == nil || !once {
			continue
		}
		ref := DocRef{Collection: op.Collection, ID: op.ID}
		if j, dup := writer[ref]; dup {
			return nil, opError(i, len(ops), op, Errorf(CodeTooManyOps, "op %d writes %s already; a document may appear in at most one write op of a transaction: combine the two changes into one op", j, refString(op.Collection, op.ID)))
		}
		writer[ref] = i
	}
	return ws, nil
}

// applyOps runs prepared ops in order inside tx and appends the
// transaction's event.
func (s *Service) applyOps(tx Tx, txid string, ops []Op, ws []*writeRequest) ([]OpResult, error) {
	results := make([]OpResult, len(ops))
	for i := range ops {
		r, err := s.applyOp(tx, &ops[i], ws[i])
		if err != nil {
			return nil, opError(i, len(ops), &ops[i], err)
		}
		results[i] = r
	}
	return results, s.appendCommitEvent(tx, txid, results)
}

// commitEventInfo is the Info of an EventTransactionCommitted.
type commitEventInfo struct {
	Transaction string           `json:"transaction"`
	Ops         int              `json:"ops"`
	FirstSeq    int64            `json:"firstSeq"`
	LastSeq     int64            `json:"lastSeq"`
	Writes      []commitEventDoc `json:"writes"`
}

type commitEventDoc struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Version    int64  `json:"version"`
	Deleted    bool   `json:"deleted,omitempty"`
}

// appendCommitEvent appends the event that closes a committed transaction:
// which transaction, how many ops, the seq range of its document events,
// and the documents it wrote. A transaction that wrote nothing appends
// nothing.
func (s *Service) appendCommitEvent(tx Tx, txid string, results []OpResult) error {
	info := commitEventInfo{Transaction: txid, Ops: len(results), Writes: []commitEventDoc{}}
	for _, r := range results {
		if r.Kind == OpCheck {
			continue
		}
		d := r.Document
		if info.FirstSeq == 0 {
			info.FirstSeq = d.Seq
		}
		info.LastSeq = d.Seq
		info.Writes = append(info.Writes, commitEventDoc{Collection: d.Collection, ID: d.ID, Version: d.Version, Deleted: d.Deleted})
	}
	if len(info.Writes) == 0 {
		return nil
	}
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	seq, err := tx.NextSeq()
	if err != nil {
		return err
	}
	return tx.AppendEvent(&Event{Seq: seq, Type: EventTransactionCommitted, Time: s.now().UTC(), Info: b})
}

// storeOpsAnswer stores the encoded results as the answer to idem inside
// the call's commit.
func (s *Service) storeOpsAnswer(tx Tx, idem *IdempotencyKey, answer AnswerFunc, results []OpResult) error {
	if idem == nil {
		return nil
	}
	return s.putAnswer(tx, idem, &IdempotencyRecord{Answer: answer(results)})
}

// MaxOps returns the limit on the operations of one transaction.
func (s *Service) MaxOps() int { return s.maxOps }
