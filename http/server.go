// Package http is truce's HTTP front door: it routes requests (the standard
// library's ServeMux), decodes them, evaluates nothing but their syntax, calls
// the truce.Service, and writes the answer — documents with ETag and
// Last-Modified, or RFC 9457 problem details with a stable code. It
// translates; the Service decides.
package http

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
	"github.com/trucedb/truce/internal/admit"
)

// Options configures a Handler. The zero value is usable.
type Options struct {
	// Logger receives request and error logs; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies; 0 means the service's document
	// limit plus 64 KiB for whitespace and reserved fields.
	MaxBodyBytes int64
	// MaxTxBodyBytes limits the body of POST /v1/tx, as given (it may be
	// smaller than MaxBodyBytes: transactions of small documents only); 0
	// means DefaultMaxBatchBytes, or MaxBodyBytes if that is larger.
	MaxTxBodyBytes int64
	// Heartbeat is the longest silence on an event stream before a
	// heartbeat; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// StreamWriteTimeout bounds each write to an event stream (SSE and
	// WebSocket): a subscriber that stops reading is disconnected once
	// its socket buffers are full for that long, and resumes from the
	// last event id it received. 0 means DefaultStreamWriteTimeout.
	StreamWriteTimeout time.Duration
	// Auth holds the tokens the server accepts. Nil means no
	// authentication: every client may do everything, known by its
	// address (serve only on loopback, or a network you trust).
	Auth *auth.Keeper
	// RateLimit and Burst are the token bucket of each caller whose token
	// names no rate of its own: RateLimit requests a second, Burst at once
	// (0: two seconds' worth). Zero or rate.Inf means no rate limits, but
	// for tokens that name a rate. truce serve's default is 1000/s, with
	// a burst of 2000.
	RateLimit rate.Limit
	Burst     int
	// Metrics, when not nil, counts what the Handler serves and is served
	// at GET /metrics to admin tokens. Nil means no metrics, at no cost.
	Metrics *Metrics
	// AccessLog logs one line per request at the info level to Logger:
	// request id, route, status, code, duration, caller, collection,
	// document id and bytes.
	AccessLog bool
	// Console, when not nil, holds the web console's files (package web's
	// Console), served at /ui/ to anyone: the page asks for a token itself
	// and calls the public API only, whose routes check it. Nil means no
	// console: /ui/ answers 404.
	Console fs.FS
	// MaxInflight caps the requests served at once; past it a request is
	// answered at once with 503 overloaded and Retry-After instead of
	// queueing (inflight.go). Zero means no cap. The probes, /metrics, the
	// problem pages and the change feed's long-lived requests are not
	// counted.
	MaxInflight int
	// AdaptiveInflight lowers the limit on requests in flight below
	// MaxInflight while the server's CPU cannot keep up (the Go scheduler
	// leaves ready goroutines waiting), and raises it back when it can,
	// so that admitted requests keep their latency at several times the
	// load the server can take (inflight.go). The handler adapts only
	// while Run runs.
	AdaptiveInflight bool
	// CORSOrigins are the origins (scheme://host[:port], or "*" for any)
	// whose pages may call the API from a browser (cors.go); none by
	// default. Check each with CheckCORSOrigin.
	CORSOrigins []string
}

// Handler serves the truce HTTP API (docs/api.md). Mount it at the root of a
// server or of a mux; it is safe for concurrent use.
type Handler struct {
	svc     *truce.Service
	log     *slog.Logger
	mux     *http.ServeMux
	maxBody int64
	idBase  string
	idSeq   atomic.Uint64

	// maxTxBody limits the body of a batch transaction.
	maxTxBody int64
	// txmux routes the document requests of an interactive transaction.
	txmux *http.ServeMux
	// heartbeat and streams serve the change feed (events.go).
	heartbeat          time.Duration
	streamWriteTimeout time.Duration
	streams            streams

	// auth, when not nil, holds the tokens (access.go); limits holds each
	// caller's bucket; rate and burst are the server's, rate.Inf for none.
	auth   *auth.Keeper
	limits *limiters
	// publicPaths and publicPrefixes are where the public routes are.
	publicPaths, publicPrefixes []string
	rate                        rate.Limit
	burst                       int

	// metrics, when not nil, is where requests are counted; routeMetrics
	// holds each pattern's children of it, unmatched those of requests
	// that matched no route. accessLog logs each request.
	metrics      *Metrics
	routeMetrics map[string]*routeMetrics
	unmatched    *routeMetrics
	accessLog    bool

	// console holds the console's files (console.go), or is nil.
	console fs.FS
	// admission counts the requests that count against --max-inflight
	// and holds the limit on them.
	admission  *admit.Limiter
	shedAnswer shedAnswer // the 503 past the limit, rendered once
	// corsOrigins are the origins given CORS headers (cors.go).
	corsOrigins []string
}

