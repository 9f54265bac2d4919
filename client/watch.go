package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is one event of the change feed (docs/api.md section 8).
type Event struct {
	// Seq orders the feed; resume after it with WatchFilter.Since.
	Seq        int64     `json:"seq"`
	Type       string    `json:"type"`
	Collection string    `json:"collection"`
	ID         string    `json:"id"`
	Version    int64     `json:"version"`
	ETag       string    `json:"etag"`
	Time       time.Time `json:"time"`
	// Document is the document after a created or updated event, unless
	// the watch asked for none (WatchFilter.NoDocument).
	Document json.RawMessage `json:"document,omitempty"`
	// ConflictID names the conflict of a conflict.* event.
	ConflictID string `json:"conflictId,omitempty"`
	// Raw is the event's whole JSON, with the fields of lock and
	// transaction events that have no field here.
	Raw json.RawMessage `json:"-"`
}

// WatchFilter says which events Watch delivers, and from where.
type WatchFilter struct {
	// Collection and ID select one collection, or one document of it.
	Collection string
	ID         string
	// Types lists the event types wanted ("document.updated", …); empty
	// means all.
	Types []string
	// Since resumes after the event with this seq. 0 starts from now,
	// unless FromStart is set.
	Since int64
	// FromStart delivers every event the server still keeps (since=0).
	FromStart bool
	// NoDocument leaves the documents out of document events.
	NoDocument bool
}

// watchIdle is how long a watch waits without hearing from the server
// (which sends a heartbeat at least every 15 s) before it reconnects.
const watchIdle = 45 * time.Second

// Watch follows the change feed over server-sent events. The iterator
// yields each event once, in order; when the connection drops it
// reconnects with backoff and resumes after the last event it yielded (or,
// before the first event, from the position the server gave when it
// connected), so nothing is lost or repeated. It stops, yielding the error
// last, when ctx ends or on an answer that retrying cannot change: a
// position the server no longer keeps is an *Error with code
// CodeEventsExpired (IsEventsExpired), after which the caller re-reads what
// it follows and watches again from now.
func (c *Client) Watch(ctx context.Context, f WatchFilter) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		w := &watch{c: c, f: f, pos: f.Since, hasPos: f.Since > 0 || f.FromStart}
		p := c.policy.withDefaults()
		for attempt := 1; ; attempt++ {
			progressed, stopped, err := w.stream(ctx, yield)
			if stopped {
				return
			}
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
			var e *Error
			if errors.As(err, &e) && !e.retryWorthy() {
				yield(nil, err)
				return
			}
			if progressed {
				attempt = 1
			}
			wait := c.backoff(attempt, p)
			if e != nil && e.RetryAfter > 0 {
				wait = e.RetryAfter
			}
			if c.sleep(ctx, wait) != nil {
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// IsEventsExpired reports whether err says that the position a watch or a
// changes page resumes from is older than the server keeps.
func IsEventsExpired(err error) bool { return Code(err) == CodeEventsExpired }

type watch struct {
	c      *Client
	f      WatchFilter
	pos    int64
	hasPos bool
}

func (w *watch) query() url.Values {
	q := url.Values{}
	if w.f.Collection != "" {
		q.Set("collection", w.f.Collection)
	}
	if w.f.ID != "" {
		q.Set("id", w.f.ID)
	}
	if len(w.f.Types) > 0 {
		q.Set("types", strings.Join(w.f.Types, ","))
	}
	if w.f.NoDocument {
		q.Set("document", "false")
	}
	if w.hasPos {
		q.Set("since", strconv.FormatInt(w.pos, 10))
	}
	return q
}

// stream runs one connection. progressed says it connected and read
// something; stopped that the consumer stopped the iteration.
func (w *watch) stream(ctx context.Context, yield func(*Event, error) bool) (progressed, stopped bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &request{method: http.MethodGet, path: "/v1/events", query: w.query()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.c.base+r.path+"?"+r.query.Encode(), nil)
	if err != nil {
		return false, false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", w.c.ua)
	if w.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.c.token)
	}
	resp, err := w.c.hc.Do(req)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return false, false, newError(r, &response{status: resp.StatusCode, header: resp.Header, body: body})
	}
	// Reconnect when the server falls silent for longer than its
	// heartbeats allow: the connection is dead without knowing it.
	idle := time.AfterFunc(watchIdle, cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var id, data []byte
	var hasID bool
	for sc.Scan() {
		idle.Reset(watchIdle)
		line := sc.Bytes()
		if len(line) > 0 {
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "id":
				id, hasID = append(id[:0], value...), true
			case "data":
				data = append(data, value...)
			}
			continue
		}
		// A blank line ends a message.
		progressed = true
		if len(data) > 0 {
			e := &Event{}
			if err := json.Unmarshal(data, e); err != nil {
				return progressed, false, fmt.Errorf("client: watch: an event is not JSON: %w", err)
			}
			e.Raw = append(json.RawMessage(nil), data...)
			if e.Seq > w.pos || !w.hasPos {
				w.pos, w.hasPos = e.Seq, true
				if !yield(e, nil) {
					return progressed, true, nil
				}
			}
		} else if hasID {
			if n, err := strconv.ParseInt(string(id), 10, 64); err == nil && (n > w.pos || !w.hasPos) {
				w.pos, w.hasPos = n, true
			}
		}
		data, hasID = data[:0], false
	}
	if err := sc.Err(); err != nil {
		return progressed, false, err
	}
	return progressed, false, io.ErrUnexpectedEOF
}
