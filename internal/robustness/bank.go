package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// maxAccounts bounds Bank.Accounts, so that the model's state is a
// comparable array.
const maxAccounts = 8

// Bank is the bank-transfer workload over atomic batches (docs/api.md §7):
// Accounts documents hold a balance; clients move money between two of
// them with one POST /v1/tx of two merge patches, each with If-Match on the
// ETag the client last saw, and read single accounts. The model is the
// whole bank in one partition: a transfer changes both accounts at one
// instant or neither, so a reader that sees one side of a transfer and
// then the other side's old state is a violation. After every restart both
// halves of every acknowledged transfer are in history, and every transfer
// whose answer was lost is in both accounts or in neither; at the end the
// balances add up to what they started with.
//
// Setup returns ErrNotServed when the server has no /v1/tx.
type Bank struct {
	Collection string
	Accounts   int   // 2..8
	Initial    int64 // each account's opening balance

	mu       sync.Mutex
	pending  []transfer      // acknowledged or unknown, not yet read back
	unknowns []transfer      // every transfer whose answer was lost
	applied  map[string]bool // by tag, what became of them (CheckAcked, quiescent)
}

// transfer is a transfer the workload sent, tagged so that its two halves
// can be recognised in history.
type transfer struct {
	in    BankInput
	tag   string
	acked bool
}

// NewBank returns the workload on accounts accounts of collection.
func NewBank(collection string, accounts int, initial int64) *Bank {
	if accounts < 2 || accounts > maxAccounts {
		panic("robustness: Bank needs 2 to 8 accounts")
	}
	return &Bank{Collection: collection, Accounts: accounts, Initial: initial}
}

// BankInput is a read of account A, or a transfer from A to B that names
// the versions it expects and the balances it writes.
type BankInput struct {
	Transfer           bool
	Tag                string // a transfer's tag, written with both halves
	A, B               int
	AVersion, BVersion int64
	ANew, BNew         int64
	// ABalance, BBalance are the balances an interactive transfer read in
	// its transaction (Interactive); the batch workload leaves them 0.
	ABalance, BBalance int64
}

// BankOutput is the answer: a read's version and balance, a transfer's
// two new versions, or a failure's status and code.
type BankOutput struct {
	Unknown            bool
	Status             int
	Code               string
	AVersion, BVersion int64
	Balance            int64
}

// BankState is every account's version and balance.
type BankState [maxAccounts]struct{ Version, Balance int64 }

// Name implements Workload.
func (w *Bank) Name() string { return "bank" }

func (w *Bank) path(i int) string {
	return "/v1/collections/" + w.Collection + "/docs/a" + strconv.Itoa(i)
}

// Setup implements Workload: it checks that /v1/tx is served and opens the
// accounts at version 1.
func (w *Bank) Setup(ctx context.Context, s *Session) error {
	rng := rand.New(rand.NewPCG(0, 0))
	if r, out := s.Do(ctx, rng, "GET", "/v1/tx", nil); out == OK && r.Status == http.StatusNotFound {
		return fmt.Errorf("bank: /v1/tx answers 404, so this server has no atomic batches (docs/api.md §7): %w", ErrNotServed)
	}
	for i := range w.Accounts {
		r, out := s.Do(ctx, rng, "PUT", w.path(i), []byte(`{"balance":`+strconv.FormatInt(w.Initial, 10)+`}`), "If-None-Match: *")
		if out != OK || r.Status != http.StatusCreated {
			return fmt.Errorf("bank: open account %d: %s %v", i, out, r)
		}
	}
	return nil
}

