package http

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/internal/admit"
)

// inflightRetryAfter is the Retry-After of an overloaded answer: long
// enough for the requests in flight to end, short enough that a client
// that obeys it is not idle for long.
const inflightRetryAfter = time.Second

// exemptFromInflight reports whether r is served past --max-inflight: the
// probes and /metrics, which must answer most when the server is busiest
// (a load balancer that sees /healthz fail takes the node out, a shed
// scrape hides the overload from the operator); the problem pages; and the
// change feed's long-lived requests (GET /v1/events, as SSE or WebSocket,
// and a /v1/changes long poll with wait), which idle most of their life,
// cost a goroutine and no store work while they wait, and would otherwise
// fill the cap with subscribers and shed every write. Streams are bounded
// by connections instead (LimitListener), and ended when their client
// stops reading (Options.StreamWriteTimeout).
func exemptFromInflight(r *http.Request) bool {
	switch p := r.URL.Path; {
	case p == "/healthz", p == "/readyz", p == "/metrics", p == "/v1/events":
		return true
	case strings.HasPrefix(p, "/problems/"):
		return true
	case p == "/v1/changes":
		w := r.URL.Query().Get("wait")
		return w != "" && w != "0" && w != "0s"
	}
	return false
}

// newAdmission returns the limit on requests in flight: maxInflight (0:
// none), lowered while the server is congested if adaptive. The limit is
// a gauge of the metrics, if any.
func (h *Handler) newAdmission(maxInflight int64, adaptive bool) *admit.Limiter {
	o := admit.Options{Max: maxInflight, Adaptive: adaptive}
	if h.metrics != nil && maxInflight > 0 {
		g := h.metrics.inflightLimit
		g.Set(float64(maxInflight))
		o.OnChange = func(n int64) { g.Set(float64(n)) }
	}
	return admit.New(o)
}

// Run adapts the limit on requests in flight (Options.AdaptiveInflight)
// until ctx ends; it returns at once if there is nothing to adapt.
func (h *Handler) Run(ctx context.Context) {
	h.admission.Run(ctx)
}

// shed answers r with 503 overloaded: nothing was done, retry later. At
// several times the load the server can take, most answers are these, and
// the CPU each one costs is taken from the admitted requests on the same
// cores; so the problem is rendered once (shedAnswer) and only the
// instance and the request id are filled in here, instead of encoding a
// Problem for each. The answer is the same as writeProblem's.
func (h *Handler) shed(w http.ResponseWriter, r *http.Request) {
	if h.metrics != nil {
		h.metrics.overloaded.Inc()
	}
	noteCode(w, truce.CodeOverloaded)
	hd := w.Header()
	rid := hd.Get("X-Request-Id")
	a := h.shedAnswer
	body := make([]byte, 0, len(a.head)+len(a.mid)+len(r.URL.Path)+len(rid)+8)
	body = appendJSONString(append(body, a.head...), r.URL.Path)
	body = appendJSONString(append(body, a.mid...), rid)
	body = append(body, a.tail...)
	hd["Content-Type"] = []string{"application/problem+json"}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	hd["Retry-After"] = []string{a.retryAfter}
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// shedAnswer is the overloaded problem cut around its two members that
// differ per request: head ends with "instance":, mid runs from the
// instance's end to "requestId":, tail closes the object.
type shedAnswer struct {
	head, mid, tail []byte
	retryAfter      string
}

// newShedAnswer renders the overloaded problem of a server whose cap is
// maxInflight, lowered while congested if adaptive.
func newShedAnswer(maxInflight int64, adaptive bool) shedAnswer {
	limit := "(--max-inflight " + strconv.FormatInt(maxInflight, 10) + ")"
	if adaptive {
		limit = "(at most --max-inflight " + strconv.FormatInt(maxInflight, 10) + ", fewer while its CPU cannot keep up)"
	}
	te := &truce.Error{Code: truce.CodeOverloaded, RetryAfter: inflightRetryAfter,
		Detail: "the server is serving as many requests as it takes at once " + limit + "; nothing was done: retry after Retry-After"}
	const instance, rid = "\x00instance\x00", "\x00rid\x00"
	p := Problem{Type: "/problems/" + problemName(te.Code), Title: problemTypeOf(te.Code).title, Status: StatusOf(te.Code),
		Detail: te.Detail, Instance: instance, Code: string(te.Code), Retryable: te.Code.Retryable(), RequestID: rid}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // strings, an int and a bool
	}
	qi, _ := json.Marshal(instance)
	qr, _ := json.Marshal(rid)
	i, j := bytes.Index(b, qi), bytes.Index(b, qr)
	return shedAnswer{head: b[:i], mid: b[i+len(qi) : j], tail: b[j+len(qr):],
		retryAfter: strconv.FormatInt(int64((te.RetryAfter+time.Second-1)/time.Second), 10)}
}

// appendJSONString appends s as a JSON string, as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // escapes; rare in a path
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
