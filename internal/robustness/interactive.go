package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/anishathalye/porcupine"
)

// Interactive is the bank-transfer workload over interactive transactions
// (docs/api.md §7): a transfer begins a transaction (POST /v1/transactions),
// reads both accounts in it (GET with Truce-Transaction), stages the two
// new balances (a PUT or a merge PATCH, with or without If-Match on the
// ETag it read) and sometimes a ledger entry (a create in another
// collection), and commits (POST /v1/transactions/{id}/commit). A failure
// before the commit rolls the transaction back (DELETE) and changes
// nothing; a commit whose answer was lost may have applied or not, and
// the model allows both.
//
// It shares the Bank's accounts, state, model inputs and checks (the
// acknowledged transfers are read back after every restart, the ones
// whose answer was lost are resolved at the end, the total is constant);
// its model is the Bank's with the interactive answers: a commit applies
// only when both accounts are still at the versions and balances read in
// the transaction, and 409 transaction_conflict (or a staged write's 412)
// only when one of them has moved on.
//
// Setup returns ErrNotServed when the server has no /v1/transactions.
type Interactive struct {
	*Bank
	// TTL is each transaction's ttl; past it a commit is 410
	// transaction_expired, which the model takes as "nothing applied".
	TTL string

	// The ledger entries staged (under Bank.mu): each is created with the
	// transfer's tag as its id, so it must exist exactly when the
	// transfer was applied.
	ledgerAcked   []string // acknowledged, not yet read back
	ledgerUnknown []string // the commit's answer was lost
	ledgerNever   []string // refused or aborted: never applied
}

// NewInteractive returns the workload on accounts accounts of collection.
func NewInteractive(collection string, accounts int, initial int64) *Interactive {
	return &Interactive{Bank: NewBank(collection, accounts, initial), TTL: "10s"}
}

// Name implements Workload.
func (w *Interactive) Name() string { return "interactive" }

// Setup implements Workload: it checks that /v1/transactions is served
// and opens the accounts.
func (w *Interactive) Setup(ctx context.Context, s *Session) error {
	rng := rand.New(rand.NewPCG(0, 1))
	if r, out := s.Do(ctx, rng, "GET", "/v1/transactions", nil); out == OK && r.Status == http.StatusNotFound {
		return fmt.Errorf("interactive: /v1/transactions answers 404, so this server has no interactive transactions (docs/api.md §7): %w", ErrNotServed)
	}
	return w.Bank.Setup(ctx, s)
}

// aborted is the Code of a transfer that gave up before its commit was
// sent (a connection error on begin, read or stage): it was rolled back,
// or will expire, and changed nothing.
const aborted = "aborted-before-commit"

// Model implements Workload.
func (w *Interactive) Model() porcupine.Model {
	return w.model(func(s BankState, in BankInput, out BankOutput) []any {
		// The commit validates the versions; the balances read at those
		// versions must be the ones the state holds, or a read in the
		// transaction saw something that never was.
		match := s[in.A].Version == in.AVersion && s[in.B].Version == in.BVersion
		consistent := s[in.A].Balance == in.ABalance && s[in.B].Balance == in.BBalance
		next := transferred(s, in)
		switch {
		case out.Unknown && match && consistent:
			return []any{s, next}
		case out.Unknown:
			return []any{s}
		case out.Status == http.StatusOK && match && consistent && out.AVersion == in.AVersion+1 && out.BVersion == in.BVersion+1:
			return []any{next}
		case out.Status == http.StatusConflict && out.Code == "transaction_conflict" && !match:
			return []any{s}
		case out.Status == http.StatusPreconditionFailed && out.Code == "precondition_failed" && !match:
			return []any{s}
		case out.Status == http.StatusGone && out.Code == "transaction_expired", out.Code == aborted:
			return []any{s} // nothing applied, and nothing claimed about the state
		}
		return nil
	}, func(in BankInput, ans string) string {
		return fmt.Sprintf("tx %s: read a%d@%d=%d a%d@%d=%d, write a%d:=%d a%d:=%d -> %s", in.Tag,
			in.A, in.AVersion, in.ABalance, in.B, in.BVersion, in.BBalance, in.A, in.ANew, in.B, in.BNew, ans)
	})
}

