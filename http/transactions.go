package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trucedb/truce"
)

// TransactionHeader names the interactive transaction a document request belongs
// to.
const TransactionHeader = "Truce-Transaction"

// transactionMux builds the mux of the document requests that carry
// Truce-Transaction (the batch and transaction routes are in routeTable).
func (h *Handler) transactionMux() *http.ServeMux {
	t := http.NewServeMux()
	h.register(t, h.transactionRouteTable())
	t.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter,
			"%s applies to document reads and writes (GET, POST, PUT, PATCH, DELETE under /v1/collections/{c}/docs); send this request without it", TransactionHeader))
	})
	return t
}

// handlerFor routes a document request that names a transaction to the
// transaction's routes, and everything else to the main ones.
func (h *Handler) handlerFor(r *http.Request) http.Handler {
	if _, ok := r.Header[TransactionHeader]; ok && strings.HasPrefix(r.URL.Path, "/v1/collections/") {
		return h.txmux
	}
	return h.mux
}

func (h *Handler) beginTransaction(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	var req struct {
		TTL string `json:"ttl"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := strictJSON(body, &req); err != nil {
			h.problem(w, r, truce.Errorf(truce.CodeInvalidJSON, "the body must be {\"ttl\": \"60s\"} or empty: %v", err))
			return
		}
	}
	var ttl time.Duration
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl <= 0 {
			h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter, "ttl %.40q is not a positive duration such as \"60s\" or \"2m\"", req.TTL))
			return
		}
	}
	t, err := h.svc.BeginTransaction(r.Context(), ttl, answerKey(w), encodeBegin)
	answered(w, err)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/transactions/"+t.ID)
	writeJSON(w, http.StatusCreated, beginBody(t))
}

// beginBody is the body of the answer to POST /v1/transactions.
func beginBody(t *truce.Transaction) []byte {
	b := append([]byte(`{"id":"`), t.ID...)
	b = append(b, `","expiresAt":"`...)
	b = truce.AppendTime(b, t.ExpiresAt)
	return append(b, `"}`...)
}

// encodeBegin is the stored answer to POST /v1/transactions.
func encodeBegin(t *truce.Transaction) []byte {
	return encodeAnswer(http.StatusCreated, "application/json", beginBody(t))
}

// encodeStaged is the stored answer to a staged write: 202 with the
// document it would write.
func encodeStaged(res []truce.OpResult) []byte {
	return encodeAnswer(http.StatusAccepted, "application/json", res[0].Document.JSON())
}

func (h *Handler) commitTransaction(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	results, err := h.svc.CommitTransaction(r.Context(), r.PathValue("tid"), answerKey(w), encodeBatchAnswer)
	answered(w, err)
	h.countTransaction("interactive", len(results), err)
	if err != nil {
		h.batchProblem(w, r, -1, err)
		return
	}
	h.countMerges(r, results, nil)
	writeJSON(w, http.StatusOK, appendOpResults(nil, results))
}

func (h *Handler) rollbackTransaction(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	if err := h.svc.RollbackTransaction(r.Context(), r.PathValue("tid")); err != nil {
		h.problem(w, r, err)
		return
	}
	if h.metrics != nil {
		h.metrics.transactions.WithLabelValues("interactive", "rolled_back").Inc()
	}
	w.WriteHeader(http.StatusNoContent)
}

// transactionGetDoc serves a GET or HEAD in a transaction: the transaction's staged
// version (200 without an ETag, which only a commit gives, and with
// Truce-Staged: true), or the committed one as a plain GET answers it.
func (h *Handler) transactionGetDoc(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		h.problem(w, r, err)
		return
	}
	d, staged, err := h.svc.TransactionGet(r.Context(), r.Header.Get(TransactionHeader), r.PathValue("c"), r.PathValue("id"))
	if err != nil {
		h.batchProblem(w, r, -1, err)
		return
	}
	if staged {
		w.Header().Set("Truce-Staged", "true")
		writeJSON(w, http.StatusOK, d.JSON())
		return
	}
	writeDocument(w, r, http.StatusOK, d)
}

func (h *Handler) transactionCreateDoc(w http.ResponseWriter, r *http.Request) {
	body, err := h.jsonRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	h.stage(w, r, truce.Op{Kind: truce.OpCreate, Collection: r.PathValue("c"), Document: body})
}

func (h *Handler) transactionPutDoc(w http.ResponseWriter, r *http.Request) {
	pre, body, err := h.conditionalJSON(w, r, "version")
	if err != nil {
		h.problem(w, r, err)
		return
	}
	h.stage(w, r, truce.Op{Kind: truce.OpPut, Collection: r.PathValue("c"), ID: r.PathValue("id"), Pre: pre, Document: body})
}

func (h *Handler) transactionPatchDoc(w http.ResponseWriter, r *http.Request) {
	pre, typ, body, err := h.patchRequest(w, r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	h.stage(w, r, truce.Op{Kind: truce.OpPatch, Collection: r.PathValue("c"), ID: r.PathValue("id"), Pre: pre,
		PatchType: typ, Patch: body})
}

func (h *Handler) transactionDeleteDoc(w http.ResponseWriter, r *http.Request) {
	pre, err := writePreconditions(r)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	h.stage(w, r, truce.Op{Kind: truce.OpDelete, Collection: r.PathValue("c"), ID: r.PathValue("id"), Pre: pre})
}

// stage stages op in the request's transaction and answers 202 with the
// document it would write (the tombstone of a delete), without an ETag:
// the version only gets one when the transaction commits.
func (h *Handler) stage(w http.ResponseWriter, r *http.Request, op truce.Op) {
	op.Pre.LockToken, _ = headerValue(r, "Lock-Token")
	res, err := h.svc.TransactionWrite(r.Context(), r.Header.Get(TransactionHeader), op, answerKey(w), encodeStaged)
	answered(w, err)
	if err != nil {
		h.batchProblem(w, r, -1, err)
		return
	}
	hd := w.Header()
	hd.Set("Truce-Staged", "true")
	if res.Merged != nil {
		hd.Set("Truce-Merged", "base="+strconv.FormatInt(res.Merged.Base, 10)+", current="+strconv.FormatInt(res.Merged.Current, 10))
	}
	writeJSON(w, http.StatusAccepted, res.Document.JSON())
}
