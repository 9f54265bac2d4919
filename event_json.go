package truce

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// eventFields are the members AppendJSON always writes; members of Info
// with these names are left out rather than written twice.
var eventFields = map[string]bool{
	"seq": true, "type": true, "collection": true, "id": true, "version": true,
	"etag": true, "time": true, "document": true, "conflictId": true,
}

// AppendJSON appends the event as the feed delivers it (docs/api.md section 8):
//
//	{"seq":12,"type":"document.updated","collection":"notes","id":"n1",
//	 "version":3,"etag":"\"…\"","time":"…","document":{…}}
//
// document is there for created and updated events when withDocument is
// true; conflictId for conflict events; the members of Info (a lock's owner
// and expiry, a transaction's id and writes) follow at the top level.
func (e *Event) AppendJSON(b []byte, withDocument bool) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(e.Type))
	// A transaction event names no document, and lock events no version:
	// members that would say nothing are left out.
	if e.Collection != "" {
		b = append(b, `,"collection":`...)
		b = appendJSONString(b, e.Collection)
		b = append(b, `,"id":`...)
		b = appendJSONString(b, e.ID)
	}
	if e.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, e.Version, 10)
	}
	if e.ETag != "" {
		b = append(b, `,"etag":`...)
		b = appendJSONString(b, e.ETag)
	}
	b = append(b, `,"time":"`...)
	b = AppendTime(b, e.Time)
	b = append(b, '"')
	if withDocument && len(e.Document) > 0 {
		b = append(b, `,"document":`...)
		b = append(b, e.Document...)
	}
	if e.ConflictID != "" {
		b = append(b, `,"conflictId":`...)
		b = appendJSONString(b, e.ConflictID)
	}
	b = appendInfo(b, e.Info)
	return append(b, '}')
}

// appendInfo appends the members of the JSON object info, each preceded by
// a comma. Anything that is not an object adds nothing.
func appendInfo(b []byte, info []byte) []byte {
	if len(info) == 0 {
		return b
	}
	dec := json.NewDecoder(bytes.NewReader(info))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return b
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return b
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return b
		}
		if eventFields[name] {
			continue
		}
		b = append(b, ',')
		b = appendJSONString(b, name)
		b = append(b, ':')
		b = append(b, v...)
	}
	return b
}

// quoteOptions escape <, > and &, and U+2028 and U+2029, as encoding/json
// does: the feed's JSON has always escaped them, and clients may compare
// its bytes.
var quoteOptions = []jsontext.Options{jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true)}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it. Names, ids, types and ETags hold none of the characters that
// only quoteOptions escape, so only the rare string that does pays for a
// second pass. One difference is left: invalid UTF-8, which no valid name
// or id and no decoded member name holds, becomes U+FFFD written as itself
// rather than as \ufffd; the JSON means the same.
func appendJSONString(b []byte, s string) []byte {
	n := len(b)
	b, _ = jsontext.AppendQuote(b, s)
	if strings.ContainsAny(s, "<>&") || strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029") {
		b, _ = jsontext.AppendFormat(b[:n], b[n:], quoteOptions...)
	}
	return b
}

// FeedEvent is an event as the feed delivers it: the Event, and its JSON
// (AppendJSON) with and without the document, encoded once and shared by
// every subscriber. It must not be modified.
type FeedEvent struct {
	*Event
	json      []byte
	jsonNoDoc []byte
}

func newFeedEvent(e *Event) *FeedEvent {
	fe := &FeedEvent{Event: e, json: e.AppendJSON(nil, true)}
	fe.jsonNoDoc = fe.json
	if len(e.Document) > 0 {
		fe.jsonNoDoc = e.AppendJSON(nil, false)
	}
	return fe
}

// JSON returns the event's JSON, with the document or without.
func (e *FeedEvent) JSON(withDocument bool) []byte {
	if withDocument {
		return e.json
	}
	return e.jsonNoDoc
}