// Model implements Workload.
func (w *Bank) Model() porcupine.Model {
	return w.model(func(s BankState, in BankInput, out BankOutput) []any {
		match := s[in.A].Version == in.AVersion && s[in.B].Version == in.BVersion
		next := transferred(s, in)
		switch {
		case out.Unknown && match:
			return []any{s, next}
		case out.Unknown:
			return []any{s}
		case match && out.Status == http.StatusOK && out.AVersion == in.AVersion+1 && out.BVersion == in.BVersion+1:
			return []any{next}
		case !match && out.Status == http.StatusPreconditionFailed && out.Code == "precondition_failed":
			return []any{s}
		}
		return nil
	}, func(in BankInput, ans string) string {
		return fmt.Sprintf("transfer a%d@%d:=%d a%d@%d:=%d -> %s", in.A, in.AVersion, in.ANew, in.B, in.BVersion, in.BNew, ans)
	})
}

// model is the model of the bank's accounts, shared by the workloads that
// transfer between them: the reads are checked here, the transfers by
// transfer (the states it may lead to), and describe shows a transfer.
func (w *Bank) model(transfer func(s BankState, in BankInput, out BankOutput) []any, describe func(in BankInput, ans string) string) porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Init: func() []any {
			var s BankState
			for i := range w.Accounts {
				s[i].Version, s[i].Balance = 1, w.Initial
			}
			return []any{s}
		},
		Step: func(state, input, output any) []any {
			s, in, out := state.(BankState), input.(BankInput), output.(BankOutput)
			if in.Transfer {
				return transfer(s, in, out)
			}
			if out.Unknown {
				return []any{s}
			}
			if out.Status == http.StatusOK && out.AVersion == s[in.A].Version && out.Balance == s[in.A].Balance {
				return []any{s}
			}
			return nil
		},
		Equal: func(a, b any) bool { return a.(BankState) == b.(BankState) },
		DescribeOperation: func(input, output any) string {
			in, out := input.(BankInput), output.(BankOutput)
			ans := fmt.Sprintf("%d %s", out.Status, out.Code)
			if out.Unknown {
				ans = "?"
			}
			if !in.Transfer {
				return fmt.Sprintf("read a%d -> %s v%d balance %d", in.A, ans, out.AVersion, out.Balance)
			}
			return describe(in, ans)
		},
		DescribeState: func(state any) string {
			s := state.(BankState)
			return fmt.Sprint(s[:w.Accounts])
		},
	}
	return nm.ToModel()
}

// transferred is s after in's transfer.
func transferred(s BankState, in BankInput) BankState {
	s[in.A].Version, s[in.A].Balance = in.AVersion+1, in.ANew
	s[in.B].Version, s[in.B].Balance = in.BVersion+1, in.BNew
	return s
}

// NewClient implements Workload.
func (w *Bank) NewClient(id int) Client {
	return &bankClient{w: w, id: id, seen: make([]seenAccount, w.Accounts)}
}

type seenAccount struct {
	version, balance int64
	etag             string
}

type bankClient struct {
	w    *Bank
	id   int
	n    int
	seen []seenAccount
}

