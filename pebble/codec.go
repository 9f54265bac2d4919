package pebble

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trucedb/truce"
)

// Records are encoded compactly: a format byte, flags, varints, and the
// body bytes last so they need no length. Names that the key already holds
// (collection, id, seq of an event) are not repeated in the value. Times
// keep their instant to the nanosecond and come back in UTC.

const formatV1 = 1

// Document flags.
const (
	docDeleted = 1 << iota
	docHasBody
	// docUpdatedBy means the writer's name follows the times. Documents
	// written before truce recorded writers lack it.
	docUpdatedBy
)

// appendDocument appends the encoding of d, without its collection and id.
func appendDocument(b []byte, d *truce.Document) []byte {
	return append(appendDocumentHead(b, d), d.Body...)
}

// appendDocumentHead appends the encoding of d up to its body, which comes
// last and whole.
func appendDocumentHead(b []byte, d *truce.Document) []byte {
	var flags byte
	if d.Deleted {
		flags |= docDeleted
	}
	if d.Body != nil {
		flags |= docHasBody
	}
	if d.UpdatedBy != "" {
		flags |= docUpdatedBy
	}
	b = append(b, formatV1, flags)
	b = binary.AppendVarint(b, d.Version)
	b = binary.AppendVarint(b, d.Seq)
	b = appendTime(b, d.CreatedAt)
	b = appendTime(b, d.UpdatedAt)
	if d.UpdatedBy != "" {
		b = appendString(b, d.UpdatedBy)
	}
	return b
}

// decodeDocument decodes a document stored under col and id. It copies
// everything it keeps, so v may be released afterwards.
func decodeDocument(v []byte, col, id string) (*truce.Document, error) {
	if len(v) < 2 || v[0] != formatV1 {
		return nil, fmt.Errorf("%w: document %s/%s", errCorrupt, col, id)
	}
	d := &truce.Document{Collection: col, ID: id, Deleted: v[1]&docDeleted != 0}
	r := reader{b: v[2:]}
	d.Version = r.varint()
	d.Seq = r.varint()
	d.CreatedAt = r.time()
	d.UpdatedAt = r.time()
	if v[1]&docUpdatedBy != 0 {
		d.UpdatedBy = r.string()
	}
	if r.bad {
		return nil, fmt.Errorf("%w: document %s/%s", errCorrupt, col, id)
	}
	if v[1]&docHasBody != 0 {
		d.Body = bytes.Clone(r.b)
		if d.Body == nil {
			d.Body = []byte{}
		}
	}
	return d, nil
}

// docDeletedFlag reports whether an encoded document is a tombstone without
// decoding the rest.
func docDeletedFlag(v []byte) (bool, error) {
	if len(v) < 2 || v[0] != formatV1 {
		return false, errCorrupt
	}
	return v[1]&docDeleted != 0, nil
}

// Event flags.
const (
	eventHasDocument = 1 << iota
	// eventETag means the ETag is stored. Usually it is not, because it is
	// FormatETag(Version, Seq) and can be derived.
	eventETag
	// eventConflict means a conflict id follows the time.
	eventConflict
	// eventInfo means the event's Info follows the conflict id.
	eventInfo
)

// Event types are stored as one byte when known.
var eventTypes = []truce.EventType{
	truce.EventDocumentCreated,
	truce.EventDocumentUpdated,
	truce.EventDocumentDeleted,
	truce.EventConflictOpened,
	truce.EventConflictResolved,
	truce.EventConflictDismissed,
	truce.EventLockAcquired,
	truce.EventLockReleased,
	truce.EventLockExpired,
	truce.EventTransactionCommitted,
}

// appendEvent appends the encoding of e, without its seq.
func appendEvent(b []byte, e *truce.Event) []byte {
	return append(appendEventHead(b, e), e.Document...)
}

// appendEventHead appends the encoding of e up to its document, which comes
// last and whole.
func appendEventHead(b []byte, e *truce.Event) []byte {
	var flags byte
	if e.Document != nil {
		flags |= eventHasDocument
	}
	if e.ETag != truce.FormatETag(e.Version, e.Seq) {
		flags |= eventETag
	}
	if e.ConflictID != "" {
		flags |= eventConflict
	}
	if e.Info != nil {
		flags |= eventInfo
	}
	b = append(b, formatV1, flags)
	typ := byte(0)
	for i, t := range eventTypes {
		if e.Type == t {
			typ = byte(i + 1)
		}
	}
	b = append(b, typ)
	if typ == 0 {
		b = appendString(b, string(e.Type))
	}
	b = appendString(b, e.Collection)
	b = appendString(b, e.ID)
	b = binary.AppendVarint(b, e.Version)
	if flags&eventETag != 0 {
		b = appendString(b, e.ETag)
	}
	b = appendTime(b, e.Time)
	if flags&eventConflict != 0 {
		b = appendString(b, e.ConflictID)
	}
	if flags&eventInfo != 0 {
		b = appendString(b, string(e.Info))
	}
	return b
}

// decodeEvent decodes the event stored under seq, copying what it keeps.
func decodeEvent(v []byte, seq int64) (*truce.Event, error) {
	if len(v) < 3 || v[0] != formatV1 {
		return nil, fmt.Errorf("%w: event %d", errCorrupt, seq)
	}
	flags, typ := v[1], v[2]
	e := &truce.Event{Seq: seq}
	r := reader{b: v[3:]}
	switch {
	case typ == 0:
		e.Type = truce.EventType(r.string())
	case int(typ) <= len(eventTypes):
		e.Type = eventTypes[typ-1]
	default:
		r.bad = true
	}
	e.Collection = r.string()
	e.ID = r.string()
	e.Version = r.varint()
	if flags&eventETag != 0 {
		e.ETag = r.string()
	} else {
		e.ETag = truce.FormatETag(e.Version, e.Seq)
	}
	e.Time = r.time()
	if flags&eventConflict != 0 {
		e.ConflictID = r.string()
	}
	if flags&eventInfo != 0 {
		e.Info = []byte(r.string())
	}
	if r.bad {
		return nil, fmt.Errorf("%w: event %d", errCorrupt, seq)
	}
	if flags&eventHasDocument != 0 {
		e.Document = bytes.Clone(r.b)
		if e.Document == nil {
			e.Document = []byte{}
		}
	}
	return e, nil
}

// collectionRecord is how a collection is stored: JSON, so that settings
// added to truce.Settings are stored without a change here. Collections are
// few and rarely written, so the size does not matter.
type collectionRecord struct {
	Settings  truce.Settings `json:"settings"`
	Seq       int64          `json:"seq"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

func encodeCollection(c *truce.Collection) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(formatV1)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(collectionRecord{
		Settings:  c.Settings,
		Seq:       c.Seq,
		CreatedAt: c.CreatedAt.UTC(),
		UpdatedAt: c.UpdatedAt.UTC(),
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: encode collection %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

func decodeCollection(v []byte, name string) (*truce.Collection, error) {
	if len(v) < 1 || v[0] != formatV1 {
		return nil, fmt.Errorf("%w: collection %s", errCorrupt, name)
	}
	var rec collectionRecord
	if err := json.Unmarshal(v[1:], &rec); err != nil {
		return nil, fmt.Errorf("%w: collection %s: %v", errCorrupt, name, err)
	}
	return &truce.Collection{
		Name:      name,
		Settings:  rec.Settings,
		Seq:       rec.Seq,
		CreatedAt: rec.CreatedAt,
		UpdatedAt: rec.UpdatedAt,
	}, nil
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes varints and strings from b, remembering the first failure
// so that callers check once.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if r.bad || nsec >= 1e9 {
		r.bad = true
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
