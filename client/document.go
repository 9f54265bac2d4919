package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Doc is a document as the server sent it: one version of it, with the
// metadata that a later conditional write needs.
type Doc struct {
	// Collection is the collection the document belongs to.
	Collection string
	// ID is the document's id (_id).
	ID string
	// Version is the document's version (_version): 1 on creation, one
	// more on every write, delete included.
	Version int64
	// ETag is the entity tag of this version, quoted as the ETag header
	// gives it; pass it to IfMatch. The server's list answers carry no
	// entity tags, so it is empty on documents that List returns; a
	// query's items carry theirs (_etag), so Query fills it.
	ETag string
	// CreatedAt and UpdatedAt are _createdAt and _updatedAt.
	CreatedAt time.Time
	UpdatedAt time.Time
	// UpdatedBy is _updatedBy: who wrote this version (a token's name, or
	// the client's address on a server without authentication); empty
	// when the server did not record it.
	UpdatedBy string
	// Deleted reports a tombstone, the version that deleted the document;
	// only a read of history (Client.Version) returns one.
	Deleted bool
	// Raw is the document as the server sent it: a JSON object with the
	// reserved fields (_id, _version, _createdAt, _updatedAt) and the
	// user's fields. Writing a Doc sends Raw; its _version makes the
	// write conditional on that version (409 when it is stale), and the
	// server ignores _createdAt and _updatedAt.
	Raw json.RawMessage
	// Merged is set on the answer to a write with a stale version that
	// the collection's merge (or manual) policy merged three ways: the
	// version the write was based on and the one it was merged with
	// (the Truce-Merged header). Nil otherwise.
	Merged *Merged
}

// reserved holds the reserved fields of a document body.
type reserved struct {
	ID        string    `json:"_id"`
	Version   int64     `json:"_version"`
	CreatedAt time.Time `json:"_createdAt"`
	UpdatedAt time.Time `json:"_updatedAt"`
	UpdatedBy string    `json:"_updatedBy"`
	Deleted   bool      `json:"_deleted"`
	ETag      string    `json:"_etag"`
}

// parseDoc reads a document body that the server sent.
func parseDoc(collection string, raw []byte) (*Doc, error) {
	var r reserved
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("client: the server sent a document that does not decode: %w", err)
	}
	return &Doc{
		Collection: collection,
		ID:         r.ID,
		Version:    r.Version,
		CreatedAt:  r.CreatedAt,
		UpdatedAt:  r.UpdatedAt,
		UpdatedBy:  r.UpdatedBy,
		Deleted:    r.Deleted,
		ETag:       r.ETag,
		Raw:        json.RawMessage(raw),
	}, nil
}

// Decode unmarshals the document (Raw) into v, as json.Unmarshal does.
// The reserved fields decode too, into fields tagged `json:"_id"`,
// `json:"_version"` and so on, if v has them.
func (d *Doc) Decode(v any) error {
	if len(d.Raw) == 0 {
		return errors.New("client: the document is empty")
	}
	return json.Unmarshal(d.Raw, v)
}

// Set replaces the document's content (Raw) with v encoded as JSON, which
// must be a JSON object. v is what a write will send: a struct, a map, or
// a json.RawMessage. The metadata (ID, Version, ETag, …) is left alone:
// it still says which version the new content is based on.
func (d *Doc) Set(v any) error {
	b, err := encodeBody(v)
	if err != nil {
		return err
	}
	if !isObject(b) {
		return fmt.Errorf("client: a document must be a JSON object, not %.40s", b)
	}
	d.Raw = b
	return nil
}

// Clone returns a deep copy of d.
func (d *Doc) Clone() *Doc {
	c := *d
	c.Raw = bytes.Clone(d.Raw)
	return &c
}

// encodeBody returns the JSON of a request body: []byte and
// json.RawMessage are sent as they are, a *Doc or Doc as its Raw, an
// io.Reader as what it reads, and anything else as json.Marshal encodes it.
func encodeBody(v any) ([]byte, error) {
	switch b := v.(type) {
	case nil:
		return nil, errors.New("client: the body is nil")
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	case *Doc:
		return b.Raw, nil
	case Doc:
		return b.Raw, nil
	case io.Reader:
		data, err := io.ReadAll(b)
		if err != nil {
			return nil, fmt.Errorf("client: reading the body: %w", err)
		}
		return data, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encoding the body: %w", err)
	}
	return b, nil
}

// isObject reports whether b's first significant byte opens an object.
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}
