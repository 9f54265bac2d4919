package http

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/trucedb/truce/auth"
)

// done counts the request that rw answered and writes its access log line.
func (h *Handler) done(rw *responseWriter, start time.Time) {
	d := time.Since(start)
	r := rw.r
	status := rw.status
	if status == 0 {
		// A handler that wrote nothing answered 200; a hijacked connection
		// (a WebSocket) has no status of its own here.
		status = http.StatusOK
	}
	pattern := r.Pattern
	if pattern == "" {
		// Refused before routing (401, 429, a malformed path), or no route.
		mux := h.mux
		if h.handlerFor(r) == h.txmux {
			mux = h.txmux
		}
		_, pattern = mux.Handler(r)
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		// Traced (truce serve with OTEL_EXPORTER_OTLP_ENDPOINT): name the
		// request's span by its route, as the metrics do.
		_, route, _ := strings.Cut(pattern, " ")
		if route == "" {
			route = unmatchedRoute
		}
		span.SetName(r.Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.String("truce.code", string(rw.code)))
	}
	if h.metrics != nil {
		h.metrics.inflight.Dec()
		rm := h.routeMetrics[pattern]
		if rm == nil {
			rm = h.unmatched
		}
		rm.observe(r.Method, status, d, rw.body.n, rw.out)
	}
	if h.accessLog {
		_, route, _ := strings.Cut(pattern, " ")
		if route == "" {
			route = unmatchedRoute
		}
		caller := ""
		if p, ok := r.Context().Value(principalKey{}).(*auth.Principal); ok {
			caller = p.Name
		}
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("requestId", rw.rid),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.String("code", string(rw.code)),
			slog.Duration("duration", d),
			slog.String("caller", caller),
			slog.String("collection", r.PathValue("c")),
			slog.String("id", r.PathValue("id")),
			slog.Int64("bytesIn", rw.body.n),
			slog.Int64("bytesOut", rw.out),
		)
	}
}
