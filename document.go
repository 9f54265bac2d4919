package truce

import (
	"strconv"
	"time"
)

// Document is one version of a document: its identity, its metadata and
// its body. The current state of a document is its latest Document; a
// deleted document's latest Document is a tombstone (Deleted is true and
// Body is nil). Documents are immutable once returned.
type Document struct {
	Collection string
	ID         string
	// Version is 1 on creation and grows by one with every write, delete
	// included. It never restarts: re-creating a deleted id continues from
	// the tombstone's version.
	Version int64
	// Seq is the store-wide sequence number of the commit that wrote this
	// version. No two versions of anything share a Seq, which is what makes
	// ETags unique for all time.
	Seq       int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// UpdatedBy names who wrote this version: the name of the caller's
	// token, or the client's address on a server without authentication.
	// Empty for a version written without a caller (by a Go program that
	// embeds truce and names none) or before truce recorded it.
	UpdatedBy string
	Deleted   bool
	// Body holds the user's fields: a compact JSON object without reserved
	// fields. Nil for a tombstone.
	Body []byte
}

// ETag returns the document's strong entity tag, quoted as in the ETag
// header. It is derived from the version and the commit's Seq, so it is
// never reused for a different state of the same URL, even after the
// document or its collection is deleted and re-created.
func (d *Document) ETag() string {
	return FormatETag(d.Version, d.Seq)
}

// FormatETag returns the quoted entity tag of a version written at seq.
func FormatETag(version, seq int64) string {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	b = strconv.AppendInt(b, version, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, seq, 36)
	b = append(b, '"')
	return string(b)
}

// Ref returns the document's collection and id.
func (d *Document) Ref() DocRef { return DocRef{Collection: d.Collection, ID: d.ID} }

// MarshalJSON renders the document as clients see it: the reserved fields
// _id, _version, _createdAt, _updatedAt, _updatedBy when known (and
// _deleted on a tombstone)
// followed by the user's fields in their stored order.
func (d *Document) MarshalJSON() ([]byte, error) {
	return d.JSON(), nil
}

// JSON returns the rendering of MarshalJSON in a buffer sized for it once,
// rather than grown as AppendJSON(nil) would.
func (d *Document) JSON() []byte {
	return d.AppendJSON(make([]byte, 0, len(d.Body)+jsonFieldsSize))
}

// jsonFieldsSize bounds the reserved fields AppendJSON writes before the
// body, for ids of up to about 50 bytes (a longer one grows it once).
const jsonFieldsSize = 160

// AppendJSON appends the JSON rendering of MarshalJSON to b.
func (d *Document) AppendJSON(b []byte) []byte { return d.appendJSON(b, false) }

// appendJSON is AppendJSON, with the _etag member after _version when etag
// is true (query answers, which have no ETag header per document).
func (d *Document) appendJSON(b []byte, etag bool) []byte {
	b = d.appendIdentity(b, etag)
	b = append(b, `,"_createdAt":"`...)
	b = AppendTime(b, d.CreatedAt)
	b = append(b, `","_updatedAt":"`...)
	b = AppendTime(b, d.UpdatedAt)
	b = append(b, '"')
	if d.UpdatedBy != "" {
		b = append(b, `,"_updatedBy":`...)
		b = appendJSONString(b, d.UpdatedBy)
	}
	if d.Deleted {
		b = append(b, `,"_deleted":true`...)
	}
	if len(d.Body) > 2 { // more than "{}"
		b = append(b, ',')
		b = append(b, d.Body[1:]...)
	} else {
		b = append(b, '}')
	}
	return b
}

// TimeLayout is the layout of every timestamp truce writes: RFC 3339 in UTC
// with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendTime appends t in TimeLayout, in UTC. Every response carries two
// of these, so the common case (years 0 to 9999) skips the layout parser.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1e6, 3)
	return append(b, 'Z')
}

// appendDigits appends v, 0 <= v < 10^width, as width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	b = append(b, make([]byte, width)...)
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// appendIdentity appends the opening brace, _id and _version and, when etag
// is true, _etag: the members every rendering of a document starts with.
func (d *Document) appendIdentity(b []byte, etag bool) []byte {
	b = append(b, `{"_id":`...)
	b = strconv.AppendQuote(b, d.ID) // ids are ASCII without quotes or escapes
	b = append(b, `,"_version":`...)
	b = strconv.AppendInt(b, d.Version, 10)
	if etag {
		b = append(b, `,"_etag":`...)
		b = strconv.AppendQuote(b, d.ETag())
	}
	return b
}

// Reserved field names. Every other top-level field that starts with an
// underscore is refused.
const (
	FieldID        = "_id"
	FieldVersion   = "_version"
	FieldCreatedAt = "_createdAt"
	FieldUpdatedAt = "_updatedAt"
	FieldUpdatedBy = "_updatedBy"
	// FieldETag is the version's entity tag, which a query's items carry
	// because their answer has no ETag header for each; like _updatedAt it
	// is read-only, ignored when a document read back is written.
	FieldETag    = "_etag"
	FieldDeleted = "_deleted"
	// FieldExpiresAt is when the document expires (RFC 3339): the one
	// reserved field a client writes and the body stores (expiry.go).
	FieldExpiresAt = "_expiresAt"
)

// ValidID reports whether id is a valid document id: 1 to 255 bytes of
// [A-Za-z0-9._~:@-], and not "." or "..", which URLs cannot carry.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 255 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '~', c == ':', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidCollectionName reports whether name matches [a-z0-9][a-z0-9_-]{0,62}.
func ValidCollectionName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func checkID(id string) error {
	if !ValidID(id) {
		return Errorf(CodeInvalidID, "%.80q is not a valid document id: use 1-255 bytes of letters, digits and . _ ~ : @ -", id)
	}
	return nil
}

func checkCollectionName(name string) error {
	if !ValidCollectionName(name) {
		return Errorf(CodeInvalidCollection, "%.80q is not a valid collection name: use a lowercase letter or digit, then up to 62 lowercase letters, digits, _ or -", name)
	}
	return nil
}
