package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
)

// DefaultMaxBatchBytes is the default limit on the body of POST /v1/tx:
// 16 MiB.
const DefaultMaxBatchBytes = 16 << 20

// opJSON is one op of a POST /v1/tx body (docs/api.md section 7).
type opJSON struct {
	Op          string          `json:"op"`
	Collection  string          `json:"collection"`
	ID          string          `json:"id"`
	IfMatch     *string         `json:"ifMatch"`
	IfNoneMatch *string         `json:"ifNoneMatch"`
	Version     *int64          `json:"version"`
	LockToken   string          `json:"lockToken"`
	Document    json.RawMessage `json:"document"`
	MergePatch  json.RawMessage `json:"mergePatch"`
	JSONPatch   json.RawMessage `json:"jsonPatch"`
}

// bodyLimit is the largest request body r may have.
func (h *Handler) bodyLimit(r *http.Request) int64 {
	if r.URL.Path == "/v1/tx" {
		return h.maxTxBody
	}
	return h.maxBody
}

// mayApply checks that p may apply every op of a batch: read on the
// collection of a check, write on the others. The first op it may not is
// the batch's failed op, and nothing runs.
func mayApply(p *auth.Principal, ops []truce.Op) error {
	for i := range ops {
		op := &ops[i]
		may := mayWrite
		if op.Kind == truce.OpCheck {
			may = mayRead
		}
		if err := may(p, op.Collection); err != nil {
			return &truce.OpError{Index: i, Total: len(ops), Op: op.Kind, Err: err}
		}
	}
	return nil
}

// postBatch serves POST /v1/tx: all the ops or none, in one commit.
func (h *Handler) postBatch(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	ops, err := h.decodeBatch(r, body)
	if err == nil {
		err = mayApply(principalOf(r), ops)
	}
	if err != nil {
		h.batchProblem(w, r, len(ops), err)
		return
	}
	results, err := h.svc.Batch(r.Context(), ops, answerKey(w), encodeBatchAnswer)
	answered(w, err)
	h.countTransaction("batch", len(ops), err)
	if err != nil {
		h.batchProblem(w, r, len(ops), err)
		return
	}
	h.countMerges(r, results, ops)
	writeJSON(w, http.StatusOK, appendOpResults(nil, results))
}

// decodeBatch reads the ops of a batch. It returns as many ops as the body
// has (for the results of a failure) and a *truce.OpError for an op
// that is malformed.
func (h *Handler) decodeBatch(r *http.Request, body []byte) ([]truce.Op, error) {
	var env struct {
		Ops []json.RawMessage `json:"ops"`
	}
	if err := strictJSON(body, &env); err != nil {
		return nil, truce.Errorf(truce.CodeInvalidJSON, "the body must be {\"ops\": [...]}: %v", err)
	}
	if env.Ops == nil {
		return nil, truce.Errorf(truce.CodeInvalidParameter, "the body has no \"ops\" array; send {\"ops\": [{\"op\": \"put\", ...}]}")
	}
	if max := h.svc.MaxOps(); len(env.Ops) > max {
		return nil, truce.Errorf(truce.CodeTooManyOps, "the transaction has %d ops; the limit is %d (--max-tx-ops): split it", len(env.Ops), max)
	}
	lockToken, _ := headerValue(r, "Lock-Token")
	ops := make([]truce.Op, len(env.Ops))
	for i, raw := range env.Ops {
		var j opJSON
		if err := strictJSON(raw, &j); err != nil {
			return ops, &truce.OpError{Index: i, Total: len(ops), Err: truce.Errorf(truce.CodeInvalidJSON, "op %d: %v", i, err)}
		}
		op, err := opFrom(&j, lockToken)
		if err != nil {
			var te *truce.Error
			if errors.As(err, &te) {
				te.Detail = "op " + strconv.Itoa(i) + " (" + j.Op + "): " + te.Detail
			}
			return ops, &truce.OpError{Index: i, Total: len(ops), Op: truce.OpKind(j.Op), Err: err}
		}
		ops[i] = op
	}
	return ops, nil
}

// strictJSON decodes one JSON value into v, refusing unknown members and
// anything after the value.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// opFrom checks one op of the body and turns it into a truce.Op. The
// request's Lock-Token applies to every op that names none.
func opFrom(j *opJSON, lockToken string) (truce.Op, error) {
	op := truce.Op{Kind: truce.OpKind(j.Op), Collection: j.Collection, ID: j.ID}
	switch op.Kind {
	case truce.OpCreate, truce.OpPut, truce.OpPatch, truce.OpDelete, truce.OpCheck:
	case "":
		return op, truce.Errorf(truce.CodeInvalidParameter, "the op has no \"op\"; give one of create, put, patch, delete, check")
	default:
		return op, truce.Errorf(truce.CodeInvalidParameter, "op %.40q is not one of create, put, patch, delete, check", j.Op)
	}
	var err error
	if j.IfMatch != nil {
		if op.Pre.IfMatch, err = truce.ParseETagList(*j.IfMatch); err != nil {
			return op, err
		}
	}
	if j.IfNoneMatch != nil {
		if op.Pre.IfNoneMatch, err = truce.ParseETagList(*j.IfNoneMatch); err != nil {
			return op, err
		}
	}
	if j.Version != nil {
		if *j.Version < 1 {
			return op, truce.Errorf(truce.CodeInvalidPrecondition, "version %d is not a positive integer", *j.Version)
		}
		op.Pre.Version = *j.Version
	}
	op.Pre.LockToken = j.LockToken
	if op.Pre.LockToken == "" {
		op.Pre.LockToken = lockToken
	}
	hasDoc := j.Document != nil && string(j.Document) != "null"
	switch op.Kind {
	case truce.OpCreate, truce.OpPut:
		if !hasDoc {
			return op, truce.Errorf(truce.CodeInvalidDocument, "a %s op needs \"document\": the JSON object to store", op.Kind)
		}
		op.Document = []byte(j.Document)
	case truce.OpPatch:
		switch {
		case j.MergePatch != nil && j.JSONPatch != nil:
			return op, truce.Errorf(truce.CodeInvalidPatch, "a patch op takes \"mergePatch\" or \"jsonPatch\", not both")
		case j.MergePatch != nil:
			op.PatchType, op.Patch = truce.MergePatch, []byte(j.MergePatch)
		case j.JSONPatch != nil:
			op.PatchType, op.Patch = truce.JSONPatch, []byte(j.JSONPatch)
		default:
			return op, truce.Errorf(truce.CodeInvalidPatch, "a patch op needs \"mergePatch\" (RFC 7396) or \"jsonPatch\" (RFC 6902)")
		}
	}
	if op.Kind != truce.OpPatch && (j.MergePatch != nil || j.JSONPatch != nil) {
		return op, truce.Errorf(truce.CodeInvalidParameter, "only a patch op takes \"mergePatch\" or \"jsonPatch\"")
	}
	if (op.Kind == truce.OpPatch || op.Kind == truce.OpDelete || op.Kind == truce.OpCheck) && hasDoc {
		return op, truce.Errorf(truce.CodeInvalidParameter, "a %s op takes no \"document\"", op.Kind)
	}
	return op, nil
}

