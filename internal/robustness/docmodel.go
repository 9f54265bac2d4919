package robustness

import (
	"fmt"
	"net/http"

	"github.com/anishathalye/porcupine"
)

// DocOp names a document operation of the Documents workload.
type DocOp string

// The document operations, each with the request it sends (docs/api.md §2).
const (
	OpRead          DocOp = "read"               // GET
	OpReadIfNone    DocOp = "read-if-none-match" // GET with If-None-Match: the ETag of (IfVersion, IfValue)
	OpCreate        DocOp = "create"             // PUT with If-None-Match: *
	OpPost          DocOp = "post"               // POST .../docs with _id
	OpPutIfMatch    DocOp = "put-if-match"       // PUT with If-Match: the ETag of (IfVersion, IfValue)
	OpPutVersion    DocOp = "put-version"        // PUT with "_version": Version in the body
	OpPutBlind      DocOp = "put"                // PUT without a precondition
	OpPatchVersion  DocOp = "patch-version"      // PATCH merge patch with ?version=Version
	OpDeleteIfMatch DocOp = "delete-if-match"    // DELETE with If-Match
	OpDeleteVersion DocOp = "delete-version"     // DELETE with ?version=Version
)

// DocState is the model's state of one document: whether a live document
// exists, its version (which a tombstone keeps), and the value of its one
// user field. Every write writes a value no other write writes, so a state
// names one version of the document exactly.
type DocState struct {
	Exists  bool
	Version int64
	Value   string
}

// String describes the state: "absent", "deleted@3" or "value@3".
func (s DocState) String() string {
	if !s.Exists {
		if s.Version == 0 {
			return "absent"
		}
		return fmt.Sprintf("deleted@%d", s.Version)
	}
	return fmt.Sprintf("%s@%d", s.Value, s.Version)
}

// DocInput is one request of the Documents workload.
type DocInput struct {
	Key string
	Op  DocOp
	// IfVersion and IfValue name the state whose ETag an If-Match op sent.
	// The ETag itself is opaque; the workload sends the one it saw with
	// that state, and CheckHistory proves ETags name states one to one.
	IfVersion int64
	IfValue   string
	// Version is the body or query version of the *-version ops.
	Version int64
	// Value is what a write writes.
	Value string
}

// DocOutput is the answer to a DocInput.
type DocOutput struct {
	// Unknown: no answer came; the op may or may not have taken effect.
	Unknown bool
	Status  int
	Code    string // the problem's code, for 4xx
	// Version, Value and ETag of the document in a 200/201 answer.
	Version int64
	Value   string
	ETag    string
}

// expect is the contract: what the server must answer to in when the
// document is in state s, and the state after it.
func expect(s DocState, in DocInput) (status int, code string, next DocState) {
	written := DocState{Exists: true, Version: s.Version + 1, Value: in.Value}
	deleted := DocState{Exists: false, Version: s.Version + 1}
	matches := s.Exists && s.Version == in.IfVersion && s.Value == in.IfValue
	switch in.Op {
	case OpRead:
		if !s.Exists {
			return http.StatusNotFound, "not_found", s
		}
		return http.StatusOK, "", s
	case OpReadIfNone:
		switch {
		case !s.Exists:
			return http.StatusNotFound, "not_found", s
		case matches:
			return http.StatusNotModified, "", s
		}
		return http.StatusOK, "", s
	case OpCreate:
		if s.Exists {
			return http.StatusPreconditionFailed, "precondition_failed", s
		}
		return http.StatusCreated, "", written
	case OpPost:
		if s.Exists {
			return http.StatusConflict, "already_exists", s
		}
		return http.StatusCreated, "", written
	case OpPutIfMatch, OpDeleteIfMatch:
		if !matches {
			return http.StatusPreconditionFailed, "precondition_failed", s
		}
		if in.Op == OpDeleteIfMatch {
			return http.StatusNoContent, "", deleted
		}
		return http.StatusOK, "", written
	case OpPutVersion, OpPatchVersion, OpDeleteVersion:
		switch {
		case !s.Exists:
			return http.StatusNotFound, "not_found", s
		case s.Version != in.Version:
			return http.StatusConflict, "version_conflict", s
		case in.Op == OpDeleteVersion:
			return http.StatusNoContent, "", deleted
		}
		return http.StatusOK, "", written
	case OpPutBlind:
		if !s.Exists {
			return http.StatusCreated, "", written
		}
		return http.StatusOK, "", written
	}
	panic("robustness: unknown op " + string(in.Op))
}

// step returns the states the document may be in after in answered out,
// from s; none when the answer is impossible.
func step(s DocState, in DocInput, out DocOutput) []DocState {
	status, code, next := expect(s, in)
	if out.Unknown {
		if next != s {
			return []DocState{s, next} // it took effect, or it did not
		}
		return []DocState{s}
	}
	if out.Status != status || out.Code != code {
		return nil
	}
	switch status {
	case http.StatusOK, http.StatusCreated:
		if out.Version != next.Version || out.Value != next.Value {
			return nil
		}
	}
	return []DocState{next}
}

// DocModel is the porcupine model of versioned documents, partitioned by
// document: each document's history must be linearizable on its own.
func DocModel() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			var keys []string
			for _, op := range history {
				k := op.Input.(DocInput).Key
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], op)
			}
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() []any { return []any{DocState{}} },
		Step: func(state, input, output any) []any {
			next := step(state.(DocState), input.(DocInput), output.(DocOutput))
			out := make([]any, len(next))
			for i, s := range next {
				out[i] = s
			}
			return out
		},
		Equal: func(a, b any) bool { return a.(DocState) == b.(DocState) },
		DescribeOperation: func(input, output any) string {
			return describeDocOp(input.(DocInput), output.(DocOutput))
		},
		DescribeState: func(state any) string { return state.(DocState).String() },
	}
	return nm.ToModel()
}

func describeDocOp(in DocInput, out DocOutput) string {
	req := string(in.Op)
	switch in.Op {
	case OpPutIfMatch, OpDeleteIfMatch, OpReadIfNone:
		req += fmt.Sprintf("(if %s@%d", in.IfValue, in.IfVersion)
	case OpPutVersion, OpPatchVersion, OpDeleteVersion:
		req += fmt.Sprintf("(v%d", in.Version)
	default:
		req += "("
	}
	if in.Value != "" {
		req += " := " + in.Value
	}
	req += ")"
	var ans string
	switch {
	case out.Unknown:
		ans = "?"
	case out.Status == http.StatusOK || out.Status == http.StatusCreated:
		ans = fmt.Sprintf("%d %s@%d", out.Status, out.Value, out.Version)
	case out.Code != "":
		ans = fmt.Sprintf("%d %s", out.Status, out.Code)
	default:
		ans = fmt.Sprint(out.Status)
	}
	return in.Key + " " + req + " -> " + ans
}