// NewClient implements Workload.
func (w *Interactive) NewClient(id int) Client {
	return &interactiveClient{bankClient: bankClient{w: w.Bank, id: id, seen: make([]seenAccount, w.Accounts)}, ix: w, ttl: w.TTL}
}

type interactiveClient struct {
	bankClient
	ix  *Interactive
	ttl string
}

// txDoc is a document as the transaction routes answer it.
type txDoc struct {
	ID      string `json:"_id"`
	Version int64  `json:"_version"`
	Balance int64  `json:"balance"`
}

// Op implements Client: a plain read of one account, or a transfer in an
// interactive transaction.
func (c *interactiveClient) Op(ctx context.Context, s *Session, rng *rand.Rand) Result {
	a := rng.IntN(c.w.Accounts)
	b := (a + 1 + rng.IntN(c.w.Accounts-1)) % c.w.Accounts
	if rng.IntN(3) == 0 {
		return c.read(ctx, s, rng, a)
	}
	c.n++
	tag := fmt.Sprintf("c%d-%d", c.id, c.n)
	in := BankInput{Transfer: true, Tag: tag, A: a, B: b}
	ledger := false
	// never records a ledger entry staged by a transaction that certainly
	// was not applied.
	never := func() {
		if ledger {
			c.ix.noteLedger(&c.ix.ledgerNever, tag)
		}
	}
	abort := func(id string) Result {
		never()
		if id != "" {
			s.Do(ctx, rng, "DELETE", "/v1/transactions/"+id, nil) // best effort: else it expires
		}
		return Result{Input: in, Output: BankOutput{Code: aborted}, Outcome: OK}
	}
	// refused is a definite answer before the commit: the model checks it.
	refused := func(id string, r *Response) Result {
		never()
		if id != "" {
			s.Do(ctx, rng, "DELETE", "/v1/transactions/"+id, nil)
		}
		var p struct {
			Code string `json:"code"`
		}
		json.Unmarshal(r.Body, &p)
		return Result{Input: in, Output: BankOutput{Status: r.Status, Code: p.Code}, Outcome: OK}
	}

	r, out := s.Do(ctx, rng, "POST", "/v1/transactions", []byte(`{"ttl":"`+c.ttl+`"}`))
	if out != OK {
		return abort("")
	}
	var begin struct {
		ID string `json:"id"`
	}
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &begin) != nil || begin.ID == "" {
		return refused("", r)
	}
	txh := "Truce-Transaction: " + begin.ID

	// Read both accounts in the transaction.
	var etags [2]string
	for k, i := range []int{a, b} {
		r, out := s.Do(ctx, rng, "GET", c.w.path(i), nil, txh)
		if out != OK {
			return abort(begin.ID)
		}
		var d txDoc
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &d) != nil {
			return refused(begin.ID, r)
		}
		etags[k] = r.Header.Get("ETag")
		if k == 0 {
			in.AVersion, in.ABalance = d.Version, d.Balance
		} else {
			in.BVersion, in.BBalance = d.Version, d.Balance
		}
	}
	amount := 1 + rng.Int64N(10)
	in.ANew, in.BNew = in.ABalance-amount, in.BBalance+amount

	// Stage the two balances, each by a PUT or a merge PATCH, with or
	// without If-Match (the commit validates the read set either way).
	for k, i := range []int{a, b} {
		balance := in.ANew
		if k == 1 {
			balance = in.BNew
		}
		body := []byte(`{"balance":` + strconv.FormatInt(balance, 10) + `,"tx":"` + tag + `"}`)
		method, hs := "PUT", []string{txh}
		if rng.IntN(2) == 0 {
			method, hs = "PATCH", append(hs, "Content-Type: application/merge-patch+json")
		}
		if method == "PUT" || rng.IntN(2) == 0 {
			hs = append(hs, "If-Match: "+etags[k])
		}
		r, out := s.Do(ctx, rng, method, c.w.path(i), body, hs...)
		if out != OK {
			return abort(begin.ID)
		}
		if r.Status != http.StatusAccepted {
			return refused(begin.ID, r)
		}
	}
	if rng.IntN(2) == 0 {
		ledger = true
		entry, _ := json.Marshal(map[string]any{"_id": tag, "from": a, "to": b, "amount": amount, "tx": tag})
		r, out := s.Do(ctx, rng, "POST", "/v1/collections/"+c.w.Collection+"-ledger/docs", entry, txh)
		if out != OK {
			return abort(begin.ID)
		}
		if r.Status != http.StatusAccepted {
			return refused(begin.ID, r)
		}
	}

	r, out = s.Do(ctx, rng, "POST", "/v1/transactions/"+begin.ID+"/commit", nil)
	if out != OK {
		if out == Unknown {
			c.w.note(transfer{in: in, tag: tag})
			if ledger {
				c.ix.noteLedger(&c.ix.ledgerUnknown, tag)
			}
		}
		// NotSent: the commit never reached the server; the transaction
		// may still be committed by nobody, so it is aborted.
		if out == NotSent {
			return abort(begin.ID)
		}
		return Result{Input: in, Output: BankOutput{Unknown: true}, Outcome: Unknown}
	}
	res := BankOutput{Status: r.Status}
	var ans struct {
		Code    string `json:"code"`
		Results []struct {
			ETag     string `json:"etag"`
			Document txDoc  `json:"document"`
		} `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &ans); err != nil {
		res.Code = "unparsable: " + err.Error()
		return Result{Input: in, Output: res, Outcome: OK}
	}
	res.Code = ans.Code
	if r.Status == http.StatusOK {
		ida, idb := "a"+strconv.Itoa(a), "a"+strconv.Itoa(b)
		for _, x := range ans.Results {
			switch x.Document.ID {
			case ida:
				res.AVersion = x.Document.Version
				c.seen[a] = seenAccount{x.Document.Version, x.Document.Balance, x.ETag}
			case idb:
				res.BVersion = x.Document.Version
				c.seen[b] = seenAccount{x.Document.Version, x.Document.Balance, x.ETag}
			}
		}
		c.w.note(transfer{in: in, tag: tag, acked: true})
		if ledger {
			c.ix.noteLedger(&c.ix.ledgerAcked, tag)
		}
	} else {
		never()
		// A refused commit leaves the transaction until it expires.
		s.Do(ctx, rng, "DELETE", "/v1/transactions/"+begin.ID, nil)
	}
	return Result{Input: in, Output: res, Outcome: OK}
}

func (w *Interactive) noteLedger(list *[]string, tag string) {
	w.mu.Lock()
	*list = append(*list, tag)
	w.mu.Unlock()
}

// CheckAcked implements AckChecker: the Bank's checks of the accounts,
// and the ledger entries. The entry of each acknowledged transfer must
// exist after every restart; once quiescent, the entry of each transfer
// whose answer was lost must exist exactly when its balances were
// applied, and no entry of a refused or aborted transfer may exist (a
// staged write of a transaction that never committed is never visible).
func (w *Interactive) CheckAcked(ctx context.Context, s *Session, quiescent bool) (checked int, lost []string, err error) {
	checked, lost, err = w.Bank.CheckAcked(ctx, s, quiescent)
	if err != nil {
		return checked, lost, err
	}
	w.mu.Lock()
	acked := w.ledgerAcked
	w.ledgerAcked = nil
	unknown, never, applied := w.ledgerUnknown, w.ledgerNever, w.applied
	w.mu.Unlock()
	rng := rand.New(rand.NewPCG(5, 6))
	exists := func(tag string) (bool, error) {
		return taggedBy(ctx, s, rng, "/v1/collections/"+w.Collection+"-ledger/docs/"+tag, tag)
	}
	for _, tag := range acked {
		ok, err := exists(tag)
		if err != nil {
			return checked, lost, err
		}
		checked++
		if !ok {
			lost = append(lost, "the ledger entry of acknowledged transfer "+tag+" is missing")
		}
	}
	if !quiescent {
		return checked, lost, nil
	}
	for _, tag := range unknown {
		ok, err := exists(tag)
		if err != nil {
			return checked, lost, err
		}
		checked++
		if was, known := applied[tag]; known && ok != was {
			lost = append(lost, fmt.Sprintf("transfer %s is half visible: balances applied %v, ledger entry exists %v", tag, was, ok))
		}
	}
	if len(never) > 500 {
		never = never[len(never)-500:]
	}
	for _, tag := range never {
		ok, err := exists(tag)
		if err != nil {
			return checked, lost, err
		}
		checked++
		if ok {
			lost = append(lost, "the ledger entry of transfer "+tag+", which was refused or aborted before its commit, is visible")
		}
	}
	return checked, lost, nil
}
