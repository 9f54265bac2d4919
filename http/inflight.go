package http

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trucedb/truce"
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

// enter takes a place among the requests in flight, if one is free.
func (h *Handler) enter() bool {
	if h.inflight.Add(1) > h.maxInflight {
		h.inflight.Add(-1)
		return false
	}
	return true
}

// shed answers r with 503 overloaded: nothing was done, retry later.
func (h *Handler) shed(w http.ResponseWriter, r *http.Request) {
	if h.metrics != nil {
		h.metrics.overloaded.Inc()
	}
	h.problem(w, r, &truce.Error{Code: truce.CodeOverloaded, RetryAfter: inflightRetryAfter,
		Detail: "the server is serving as many requests as it takes at once (--max-inflight " +
			strconv.FormatInt(h.maxInflight, 10) + "); nothing was done: retry after Retry-After"})
}