// Op implements Client: a read of an account it knows nothing of, else a
// read or a transfer at random.
func (c *bankClient) Op(ctx context.Context, s *Session, rng *rand.Rand) Result {
	a := rng.IntN(c.w.Accounts)
	b := (a + 1 + rng.IntN(c.w.Accounts-1)) % c.w.Accounts
	if c.seen[a].etag == "" || c.seen[b].etag == "" || rng.IntN(2) == 0 {
		return c.read(ctx, s, rng, a)
	}
	c.n++
	amount := 1 + rng.Int64N(10)
	in := BankInput{Transfer: true, A: a, B: b, AVersion: c.seen[a].version, BVersion: c.seen[b].version,
		ANew: c.seen[a].balance - amount, BNew: c.seen[b].balance + amount}
	tag := fmt.Sprintf("c%d-%d", c.id, c.n)
	in.Tag = tag
	patch := func(i int, etag string, balance int64) map[string]any {
		return map[string]any{"op": "patch", "collection": c.w.Collection, "id": "a" + strconv.Itoa(i),
			"ifMatch": etag, "mergePatch": map[string]any{"balance": balance, "tx": tag}}
	}
	body, _ := json.Marshal(map[string]any{"ops": []any{patch(a, c.seen[a].etag, in.ANew), patch(b, c.seen[b].etag, in.BNew)}})
	r, outcome := s.Do(ctx, rng, "POST", "/v1/tx", body)
	if outcome != OK {
		if outcome == Unknown {
			c.w.note(transfer{in: in, tag: tag})
		}
		return Result{Input: in, Output: BankOutput{Unknown: true}, Outcome: outcome}
	}
	out := BankOutput{Status: r.Status}
	var res struct {
		Code    string `json:"code"`
		Results []struct {
			ETag     string `json:"etag"`
			Document struct {
				Version int64 `json:"_version"`
				Balance int64 `json:"balance"`
			} `json:"document"`
		} `json:"results"`
	}
	if err := json.Unmarshal(r.Body, &res); err != nil {
		out.Code = "unparsable: " + err.Error()
		return Result{Input: in, Output: out, Outcome: OK}
	}
	out.Code = res.Code
	if r.Status == http.StatusOK && len(res.Results) == 2 {
		out.AVersion, out.BVersion = res.Results[0].Document.Version, res.Results[1].Document.Version
		c.seen[a] = seenAccount{out.AVersion, res.Results[0].Document.Balance, res.Results[0].ETag}
		c.seen[b] = seenAccount{out.BVersion, res.Results[1].Document.Balance, res.Results[1].ETag}
		c.w.note(transfer{in: in, tag: tag, acked: true})
	} else {
		c.seen[a].etag, c.seen[b].etag = "", "" // re-read before the next transfer
	}
	return Result{Input: in, Output: out, Outcome: OK}
}

func (c *bankClient) read(ctx context.Context, s *Session, rng *rand.Rand, a int) Result {
	in := BankInput{A: a}
	r, outcome := s.Do(ctx, rng, "GET", c.w.path(a), nil)
	if outcome != OK {
		return Result{Input: in, Output: BankOutput{Unknown: true}, Outcome: outcome}
	}
	out := BankOutput{Status: r.Status}
	var d struct {
		Version int64 `json:"_version"`
		Balance int64 `json:"balance"`
	}
	if r.Status == http.StatusOK && json.Unmarshal(r.Body, &d) == nil {
		out.AVersion, out.Balance = d.Version, d.Balance
		c.seen[a] = seenAccount{d.Version, d.Balance, r.Header.Get("ETag")}
	}
	return Result{Input: in, Output: out, Outcome: OK}
}

func (w *Bank) note(t transfer) {
	w.mu.Lock()
	w.pending = append(w.pending, t)
	if !t.acked {
		w.unknowns = append(w.unknowns, t)
	}
	w.mu.Unlock()
}

// Resolve implements Resolver: a transfer whose answer was lost took
// effect if both accounts' next versions carry its tag (CheckAcked found
// out at the end of the run), and never did otherwise.
func (w *Bank) Resolve(op porcupine.Operation) (porcupine.Operation, bool) {
	in := op.Input.(BankInput)
	w.mu.Lock()
	applied, known := w.applied[in.Tag]
	w.mu.Unlock()
	switch {
	case !in.Transfer:
		return op, false // a read without an answer tells nothing
	case !known:
		return op, true
	case !applied:
		return op, false
	}
	op.Output = BankOutput{Status: http.StatusOK, AVersion: in.AVersion + 1, BVersion: in.BVersion + 1}
	return op, true
}

