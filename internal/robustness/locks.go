package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// Locks is the lock-fencing workload (docs/api.md §6): clients take the lock
// of one document (POST .../lock, no wait), write it while they hold it
// (PUT with If-Match and their Lock-Token), release it, read it, and now
// and then write it without a token. The model holds the lock's holder and
// expiry and the document's version: a lock granted while another is held
// and unexpired, a write by anyone but the holder that succeeds while the
// lock is held, or a holder's If-Match write that fails although nobody
// else could write, is a violation. Expiry is judged by the wall clock the
// clients and the server share: a lock is surely live until the expiresAt
// it was granted with, and may have ended any time after it.
//
// Setup returns ErrNotServed when the server has no lock routes.
type Locks struct {
	Collection string
	// TTL is each lock's time to live; short, so that locks whose release
	// was lost end within a run.
	TTL time.Duration
	// QueueRefusals accepts a 423 that names no owner as the answer to a
	// lock request without a wait while the lock is free, which a server
	// gives when other requests queue for the lock. docs/api.md §6 has a 423
	// only "when another holds it", so the default (false) counts such an
	// answer as a violation.
	QueueRefusals bool
	// Wait, when positive, makes every lock request wait up to that long
	// for the lock (in the queue, behind other waiting requests), and so
	// makes QueueRefusals needed: a request may give up behind others
	// while nobody holds the lock. It must be shorter than the session's
	// request timeout.
	Wait time.Duration
}

// NewLocks returns the workload on one document of collection.
func NewLocks(collection string, ttl time.Duration) *Locks {
	return &Locks{Collection: collection, TTL: ttl}
}

// LockOp names a request of the Locks workload.
type LockOp string

// The requests.
const (
	LockAcquire LockOp = "acquire"
	LockRelease LockOp = "release"
	LockWrite   LockOp = "write"     // PUT with If-Match and, when Token is set, Lock-Token
	LockRead    LockOp = "read"      // GET the document
	lockUnknown        = "?unknown?" // the holder of a lock whose grant was lost
)

// LockInput is one request. End is the wall-clock time its answer came
// (or the client gave up), by which the server has decided.
type LockInput struct {
	Op        LockOp
	Client    int
	Token     string // the token a release or write sends
	IfVersion int64  // a write's If-Match, as the version its ETag names
	End       time.Time
}

// LockOutput is the answer.
type LockOutput struct {
	Unknown   bool
	Status    int
	Code      string
	Token     string    // a granted lock's token
	Owner     string    // the owner a grant or a 423 names
	ExpiresAt time.Time // a granted lock's expiry
	Version   int64     // the document's version after a write, or read
}

// LockState is the lock and the document.
type LockState struct {
	Holder    string // token; "" when free
	ExpiresAt time.Time
	Version   int64
}

// Name implements Workload.
func (w *Locks) Name() string { return "locks" }

func (w *Locks) path() string { return "/v1/collections/" + w.Collection + "/docs/fenced" }

// Setup implements Workload: it checks that the lock routes are served and
// creates the document at version 1.
func (w *Locks) Setup(ctx context.Context, s *Session) error {
	rng := rand.New(rand.NewPCG(0, 0))
	if r, out := s.Do(ctx, rng, "PUT", w.path()+"/lock", []byte(`{}`)); out == OK && r.Status == http.StatusNotFound {
		return fmt.Errorf("locks: %s/lock answers 404, so this server has no locks (docs/api.md §6): %w", w.path(), ErrNotServed)
	}
	r, out := s.Do(ctx, rng, "PUT", w.path(), []byte(`{"n":0}`), "If-None-Match: *")
	if out != OK || r.Status != http.StatusCreated {
		return fmt.Errorf("locks: create the document: %s %v", out, r)
	}
	return nil
}