// NewHandler returns the HTTP handler of svc.
func NewHandler(svc *truce.Service, opts Options) *Handler {
	h := &Handler{svc: svc, log: opts.Logger, mux: http.NewServeMux(), maxBody: opts.MaxBodyBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = int64(svc.MaxDocBytes()) + 64<<10
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	h.idBase = hex.EncodeToString(b[:]) + "-"
	h.maxTxBody = opts.MaxTxBodyBytes
	if h.maxTxBody <= 0 {
		h.maxTxBody = max(DefaultMaxBatchBytes, h.maxBody)
	}
	h.heartbeat, h.streams = opts.Heartbeat, newStreams()
	if h.heartbeat <= 0 {
		h.heartbeat = DefaultHeartbeat
	}
	h.streamWriteTimeout = opts.StreamWriteTimeout
	if h.streamWriteTimeout <= 0 {
		h.streamWriteTimeout = DefaultStreamWriteTimeout
	}
	h.auth, h.rate, h.burst = opts.Auth, opts.RateLimit, opts.Burst
	if h.rate <= 0 {
		h.rate = rate.Inf
	}
	if h.burst <= 0 {
		h.burst = auth.BurstFor(h.rate)
	}
	h.limits = newLimiters()
	h.metrics, h.accessLog = opts.Metrics, opts.AccessLog
	h.console = opts.Console
	h.admission = h.newAdmission(int64(max(opts.MaxInflight, 0)), opts.AdaptiveInflight)
	h.shedAnswer = newShedAnswer(h.admission.Max(), opts.AdaptiveInflight)
	h.corsOrigins = slices.Clone(opts.CORSOrigins)
	h.txmux = h.transactionMux()
	h.register(h.mux, h.routeTable())
	if h.metrics != nil {
		h.routeMetrics = map[string]*routeMetrics{}
		for _, rt := range append(h.routeTable(), h.transactionRouteTable()...) {
			h.routeMetrics[rt.pattern] = h.metrics.route(rt.pattern)
		}
		h.unmatched = h.metrics.route(unmatchedRoute)
		h.metrics.watchService(svc)
	}
	return h
}

// ServeHTTP tags the request with an id, refuses dot segments, recovers
// from panics, turns the mux's own 404 and 405 answers into problems, and
// counts and logs the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get("X-Request-Id")
	if !validRequestID(rid) {
		rid = h.idBase + strconv.FormatUint(h.idSeq.Add(1), 36)
	}
	w.Header().Set("X-Request-Id", rid)
	rw := &responseWriter{ResponseWriter: w, rid: rid, h: h, r: r}
	observed := h.metrics != nil || h.accessLog || trace.SpanFromContext(r.Context()).IsRecording()
	if observed {
		if r.Body != nil && r.Body != http.NoBody {
			// Count the body's bytes as handlers read them; the caller
			// gets its request back as it was.
			orig, body := r, r.Body
			rw.body.ReadCloser = body
			r.Body = &rw.body
			defer func() { orig.Body = body }()
		}
		if h.metrics != nil {
			h.metrics.inflight.Inc()
		}
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				h.done(rw, start)
				panic(p)
			}
			h.log.Error("panic serving request", "requestId", rid, "method", r.Method, "path", r.URL.Path, "panic", p)
			if !rw.wrote {
				h.problem(rw, rw.r, truce.Errorf(truce.CodeInternal, "internal error"))
			}
		}
		if observed {
			h.done(rw, start)
		} else if h.log.Enabled(r.Context(), slog.LevelDebug) { // spare the hot path the boxing of the attributes
			h.log.Debug("request", "requestId", rid, "method", r.Method, "path", r.URL.Path,
				"status", rw.status, "duration", time.Since(start))
		}
	}()
	if h.cors(rw, r) {
		return
	}
	if h.admission.Max() > 0 && !exemptFromInflight(r) {
		if !h.admission.Enter() {
			h.shed(rw, r)
			return
		}
		defer h.admission.Leave()
	}
	if hasDotSegment(r.URL.EscapedPath()) {
		h.problem(rw, r, truce.Errorf(truce.CodeInvalidID, "the path %.100q has a . or .. segment; ids and names cannot be . or ..", r.URL.EscapedPath()))
		return
	}
	if strings.Contains(r.URL.Path, "//") {
		// The mux would answer 307 with the cleaned path, turning a write
		// to a malformed id (say "/x" sent as %2Fx) into one to another.
		h.problem(rw, r, truce.Errorf(truce.CodeInvalidID, "the path %.100q has an empty segment (or an encoded / next to a /); ids and names are never empty and never contain /", r.URL.EscapedPath()))
		return
	}
	if !h.isPublic(r.URL.Path) {
		admitted, ok := h.admit(rw, r)
		if !ok {
			return
		}
		r = admitted
		rw.r = r
	}
	h.handlerFor(r).ServeHTTP(rw, r)
}

