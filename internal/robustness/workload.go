package robustness

import (
	"context"
	"math/rand/v2"

	"github.com/anishathalye/porcupine"
)

// Workload is one kind of traffic and the model that judges it.
//
// The runner calls Setup once against a fresh server, then starts
// Config.Clients goroutines, each with its own Client from NewClient, that
// call Client.Op until the run ends. Each Op is timed by the runner (its
// invocation and return times bracket every request it sends) and becomes
// one porcupine.Operation with the Result's Input and Output. At the end
// the history is checked against Model(), partitioned as the model says.
//
// Outputs of ops whose outcome is unknown are recorded with Unknown set
// (see Result); the model must accept that such an op took effect or not,
// at any point after its invocation (the runner gives it a return time
// after every other event, which is porcupine's "infinity").
type Workload interface {
	// Name names the workload in logs and artifact file names.
	Name() string
	// Setup prepares the server (collections, initial documents). It runs
	// before any fault.
	Setup(ctx context.Context, s *Session) error
	// NewClient returns the generator for client id (0-based). A Client is
	// used by one goroutine only.
	NewClient(id int) Client
	// Model is the porcupine model the history must be linearizable for.
	Model() porcupine.Model
}

// Client generates and performs one client's operations.
type Client interface {
	// Op performs one operation through s and reports what it was and how
	// it ended. It must not block longer than the Session's timeouts allow.
	Op(ctx context.Context, s *Session, rng *rand.Rand) Result
}

// Result is one operation as the client saw it.
type Result struct {
	// Input describes the request (the model's input).
	Input any
	// Output describes the answer (the model's output). For an Unknown
	// outcome it is the value the model treats as "no answer".
	Output any
	// Outcome says whether Output is an answer the server gave.
	Outcome Outcome
}

// Outcome is what a client knows about an operation's effect.
type Outcome int

// The outcomes.
const (
	// OK: the server answered, success or failure; Output is that answer.
	OK Outcome = iota
	// Unknown: the request may have reached the server but no answer came
	// (connection broken, client timeout, server killed or paused): it may
	// or may not have taken effect, now or later.
	Unknown
	// NotSent: the request certainly never reached the server (the
	// connection was refused); the runner leaves it out of the history.
	NotSent
)

// String names the outcome: ok, unknown or not-sent.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Unknown:
		return "unknown"
	case NotSent:
		return "not-sent"
	}
	return "?"
}

// HistoryChecker is implemented by workloads with invariants beyond
// linearizability of the model (for the documents: an ETag never names two
// states). It runs after the porcupine check on the full history.
type HistoryChecker interface {
	CheckHistory(history []porcupine.Operation) error
}

// AckChecker is implemented by workloads that can prove, after a restart,
// that every write acknowledged so far is still there. CheckAcked checks
// the acknowledgements recorded since its previous call, and the latest
// one per key, and returns how many it checked and which are lost (or, for
// a transaction, half visible). quiescent says that no client is running,
// so that invariants over several documents can be read without a
// transaction: the runner calls it after every restart (clients running)
// and once at the end (quiescent).
type AckChecker interface {
	CheckAcked(ctx context.Context, s *Session, quiescent bool) (checked int, lost []string, err error)
}

// Settler is implemented by workloads that read the server's final state
// to resolve lost answers: Settle runs once the clients have stopped and
// every server answers again, after the final CheckAcked and before any
// Resolve.
type Settler interface {
	Settle(ctx context.Context, s *Session) error
}

// Resolver is implemented by workloads that can learn, once the run is
// over and the server idle, what became of operations whose answer was
// lost. Resolve gets each such operation (its return time is porcupine's
// infinity) and returns it with the output it turned out to have, or
// keep=false when it certainly never took effect and can be left out.
// Unresolved unknown operations make porcupine try every point at which
// they might have taken effect; in one partition with many of them (the
// bank) that search can run out of time.
type Resolver interface {
	Resolve(op porcupine.Operation) (resolved porcupine.Operation, keep bool)
}