// CheckAcked implements AckChecker: each acknowledged transfer since the
// last call wrote both of its versions, each transfer whose answer was lost
// wrote both or neither, and, when quiescent, the balances add up.
func (w *Bank) CheckAcked(ctx context.Context, s *Session, quiescent bool) (checked int, lost []string, err error) {
	w.mu.Lock()
	ts := w.pending
	w.pending = nil
	w.mu.Unlock()
	rng := rand.New(rand.NewPCG(3, 4))
	// wrote reports whether account i's version v is this transfer's.
	wrote := func(i int, v int64, tag string) (bool, error) {
		return taggedBy(ctx, s, rng, w.path(i)+"/versions/"+strconv.FormatInt(v, 10), tag)
	}
	for _, t := range ts {
		inA, err := wrote(t.in.A, t.in.AVersion+1, t.tag)
		if err != nil {
			return checked, lost, err
		}
		inB, err := wrote(t.in.B, t.in.BVersion+1, t.tag)
		if err != nil {
			return checked, lost, err
		}
		if !t.acked && inA != inB {
			// A request whose answer was lost may still be running on the
			// server: look again once it must have ended.
			time.Sleep(2 * time.Second)
			if inA, err = wrote(t.in.A, t.in.AVersion+1, t.tag); err == nil {
				inB, err = wrote(t.in.B, t.in.BVersion+1, t.tag)
			}
			if err != nil {
				return checked, lost, err
			}
		}
		checked++
		switch {
		case t.acked && !(inA && inB):
			lost = append(lost, fmt.Sprintf("acknowledged transfer %s (a%d v%d, a%d v%d): in a%d: %v, in a%d: %v",
				t.tag, t.in.A, t.in.AVersion+1, t.in.B, t.in.BVersion+1, t.in.A, inA, t.in.B, inB))
		case inA != inB:
			lost = append(lost, fmt.Sprintf("transfer %s is half visible: in a%d: %v, in a%d: %v", t.tag, t.in.A, inA, t.in.B, inB))
		}
	}
	if !quiescent {
		return checked, lost, nil
	}
	// Every request has ended by now (the last one a second ago at the
	// latest): what each lost transfer did is settled.
	time.Sleep(time.Second)
	w.mu.Lock()
	unknowns := w.unknowns
	w.mu.Unlock()
	applied := map[string]bool{}
	for _, t := range unknowns {
		inA, err := wrote(t.in.A, t.in.AVersion+1, t.tag)
		if err != nil {
			return checked, lost, err
		}
		inB, err := wrote(t.in.B, t.in.BVersion+1, t.tag)
		if err != nil {
			return checked, lost, err
		}
		if inA != inB {
			lost = append(lost, fmt.Sprintf("transfer %s is half visible at the end: in a%d: %v, in a%d: %v", t.tag, t.in.A, inA, t.in.B, inB))
			continue
		}
		applied[t.tag] = inA
	}
	w.mu.Lock()
	w.applied = applied
	w.mu.Unlock()
	var sum int64
	for i := range w.Accounts {
		r, out := s.Do(ctx, rng, "GET", w.path(i), nil)
		if out != OK || r.Status != http.StatusOK {
			return checked, lost, fmt.Errorf("GET account %d: %s %v", i, out, r)
		}
		var d struct {
			Balance int64 `json:"balance"`
		}
		json.Unmarshal(r.Body, &d)
		sum += d.Balance
	}
	if want := int64(w.Accounts) * w.Initial; sum != want {
		lost = append(lost, fmt.Sprintf("the balances add up to %d, not %d", sum, want))
	}
	return checked, lost, nil
}

// taggedBy reports whether the document at path exists and its "tx" field
// is tag: whether the transfer tagged tag wrote it. It retries a read whose
// answer is lost, up to 20 times.
func taggedBy(ctx context.Context, s *Session, rng *rand.Rand, path, tag string) (bool, error) {
	for try := 0; try < 20; try++ {
		r, out := s.Do(ctx, rng, "GET", path, nil)
		if out != OK {
			continue
		}
		var d struct {
			Tx string `json:"tx"`
		}
		json.Unmarshal(r.Body, &d)
		return r.Status == http.StatusOK && d.Tx == tag, nil
	}
	return false, fmt.Errorf("GET %s: no answer", path)
}
