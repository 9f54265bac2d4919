package truce

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/oklog/ulid/v2"
)

// Transaction is the state of an interactive transaction, kept in the
// Store so that it survives a restart and can be shared by nodes: what it
// has seen and what it has staged. Nothing it stages is visible outside
// it until Commit applies it all in one commit.
type Transaction struct {
	ID string
	// Owner is the Caller.ID that began the transaction; only that caller
	// may read, stage, commit or roll back in it. Empty for a transaction
	// begun without a caller ID (and for those stored before owners were),
	// which anyone may use.
	Owner     string
	CreatedAt time.Time
	// ExpiresAt is when the transaction ends by itself, with everything it
	// staged.
	ExpiresAt time.Time
	// Rev grows with every change to the record, so that a change made
	// from a stale copy is detected.
	Rev int64
	// Seen lists every document the transaction read or wrote, with the
	// committed version it saw; Commit refuses when any has changed.
	Seen []SeenDoc
	// Ops are the staged writes, in order, and Staged[i] is the document
	// Ops[i] produced when it was staged (a tombstone for a delete).
	Ops    []Op
	Staged []*Document
}

// SeenDoc is a document an interactive transaction saw: the Seq of its
// committed current version then, 0 when it had none. A Seq names one
// version of one document for all time, so an unchanged Seq means an
// unchanged document.
type SeenDoc struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Seq        int64  `json:"seq"`
}

func (t *Transaction) seenIndex(collection, id string) int {
	for i, r := range t.Seen {
		if r.Collection == collection && r.ID == id {
			return i
		}
	}
	return -1
}

// stagedDoc returns the latest document the transaction staged for
// collection/id, or nil.
func (t *Transaction) stagedDoc(collection, id string) *Document {
	for i := len(t.Ops) - 1; i >= 0; i-- {
		if t.Ops[i].Collection == collection && t.Ops[i].ID == id {
			return t.Staged[i]
		}
	}
	return nil
}

func seqOf(d *Document) int64 {
	if d == nil {
		return 0
	}
	return d.Seq
}

var (
	errSimulated        = errors.New("truce: simulated write rolled back")
	errTransactionMoved = errors.New("truce: transaction changed concurrently")
)

