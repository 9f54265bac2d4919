package http

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/auth"
)

// Stream timing. DefaultHeartbeat is the longest silence on an event
// stream (docs/api.md: at least every 15 s); DefaultStreamWriteTimeout bounds
// each write to a stream, so a client that stops reading is cut off (it
// resumes from the last id it received) instead of holding its connection
// for ever.
const (
	DefaultHeartbeat          = 15 * time.Second
	DefaultStreamWriteTimeout = 30 * time.Second
	// streamFlushBytes bounds what an SSE stream holds for its client
	// beyond the feed's shared ring: it writes what it has before it
	// formats more. With the kernel's socket buffers, this is all the
	// memory a subscriber that stops reading holds until its write times
	// out (one event over it, when a document is larger).
	streamFlushBytes = 64 << 10
	// maxWait bounds ?wait= of a long poll.
	maxWait = 5 * time.Minute
	// streamBatch is how many events a stream takes from the feed at once.
	streamBatch = 256
)

// streams ends the handler's event streams and long polls when the server
// shuts down, which http.Server.Shutdown cannot do: it waits for them.
type streams struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newStreams() streams {
	ctx, cancel := context.WithCancel(context.Background())
	return streams{ctx: ctx, cancel: cancel}
}

// CloseStreams ends every open event stream and long poll, now and later:
// SSE and WebSocket subscribers see their stream end and resume elsewhere
// or after a restart from their last id; long polls answer at once. Call it
// when the server shuts down, e.g. with http.Server.RegisterOnShutdown.
func (h *Handler) CloseStreams() { h.streams.cancel() }

// streamContext is r's context, also ended by CloseStreams.
func (h *Handler) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(h.streams.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// feedQuery is what a feed request asks for.
type feedQuery struct {
	since    int64 // -1: from now (or the oldest event, for /v1/changes)
	filter   truce.FeedFilter
	document bool
}

// checkCollectionFilter refuses a collection= filter that cannot be a
// collection's name, which would match nothing.
func checkCollectionFilter(c string) error {
	if !truce.ValidCollectionName(c) {
		return truce.Errorf(truce.CodeInvalidCollection, "collection=%.80q is not a collection name", c)
	}
	return nil
}

// checkIDFilter refuses an id= filter that cannot be a document's id.
func checkIDFilter(id string) error {
	if !truce.ValidID(id) {
		return truce.Errorf(truce.CodeInvalidID, "id=%.80q is not a document id", id)
	}
	return nil
}

// parseFeedQuery reads collection, id, types, document and since (or the
// Last-Event-ID header, which wins: a browser's EventSource reconnects to
// the same URL with it).
func parseFeedQuery(r *http.Request, q url.Values) (*feedQuery, error) {
	fq := &feedQuery{since: -1, document: true}
	fq.filter.Collection = q.Get("collection")
	if q.Has("collection") {
		if err := checkCollectionFilter(fq.filter.Collection); err != nil {
			return nil, err
		}
	}
	if p := principalOf(r); fq.filter.Collection != "" {
		if err := mayRead(p, fq.filter.Collection); err != nil {
			return nil, err
		}
	} else if !p.ReadsAll() {
		fq.filter.Readable = p.CanRead
	}
	fq.filter.ID = q.Get("id")
	if q.Has("id") {
		if err := checkIDFilter(fq.filter.ID); err != nil {
			return nil, err
		}
		if fq.filter.Collection == "" {
			return nil, truce.Errorf(truce.CodeInvalidParameter, "id=%s needs collection= too: ids are unique within a collection", fq.filter.ID)
		}
	}
	if q.Has("types") {
		for t := range strings.SplitSeq(q.Get("types"), ",") {
			fq.filter.Types = append(fq.filter.Types, truce.EventType(strings.TrimSpace(t)))
		}
		if err := truce.ValidateEventTypes(fq.filter.Types); err != nil {
			return nil, err
		}
	}
	if q.Has("document") {
		b, err := strconv.ParseBool(q.Get("document"))
		if err != nil {
			return nil, truce.Errorf(truce.CodeInvalidParameter, "document=%.20q: use document=false to leave documents out of events, or true", q.Get("document"))
		}
		fq.document = b
	}
	if q.Has("since") {
		n, err := intParam(q, "since")
		if err != nil {
			return nil, err
		}
		fq.since = n
	}
	if v, ok := headerValue(r, "Last-Event-ID"); ok && v != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return nil, truce.Errorf(truce.CodeInvalidParameter, "Last-Event-ID %.40q is not an event id (a seq) this server gave out", v)
		}
		fq.since = n
	}
	return fq, nil
}

var feedParams = []string{"collection", "id", "types", "since", "document"}