// Model implements Workload.
func (w *Locks) Model() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Init: func() []any { return []any{LockState{Version: 1}} },
		Step: func(state, input, output any) []any {
			var out []any
			for _, s := range lockStates(state.(LockState), input.(LockInput), output.(LockOutput).Unknown) {
				for _, n := range lockStep(s, input.(LockInput), output.(LockOutput), w.QueueRefusals) {
					out = append(out, n)
				}
			}
			return out
		},
		Equal: func(a, b any) bool { return a.(LockState) == b.(LockState) },
		DescribeOperation: func(input, output any) string {
			in, out := input.(LockInput), output.(LockOutput)
			ans := fmt.Sprintf("%d %s v%d", out.Status, out.Code, out.Version)
			if out.Unknown {
				ans = "?"
			}
			return fmt.Sprintf("c%d %s(token %.8s, if v%d) -> %s", in.Client, in.Op, in.Token, in.IfVersion, ans)
		},
		DescribeState: func(state any) string {
			s := state.(LockState)
			if s.Holder == "" {
				return fmt.Sprintf("free, v%d", s.Version)
			}
			return fmt.Sprintf("held by %.8s until %s, v%d", s.Holder, s.ExpiresAt.Format("15:04:05.000"), s.Version)
		},
	}
	return nm.ToModel()
}

// lockStates is what the lock may be when the server decides in: as it
// is, or, once it may have expired (after its expiresAt, or any time for
// a lock whose grant was lost), free. A request whose answer was lost may
// be decided any time later, so for it any lock may have expired.
func lockStates(s LockState, in LockInput, unknown bool) []LockState {
	if s.Holder == "" {
		return []LockState{s}
	}
	if s.Holder == lockUnknown || unknown || !in.End.Before(s.ExpiresAt) {
		return []LockState{s, {Version: s.Version}}
	}
	return []LockState{s}
}

func lockStep(s LockState, in LockInput, out LockOutput, queueRefusals bool) []LockState {
	held := s.Holder != ""
	switch in.Op {
	case LockRead:
		if out.Unknown || out.Status == http.StatusOK && out.Version == s.Version {
			return []LockState{s}
		}
	case LockAcquire:
		granted := LockState{Holder: out.Token, ExpiresAt: out.ExpiresAt, Version: s.Version}
		switch {
		case out.Unknown && !held:
			return []LockState{s, {Holder: lockUnknown, Version: s.Version}}
		case out.Unknown:
			return []LockState{s}
		case out.Status == http.StatusCreated && !held:
			return []LockState{granted}
		case out.Status == http.StatusLocked && held:
			return []LockState{s}
		case out.Status == http.StatusLocked && queueRefusals && out.Owner == "":
			return []LockState{s}
		}
	case LockRelease:
		mine := held && s.Holder == in.Token
		switch {
		case out.Unknown && mine:
			return []LockState{s, {Version: s.Version}}
		case out.Unknown:
			return []LockState{s}
		case out.Status == http.StatusNoContent && mine:
			return []LockState{{Version: s.Version}}
		case out.Status >= 400 && out.Status < 500 && !mine:
			return []LockState{s}
		}
	case LockWrite:
		blocked := held && s.Holder != in.Token
		written := s
		written.Version++
		match := s.Version == in.IfVersion
		switch {
		case out.Unknown && !blocked && match:
			return []LockState{s, written}
		case out.Unknown:
			return []LockState{s}
		case blocked:
			if out.Status == http.StatusLocked || (in.Token != "" && out.Status >= 400 && out.Status < 500) {
				return []LockState{s} // 423, or the token's own 409/412
			}
		case !held && in.Token != "" && out.Status >= 400 && out.Status < 500 && out.Code != "precondition_failed":
			return []LockState{s} // a token of an ended lock: 412 lock_expired
		case match && out.Status == http.StatusOK && out.Version == written.Version:
			return []LockState{written}
		case !match && out.Status == http.StatusPreconditionFailed && out.Code == "precondition_failed":
			return []LockState{s}
		}
	}
	return nil
}