// BeginTransaction starts an interactive transaction that lives for ttl
// (0 means DefaultTransactionTTL; more than Options.MaxTransactionTTL is capped to it).
// The transaction belongs to the caller ctx names (WithCaller), if it has
// an ID.
// With idem, answer(t) is stored as idem's answer in the commit that
// begins it (see IdempotencyKey); answer is needed only with idem.
func (s *Service) BeginTransaction(ctx context.Context, ttl time.Duration, idem *IdempotencyKey, answer func(*Transaction) []byte) (*Transaction, error) {
	switch {
	case ttl < 0:
		return nil, Errorf(CodeInvalidParameter, "ttl %s is negative; give a duration such as \"60s\"", ttl)
	case ttl == 0:
		ttl = DefaultTransactionTTL
	case ttl > s.maxTransactionTTL:
		ttl = s.maxTransactionTTL
	}
	now := s.now().UTC()
	t := &Transaction{ID: ulid.Make().String(), Owner: callerFrom(ctx).ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.PutTransaction(t); err != nil || idem == nil {
			return err
		}
		return s.putAnswer(tx, idem, &IdempotencyRecord{Answer: answer(t)})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// loadTransaction reads a live transaction that c may use, or
// CodeTransactionExpired. A transaction of another owner is refused
// exactly as an id that names none, before its expiry is looked at:
// anything else (a 403, an expiry time) would tell whoever holds a
// leaked id that it is live.
func (s *Service) loadTransaction(tx ReadTx, id string, c Caller) (*Transaction, error) {
	if id == "" || len(id) > 255 {
		return nil, Errorf(CodeTransactionExpired, "%.80q is not a transaction id; begin a transaction first", id)
	}
	t, err := tx.Transaction(id)
	if err == nil && t.Owner != "" && c.ID != "" && c.ID != t.Owner {
		err = ErrNoRecord
	}
	if errors.Is(err, ErrNoRecord) {
		return nil, Errorf(CodeTransactionExpired, "transaction %s is gone: it expired, was committed or rolled back (or never began); begin a new one and redo its reads and writes", id)
	}
	if err != nil {
		return nil, err
	}
	if !t.ExpiresAt.After(s.now()) {
		return nil, Errorf(CodeTransactionExpired, "transaction %s expired at %s with everything it staged; begin a new one and redo its reads and writes", id, string(AppendTime(nil, t.ExpiresAt)))
	}
	return t, nil
}

// mayUse refuses, with CodeForbidden naming the scope, a caller that may
// no longer write a collection t staged a write in, or read one t read:
// the transport checked each request against the scopes of its time, and
// a token's scopes may have shrunk since. Every later read, write and the
// commit ask, before they say anything of what changed under t.
func mayUse(t *Transaction, c Caller) error {
	if c.CanWrite != nil {
		for i := range t.Ops {
			if col := t.Ops[i].Collection; !c.CanWrite(col) {
				return &Error{Code: CodeForbidden, Scope: "write:" + col,
					Detail: "transaction " + t.ID + " staged a write in collection " + col + ", which the caller may no longer write; nothing was applied: roll it back"}
			}
		}
	}
	if c.CanRead != nil {
		for _, r := range t.Seen {
			if !c.CanRead(r.Collection) {
				return &Error{Code: CodeForbidden, Scope: "read:" + r.Collection,
					Detail: "transaction " + t.ID + " read collection " + r.Collection + ", which the caller may no longer read; nothing was applied: roll it back"}
			}
		}
	}
	return nil
}

// validateSeen refuses, with CodeTransactionConflict listing them, when a
// document the transaction saw has changed since.
func validateSeen(tx ReadTx, t *Transaction) error {
	var changed []DocRef
	for _, r := range t.Seen {
		cur, err := getDocument(tx, r.Collection, r.ID)
		if err != nil {
			return err
		}
		if seqOf(cur) != r.Seq {
			changed = append(changed, DocRef{Collection: r.Collection, ID: r.ID})
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return &Error{Code: CodeTransactionConflict, Changed: changed,
		Detail: "transaction " + t.ID + ": " + strconv.Itoa(len(changed)) + " document(s) it read or wrote changed since, first " +
			refString(changed[0].Collection, changed[0].ID) + "; nothing was applied: run the transaction again from the start"}
}

// TransactionGet reads a document inside a transaction: the transaction's own
// staged version if it wrote the document, else the committed one, whose
// version joins the transaction's read set. staged reports the former.
// When a document the transaction saw has changed since, the read is
// CodeTransactionConflict at once.
func (s *Service) TransactionGet(ctx context.Context, txid, collection, id string) (d *Document, staged bool, err error) {
	if err := checkCollectionName(collection); err != nil {
		return nil, false, err
	}
	if err := checkID(id); err != nil {
		return nil, false, err
	}
	c := callerFrom(ctx)
	err = s.store.Update(ctx, func(tx Tx) error {
		d, staged = nil, false
		t, err := s.loadTransaction(tx, txid, c)
		if err != nil {
			return err
		}
		if err := mayUse(t, c); err != nil {
			return err
		}
		// A transaction that is bound to conflict learns it now, before
		// it does more work.
		if err := validateSeen(tx, t); err != nil {
			return err
		}
		if sd := t.stagedDoc(collection, id); sd != nil {
			d, staged = sd, true
			return nil
		}
		if err := s.expireIfDue(tx, collection, id); err != nil {
			return err
		}
		cur, err := getDocument(tx, collection, id)
		if err != nil {
			return err
		}
		d = cur
		if t.seenIndex(collection, id) >= 0 {
			return nil // validated above
		}
		if len(t.Seen) >= s.maxOps {
			return Errorf(CodeTooManyOps, "transaction %s has seen %d documents; the limit is %d: split it", t.ID, len(t.Seen), s.maxOps)
		}
		t.Seen = append(t.Seen, SeenDoc{Collection: collection, ID: id, Seq: seqOf(cur)})
		t.Rev++
		return tx.PutTransaction(t)
	})
	if err != nil {
		return nil, false, err
	}
	if d == nil || d.Deleted {
		if staged {
			return nil, true, Errorf(CodeNotFound, "%s is deleted in transaction %s", refString(collection, id), txid)
		}
		return nil, false, notFound(collection, id, d)
	}
	return d, staged, nil
}

// TransactionWrite stages a write (create, put, patch or delete) in a transaction.
// It checks the write as if the transaction's staged writes had been
// applied, with every rule, and returns the result it would have; nothing
// is visible outside the transaction until Commit. A write that fails
// stages nothing and returns the error the same request would get on its
// own. The document joins the transaction's write set with the committed
// version it had. With idem, answer([]OpResult{result}) is stored as
// idem's answer in the commit that stages the write (see IdempotencyKey);
// answer is needed only with idem.
func (s *Service) TransactionWrite(ctx context.Context, txid string, op Op, idem *IdempotencyKey, answer AnswerFunc) (OpResult, error) {
	if op.Kind == OpCheck {
		return OpResult{}, Errorf(CodeInvalidParameter, "a check cannot be staged; read the document in the transaction instead")
	}
	w, err := s.prepareOp(&op)
	if err != nil {
		return OpResult{}, err
	}
	c := callerFrom(ctx)
	w.caller = c
	for range 32 {
		var t *Transaction
		var res OpResult
		var baseSeq int64
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			if t, err = s.loadTransaction(tx, txid, c); err != nil {
				return err
			}
			if len(t.Ops) >= s.maxOps {
				return Errorf(CodeTooManyOps, "transaction %s has %d staged writes; the limit is %d: commit and start another", t.ID, len(t.Ops), s.maxOps)
			}
			if err := mayUse(t, c); err != nil {
				return err
			}
			if err := validateSeen(tx, t); err != nil {
				return err
			}
			cur, err := getDocument(tx, op.Collection, op.ID)
			if err != nil {
				return err
			}
			baseSeq = seqOf(cur)
			if err := s.replay(tx, t, c); err != nil {
				return err
			}
			if res, err = s.applyOp(tx, &op, w); err != nil {
				return err
			}
			return errSimulated
		})
		if !errors.Is(err, errSimulated) {
			return OpResult{}, err
		}
		err = s.store.Update(ctx, func(tx Tx) error {
			t2, err := s.loadTransaction(tx, txid, c)
			if err != nil {
				return err
			}
			if t2.Rev != t.Rev {
				return errTransactionMoved
			}
			t2.Ops = append(t2.Ops, op)
			t2.Staged = append(t2.Staged, res.Document)
			if t2.seenIndex(op.Collection, op.ID) < 0 {
				t2.Seen = append(t2.Seen, SeenDoc{Collection: op.Collection, ID: op.ID, Seq: baseSeq})
			}
			t2.Rev++
			if err := tx.PutTransaction(t2); err != nil {
				return err
			}
			return s.storeOpsAnswer(tx, idem, answer, []OpResult{res})
		})
		if errors.Is(err, errTransactionMoved) {
			continue
		}
		if err != nil {
			return OpResult{}, err
		}
		return res, nil
	}
	return OpResult{}, Errorf(CodeTransactionConflict, "transaction %s kept changing under concurrent requests; send its requests one at a time", txid)
}

// replay applies a transaction's staged writes inside tx.
func (s *Service) replay(tx Tx, t *Transaction, c Caller) error {
	_, err := s.replayOps(tx, t, c)
	return err
}

// replayOps applies t's staged writes inside tx as c's.
func (s *Service) replayOps(tx Tx, t *Transaction, c Caller) ([]OpResult, error) {
	ws, err := s.prepareOps(t.Ops, false, c)
	if err != nil {
		return nil, err
	}
	results := make([]OpResult, len(t.Ops))
	for i := range t.Ops {
		if results[i], err = s.applyOp(tx, &t.Ops[i], ws[i]); err != nil {
			return nil, opError(i, len(t.Ops), &t.Ops[i], err)
		}
	}
	return results, nil
}

// CommitTransaction validates that every document the transaction read or
// wrote is still at the version it saw, and applies its staged writes in
// one atomic, durable commit followed by one EventTransactionCommitted.
// The transaction ends. Returns CodeTransactionConflict listing the
// changed documents (nothing applied; the transaction stays until it is
// rolled back or expires), a *OpError when a staged write no longer
// applies (a unique value or a referenced document changed),
// CodeForbidden when the caller may no longer write a collection the
// transaction wrote or read one it read (its scopes shrank since: nothing
// applied, the transaction stays), or CodeTransactionExpired (also for a
// caller other than the one that began it). Of two concurrent commits of one transaction,
// one applies and the other is CodeTransactionExpired. With idem,
// answer(results) is stored as idem's answer in the commit (see
// IdempotencyKey); answer is needed only with idem.
func (s *Service) CommitTransaction(ctx context.Context, txid string, idem *IdempotencyKey, answer AnswerFunc) ([]OpResult, error) {
	var results []OpResult
	c := callerFrom(ctx)
	err := s.store.Update(ctx, func(tx Tx) error {
		t, err := s.loadTransaction(tx, txid, c)
		if err != nil {
			return err
		}
		// Before validateSeen, whose conflict lists documents by name.
		if err := mayUse(t, c); err != nil {
			return err
		}
		if err := validateSeen(tx, t); err != nil {
			return err
		}
		if results, err = s.replayOps(tx, t, c); err != nil {
			return err
		}
		if err := s.appendCommitEvent(tx, t.ID, results); err != nil {
			return err
		}
		if err := tx.DeleteTransaction(t.ID); err != nil {
			return err
		}
		return s.storeOpsAnswer(tx, idem, answer, results)
	})
	return results, err
}

// RollbackTransaction ends a transaction and drops what it staged.
// Returns CodeTransactionExpired when it is already gone, or belongs to
// another caller.
func (s *Service) RollbackTransaction(ctx context.Context, txid string) error {
	c := callerFrom(ctx)
	return s.store.Update(ctx, func(tx Tx) error {
		if _, err := s.loadTransaction(tx, txid, c); err != nil {
			return err
		}
		return tx.DeleteTransaction(txid)
	})
}

// SweepTransactions deletes expired transactions in small commits and
// returns how many it deleted.
func (s *Service) SweepTransactions(ctx context.Context) (int, error) {
	n, err := s.sweepExpired(ctx, Tx.DeleteExpiredTransactions)
	s.upkeep.transactions.Add(int64(n))
	return n, err
}