// events serves GET /v1/events: server-sent events, or a WebSocket when the
// request asks to upgrade.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, feedParams...)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	fq, err := parseFeedQuery(r, q)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	sub, err := h.svc.Feed().Subscribe(r.Context(), fq.since, fq.filter)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	defer sub.Close()
	acc := h.watchAccess(r, sub)
	if isWebSocket(r) {
		h.eventsWebSocket(w, r, sub, acc, fq)
		return
	}
	fm := h.feedMetrics("sse")
	defer fm.close()
	ctx, cancel := h.streamContext(r)
	defer cancel()
	rc := http.NewResponseController(w)
	// The server's read timeout would end the request's context mid-stream.
	_ = rc.SetReadDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	// The stream opens with its position as an id-only message, and each
	// heartbeat repeats it: a client that resumes from the last id it saw
	// then neither misses events committed before its first one nor
	// rescans events its filter skipped.
	buf := appendPosition([]byte(": connected\n"), sub.Pos())
	send := func() bool {
		if len(buf) == 0 {
			return true
		}
		_ = rc.SetWriteDeadline(time.Now().Add(h.streamWriteTimeout))
		_, err := w.Write(buf)
		if err == nil {
			err = rc.Flush()
		}
		buf = buf[:0]
		if err != nil {
			// A client that stopped reading (or went away): its last id
			// is where it resumes. The next write could block for ever.
			if errors.Is(err, os.ErrDeadlineExceeded) {
				h.log.Info("event stream ended: the subscriber stopped reading", "requestId", w.Header().Get("X-Request-Id"),
					"pos", sub.Pos(), "writeTimeout", h.streamWriteTimeout)
			}
			return false
		}
		return true
	}
	for {
		if !send() {
			return
		}
		hctx, woke, hcancel := acc.waitContext(ctx, h.heartbeat)
		evs, err := sub.Next(hctx, streamBatch)
		hcancel()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded), err != nil && woke():
			buf = appendPosition(append(buf, ": heartbeat\n"...), sub.Pos())
		case err != nil:
			// Trimmed under a subscriber that fell too far behind, or the
			// store failed: end the stream; a resume from the last id says
			// which (410 events_expired, or it goes on).
			if truce.ErrorCode(err) != truce.CodeEventsExpired {
				h.log.Warn("event stream ended", "requestId", w.Header().Get("X-Request-Id"), "err", err)
			} else {
				fm.expired()
			}
			return
		}
		// With each batch and each heartbeat: a token revoked since ends
		// the stream (a resume gets 401).
		evs, ok := acc.check(sub, evs)
		if !ok {
			h.log.Info("event stream ended: its token was revoked", "requestId", w.Header().Get("X-Request-Id"), "token", acc.name)
			return
		}
		for _, e := range evs {
			if len(buf) >= streamFlushBytes && !send() {
				return
			}
			buf = appendSSE(buf, e, fq.document)
		}
		fm.delivered(evs)
	}
}

// appendPosition appends an id-only message: it moves a client's
// Last-Event-ID without dispatching an event.
func appendPosition(b []byte, pos int64) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, pos, 10)
	return append(b, "\n\n"...)
}

// appendSSE appends one event in the WHATWG event-stream format. The JSON
// has no line breaks, so it is one data line.
func appendSSE(b []byte, e *truce.FeedEvent, document bool) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, e.JSON(document)...)
	return append(b, "\n\n"...)
}

