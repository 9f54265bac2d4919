package http

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/trucedb/truce"
)

// StatusEventsExpired is the WebSocket close code (in the range for
// applications) of a stream whose subscriber fell behind the retained log:
// a resume from its last seq would be 410 events_expired.
const StatusEventsExpired websocket.StatusCode = 4410

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	for v := range strings.SplitSeq(r.Header.Get("Connection"), ",") {
		if strings.EqualFold(strings.TrimSpace(v), "upgrade") {
			return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		}
	}
	return false
}

// eventsWebSocket serves the feed over a WebSocket: one text message per
// event, the same JSON as an SSE event's data; pings as heartbeats.
// Messages from the client are read and ignored.
func (h *Handler) eventsWebSocket(w http.ResponseWriter, r *http.Request, sub *truce.Subscription, acc *streamAccess, fq *feedQuery) {
	// The connection outlives the server's timeouts; clear them before the
	// handshake takes it over.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	fm := h.feedMetrics("websocket")
	defer fm.close()
	ctx, cancel := h.streamContext(r)
	defer cancel()
	// CloseRead's context must not end with the stream's: a read whose
	// context ends closes the connection at once, without a close frame.
	peerGone := c.CloseRead(context.Background())
	defer context.AfterFunc(peerGone, cancel)()
	// Writes and pings are bounded by the write timeout alone: the library
	// drops the connection without a close frame when a write's context
	// ends mid-write. A shutdown closes the connection as going away, at
	// once and with the frame, which also ends a wait for a pong.
	defer context.AfterFunc(h.streams.ctx, func() { h.goingAway(c) })()
	for {
		hctx, woke, hcancel := acc.waitContext(ctx, h.heartbeat)
		evs, err := sub.Next(hctx, streamBatch)
		hcancel()
		if err != nil && woke() {
			err = context.DeadlineExceeded // a reload: look at the token, and ping as on a heartbeat
		}
		if h.goingAway(c) {
			return
		}
		// With each batch and each heartbeat: a token revoked since ends
		// the stream, as a policy violation (a new request gets 401).
		evs, ok := acc.check(sub, evs)
		if !ok {
			h.log.Info("event stream ended: its token was revoked", "requestId", w.Header().Get("X-Request-Id"), "token", acc.name)
			c.Close(websocket.StatusPolicyViolation, "the token was revoked")
			return
		}
		switch {
		case ctx.Err() != nil:
			// The shutdown may have begun since goingAway looked.
			h.goingAway(c)
			return
		case errors.Is(err, context.DeadlineExceeded):
			pctx, pcancel := context.WithTimeout(context.Background(), h.streamWriteTimeout)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				// A shutdown ends the wait for the pong; say so.
				h.goingAway(c)
				return
			}
			continue
		case truce.ErrorCode(err) == truce.CodeEventsExpired:
			fm.expired()
			c.Close(StatusEventsExpired, "events_expired")
			return
		case err != nil:
			h.log.Warn("event stream ended", "requestId", w.Header().Get("X-Request-Id"), "err", err)
			c.Close(websocket.StatusTryAgainLater, "the store failed; resume from your last seq")
			return
		}
		fm.delivered(evs)
		for _, e := range evs {
			wctx, wcancel := context.WithTimeout(context.Background(), h.streamWriteTimeout)
			err := c.Write(wctx, websocket.MessageText, e.JSON(fq.document))
			wcancel()
			if err != nil {
				h.goingAway(c)
				return
			}
		}
	}
}

// goingAway closes c as going away, with a close frame that tells the
// subscriber to resume, if the server is shutting down, and reports
// whether it did.
func (h *Handler) goingAway(c *websocket.Conn) bool {
	if h.streams.ctx.Err() == nil {
		return false
	}
	c.Close(websocket.StatusGoingAway, "the server is shutting down; resume from your last seq")
	return true
}