func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") ||
			strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return true
		}
	}
	return false
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// responseWriter records the status and, for the mux's built-in answers,
// replaces the plain-text body with a problem.
type responseWriter struct {
	http.ResponseWriter
	h *Handler
	// r is the request as admitted: after routing it has its pattern and
	// path values.
	r       *http.Request
	rid     string
	status  int
	wrote   bool
	swallow bool
	// code is the problem code of the answer, if it is a problem; out
	// counts the body's bytes, body the request's (when observed).
	code truce.Code
	out  int64
	body countingBody
}

// countingBody counts the bytes read of a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

func (w *responseWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote, w.status = true, status
	// The mux's own 404 and 405 answers are plain text: keep their status
	// and headers (Allow), but speak problem+json.
	if (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) &&
		w.Header().Get("Content-Type") != "application/problem+json" {
		w.swallow = true
		w.Header().Del("X-Content-Type-Options")
		code := truce.CodeNotFound
		detail := "no such resource: " + w.r.URL.Path + " (every route is listed in GET /v1/openapi.json and in docs/api.md)"
		if status == http.StatusMethodNotAllowed {
			code = truce.CodeMethodNotAllowed
			detail = w.r.Method + " is not allowed on " + w.r.URL.Path + "; allowed: " + w.Header().Get("Allow")
		}
		w.code = code
		w.h.writeProblem(w.ResponseWriter, w.r, w.rid, status, &truce.Error{Code: code, Detail: detail})
		return
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	n, err := w.ResponseWriter.Write(b)
	w.out += int64(n)
	return n, err
}

// noteCode records the problem code of the answer on w, if w is (or
// wraps) the Handler's responseWriter.
func noteCode(w http.ResponseWriter, code truce.Code) {
	for {
		switch x := w.(type) {
		case *responseWriter:
			x.code = code
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NewServer returns an http.Server for h with timeouts that keep a slow or
// idle client from holding a connection: 10 s to send the headers, 60 s for
// the whole request, 60 s to take the answer, 2 min idle between requests.
func NewServer(h http.Handler) *http.Server {
	// HTTP/1.1, HTTP/2 over TLS, and HTTP/2 without TLS (h2c, "prior
	// knowledge": a client that starts with the HTTP/2 preface) on one
	// listener: many clients' requests then share a connection.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		Protocols:         &protocols,
	}
}

// indexBody is the answer of GET /: where a person or a program that
// found the server goes next. Every link is a path of this server, but
// for the documentation. consoleIndexBody is the same with the link to
// the web console, for a server that serves it.
var (
	indexBody        = []byte(`{"name":"truce","api":"/v1","links":{` + indexLinks + `}}`)
	consoleIndexBody = []byte(`{"name":"truce","api":"/v1","links":{` + indexLinks + `,"console":"/ui/"}}`)
)

const indexLinks = `"openapi":"/v1/openapi.json",` +
	`"collections":"/v1/collections",` +
	`"healthz":"/healthz",` +
	`"readyz":"/readyz",` +
	`"metrics":"/metrics",` +
	`"docs":"https://github.com/trucedb/truce#readme",` +
	`"reference":"https://github.com/trucedb/truce/blob/main/docs/api.md"`

// index serves GET /, public as /healthz is: it says what the server is
// and links to the rest, so that a first request is not a bare 404.
func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	if h.console != nil {
		writeJSON(w, http.StatusOK, consoleIndexBody)
		return
	}
	writeJSON(w, http.StatusOK, indexBody)
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Ready(r.Context()); err != nil {
		h.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
}

// writeJSON answers with status and body, a JSON value. It returns the
// error of Write, which a caller may ignore: the client is gone then.
func writeJSON(w http.ResponseWriter, status int, body []byte) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}