// changes serves GET /v1/changes: the events after since as a JSON page,
// waiting up to ?wait= for one when there is none.
func (h *Handler) changes(w http.ResponseWriter, r *http.Request) {
	q, err := query(r, append([]string{"limit", "wait"}, feedParams...)...)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	fq, err := parseFeedQuery(r, q)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	limit := int64(100)
	if q.Has("limit") {
		if limit, err = intParam(q, "limit"); err != nil {
			h.problem(w, r, err)
			return
		}
		if limit < 1 || limit > truce.MaxPageSize {
			h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter, "limit must be between 1 and %d, not %d", truce.MaxPageSize, limit))
			return
		}
	}
	var wait time.Duration
	if q.Has("wait") {
		wait, err = time.ParseDuration(q.Get("wait"))
		if err != nil || wait < 0 || wait > maxWait {
			h.problem(w, r, truce.Errorf(truce.CodeInvalidParameter, "wait=%.40q: give a duration from 0s to %s, e.g. wait=30s", q.Get("wait"), maxWait))
			return
		}
	}
	feed := h.svc.Feed()
	if fq.since < 0 {
		// A page without since starts at the oldest event the feed keeps.
		if fq.since, err = feed.OldestSeq(r.Context()); err != nil {
			h.problem(w, r, err)
			return
		}
	}
	sub, err := feed.Subscribe(r.Context(), fq.since, fq.filter)
	if err != nil {
		h.problem(w, r, err)
		return
	}
	defer sub.Close()
	acc := h.watchAccess(r, sub)
	evs, err := sub.Read(r.Context(), int(limit))
	if err == nil && len(evs) == 0 && wait > 0 {
		fm := h.feedMetrics("longpoll")
		defer fm.close()
		// The server's timeouts would cut a long wait short.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Now().Add(wait + h.streamWriteTimeout))
		ctx, cancel := h.streamContext(r)
		deadline := time.Now().Add(wait)
		for {
			wctx, woke, wcancel := acc.waitContext(ctx, time.Until(deadline))
			evs, err = sub.Next(wctx, int(limit))
			wcancel()
			if err == nil || !woke() {
				break
			}
			// The auth file was reloaded: a revoked token's poll ends
			// now (check below); another goes on waiting.
			if acc.look(); acc.p == nil {
				evs, err = nil, nil
				break
			}
		}
		cancel()
		if err != nil && ctx.Err() == nil && r.Context().Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = nil // waited in vain: an empty page
		} else if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
			err = nil // the server stops: an empty page
		}
	}
	if err != nil {
		h.problem(w, r, err)
		return
	}
	evs, ok := acc.check(sub, evs)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="truce"`)
		h.problem(w, r, &truce.Error{Code: truce.CodeUnauthorized,
			Detail: "the bearer token was revoked while this request ran; ask for a new one"})
		return
	}
	if h.metrics != nil && len(evs) > 0 {
		h.feedMetrics("").delivered(evs)
	}
	b := append(make([]byte, 0, 256), `{"items":[`...)
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.JSON(fq.document)...)
	}
	b = append(b, `],"last":`...)
	b = strconv.AppendInt(b, sub.Pos(), 10)
	b = append(b, '}')
	writeJSON(w, http.StatusOK, b)
}

// streamAccess keeps what an open change-feed stream delivers in step with
// the auth file, which may be reloaded under it (docs/api.md section 9: a token
// sees in the feed only the collections it may read, and a revoked token
// sees nothing). The stream looks its token up again in the Set that a
// reload made: it ends when the token is gone, and its filter follows the
// token's scopes now, so that a collection it may no longer read stops and
// one it may now read starts.
//
// Only the stream's goroutine, the one that reads its Subscription (whose
// filter calls canRead), uses a streamAccess, so it needs no lock. While
// the file is not reloaded it costs one pointer comparison per batch, and
// one per event of a token that reads only some collections.
type streamAccess struct {
	keeper *auth.Keeper
	name   string // the token's name, for the log
	// set is the Set that p was last looked up in; nil before the first
	// look, since a reload may have come after the request was admitted.
	set *auth.Set
	// p is the token's principal in set, nil once the token is gone.
	p *auth.Principal
	// filtered is the principal whose grants the subscription's filter
	// follows.
	filtered *auth.Principal
}

// watchAccess returns the streamAccess of a stream of r that reads sub,
// after giving sub its filter; nil without auth, where nothing changes.
func (h *Handler) watchAccess(r *http.Request, sub *truce.Subscription) *streamAccess {
	if h.auth == nil {
		return nil
	}
	p := principalOf(r)
	a := &streamAccess{keeper: h.auth, name: p.Name, p: p, filtered: p}
	sub.SetReadable(a.readable())
	return a
}

// readable is the Readable of a filter that follows p: nil when p reads
// every collection, where there is nothing to filter.
func (a *streamAccess) readable() func(collection string) bool {
	if a.p.ReadsAll() {
		return nil
	}
	return a.canRead
}

// look looks the token up again if the auth file was reloaded since it
// last did.
func (a *streamAccess) look() {
	if s := a.keeper.Set(); s != a.set {
		a.set = s
		if a.p != nil {
			a.p = s.Current(a.p)
		}
	}
}

// canRead is the filter of a token that reads only some collections: it
// asks the Set of the last reload, so that an event the subscription
// reads after a reload passes or not by the grants of then.
func (a *streamAccess) canRead(collection string) bool {
	a.look()
	return a.p != nil && a.p.CanRead(collection)
}

// check takes each batch of events the subscription returns, and each
// heartbeat (no events), before they are sent. It reports false when the
// token is gone: the stream must end and send nothing more. Else, if a
// reload changed the token's principal since the filter was set, it gives
// sub the filter of the grants of now and keeps of evs only what passes
// it: a batch read before the reload was seen may hold events the token
// may no longer read.
func (a *streamAccess) check(sub *truce.Subscription, evs []*truce.FeedEvent) ([]*truce.FeedEvent, bool) {
	if a == nil {
		return evs, true
	}
	a.look()
	if a.p == a.filtered {
		return evs, true
	}
	if a.p == nil {
		return nil, false
	}
	a.filtered = a.p
	sub.SetReadable(a.readable())
	return slices.DeleteFunc(evs, func(e *truce.FeedEvent) bool { return !sub.Match(e) }), true
}

// waitContext is the context of one wait of a stream for events: it ends
// after d, or when ctx ends, or, with auth, when the auth file is
// reloaded, so that a revoked token's stream ends at once rather than at
// its next heartbeat. woke reports whether a reload ended it.
func (a *streamAccess) waitContext(ctx context.Context, d time.Duration) (wctx context.Context, woke func() bool, cancel context.CancelFunc) {
	wctx, wcancel := context.WithTimeout(ctx, d)
	if a == nil {
		return wctx, func() bool { return false }, wcancel
	}
	reload := a.keeper.NextReload()
	stop := context.AfterFunc(reload, wcancel)
	return wctx, func() bool { return reload.Err() != nil && ctx.Err() == nil }, func() { stop(); wcancel() }
}