// encodeBatchAnswer is the truce.AnswerFunc of the transaction answers, so
// that a replayed Idempotency-Key gets the same bytes.
func encodeBatchAnswer(results []truce.OpResult) []byte {
	return encodeAnswer(http.StatusOK, "application/json", appendOpResults(nil, results))
}

// opResultStatus is the status an op's result carries: what the same
// request would have answered on its own.
func opResultStatus(r *truce.OpResult) int {
	switch {
	case r.Kind == truce.OpDelete:
		return http.StatusNoContent
	case r.Created:
		return http.StatusCreated
	}
	return http.StatusOK
}

// appendOpResults appends {"results":[{"status","etag","document"},…]}.
func appendOpResults(b []byte, results []truce.OpResult) []byte {
	b = append(b, `{"results":[`...)
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOpResult(b, &results[i])
	}
	return append(b, "]}"...)
}

func appendOpResult(b []byte, r *truce.OpResult) []byte {
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(opResultStatus(r)), 10)
	if d := r.Document; d != nil && !d.Deleted {
		b = append(b, `,"etag":`...)
		b = strconv.AppendQuote(b, d.ETag())
		b = append(b, `,"document":`...)
		b = d.AppendJSON(b)
	}
	if m := r.Merged; m != nil {
		b = append(b, `,"merged":{"base":`...)
		b = strconv.AppendInt(b, m.Base, 10)
		b = append(b, `,"current":`...)
		b = strconv.AppendInt(b, m.Current, 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// batchProblem answers a failed transaction of n ops (n < 0: as many as the
// error says). A *truce.OpError answers with the op's status and
// problem, plus failedOp and results, where that op has its status, code
// and problem and every other op 424 failed_dependency. A
// transaction_conflict lists the changed documents in changed. Anything
// else is a plain problem.
func (h *Handler) batchProblem(w http.ResponseWriter, r *http.Request, n int, err error) {
	var oe *truce.OpError
	var te *truce.Error
	if !errors.As(err, &te) {
		h.problem(w, r, err)
		return
	}
	var extra []byte
	switch {
	case errors.As(err, &oe):
		if n < 0 {
			n = oe.Total
		}
	case len(te.Changed) > 0:
		changed, jerr := json.Marshal(te.Changed)
		if jerr != nil {
			h.problem(w, r, jerr)
			return
		}
		extra = append(append([]byte(`,"changed":`), changed...), '}')
	default:
		h.problem(w, r, err)
		return
	}
	// The problem as every other answer has it, with the members added.
	pw := &problemWriter{header: http.Header{}}
	h.writeProblem(pw, r, w.Header().Get("X-Request-Id"), StatusOf(te.Code), te)
	own := bytes.TrimSpace(pw.body.Bytes())
	if len(own) < 2 || own[len(own)-1] != '}' {
		h.problem(w, r, err)
		return
	}
	noteCode(w, te.Code)
	if oe != nil {
		extra = append(extra, `,"failedOp":`...)
		extra = strconv.AppendInt(extra, int64(oe.Index), 10)
		extra = append(extra, `,"results":[`...)
		dep := `{"status":424,"code":"failed_dependency","detail":"not applied: op ` + strconv.Itoa(oe.Index) + ` failed, and a transaction is all or nothing"}`
		for i := range n {
			if i > 0 {
				extra = append(extra, ',')
			}
			if i != oe.Index {
				extra = append(extra, dep...)
				continue
			}
			extra = append(extra, `{"status":`...)
			extra = strconv.AppendInt(extra, int64(pw.status), 10)
			extra = append(extra, `,"code":`...)
			extra = strconv.AppendQuote(extra, string(te.Code))
			extra = append(extra, `,"problem":`...)
			extra = append(extra, own...)
			extra = append(extra, '}')
		}
		extra = append(extra, "]}"...)
	}
	body := append(own[:len(own)-1:len(own)-1], extra...)
	for k, vs := range pw.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(pw.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// problemWriter keeps an answer in memory.
type problemWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (p *problemWriter) Header() http.Header { return p.header }

func (p *problemWriter) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}

func (p *problemWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return p.body.Write(b)
}