// NewClient implements Workload.
func (w *Locks) NewClient(id int) Client { return &lockClient{w: w, id: id} }

type lockClient struct {
	w       *Locks
	id      int
	token   string // the lock it holds, as far as it knows
	version int64  // the version it last saw
	etag    string
}

// Op implements Client: a holder writes or releases; anyone else mostly
// tries to take the lock, sometimes reads or writes without it.
func (c *lockClient) Op(ctx context.Context, s *Session, rng *rand.Rand) Result {
	in := LockInput{Client: c.id}
	var r *Response
	var outcome Outcome
	switch k := rng.IntN(10); {
	case c.token != "" && k < 6, c.token == "" && k == 9 && c.etag != "":
		in.Op, in.Token, in.IfVersion = LockWrite, c.token, c.version
		hdr := []string{"If-Match: " + c.etag}
		if c.token != "" {
			hdr = append(hdr, "Lock-Token: "+c.token)
		}
		r, outcome = s.Do(ctx, rng, "PUT", c.w.path(), []byte(`{"n":`+strconv.Itoa(rng.IntN(1000))+`}`), hdr...)
	case c.token != "":
		in.Op, in.Token = LockRelease, c.token
		r, outcome = s.Do(ctx, rng, "DELETE", c.w.path()+"/lock", nil, "Lock-Token: "+c.token)
		if outcome != NotSent {
			c.token = "" // released, or at worst it expires soon
		}
	case k < 3 || c.etag == "":
		in.Op = LockRead
		r, outcome = s.Do(ctx, rng, "GET", c.w.path(), nil)
	default:
		in.Op = LockAcquire
		body := fmt.Sprintf(`{"ttl":%q,"owner":"c%d"}`, c.w.TTL.String(), c.id)
		if c.w.Wait > 0 {
			body = fmt.Sprintf(`{"ttl":%q,"owner":"c%d","wait":%q}`, c.w.TTL.String(), c.id, c.w.Wait.String())
		}
		r, outcome = s.Do(ctx, rng, "POST", c.w.path()+"/lock", []byte(body))
	}
	in.End = time.Now()
	if outcome != OK {
		return Result{Input: in, Output: LockOutput{Unknown: true}, Outcome: outcome}
	}
	out := LockOutput{Status: r.Status}
	var body struct {
		Code      string `json:"code"`
		Token     string `json:"token"`
		Owner     string `json:"owner"`
		ExpiresAt string `json:"expiresAt"`
		Version   int64  `json:"_version"`
		Current   *struct {
			Version int64  `json:"version"`
			ETag    string `json:"etag"`
		} `json:"current"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil && r.Status != http.StatusNoContent {
		out.Code = "unparsable: " + err.Error()
	}
	if r.Status >= 400 {
		out.Code = body.Code
	}
	out.Owner = body.Owner
	switch {
	case in.Op == LockAcquire && r.Status == http.StatusCreated:
		out.Token = body.Token
		out.ExpiresAt, _ = time.Parse(time.RFC3339Nano, body.ExpiresAt)
		c.token = body.Token
	case (in.Op == LockWrite || in.Op == LockRead) && r.Status == http.StatusOK:
		out.Version = body.Version
		c.version, c.etag = body.Version, r.Header.Get("ETag")
	case in.Op == LockWrite && r.Status != http.StatusPreconditionFailed && in.Token != "":
		c.token = "" // 423 or a token error: the lock is gone
	}
	if in.Op == LockWrite && r.Status == http.StatusPreconditionFailed {
		if body.Code == "lock_expired" {
			c.token = ""
		} else if body.Current != nil {
			c.version, c.etag = body.Current.Version, body.Current.ETag
		}
	}
	return Result{Input: in, Output: out, Outcome: OK}
}

// Resolve implements Resolver: a read whose answer was lost is left out.
func (w *Locks) Resolve(op porcupine.Operation) (porcupine.Operation, bool) {
	return op, op.Input.(LockInput).Op != LockRead
}
