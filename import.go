package truce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// FieldCollection names the collection of a document in an export line
// (Service.Import); it is not a field of stored documents.
const FieldCollection = "_collection"

// ExportLine returns d as one line of an export: the JSON of d as clients
// read it (reserved fields, _deleted on a tombstone, then the user's
// fields) with _collection first. Service.Import takes it back.
func ExportLine(d *Document) []byte {
	b := make([]byte, 0, len(d.Body)+jsonFieldsSize+len(d.Collection)+16)
	b = append(b, `{"_collection":`...)
	b = appendJSONString(b, d.Collection)
	j := d.JSON()
	return append(append(b, ','), j[1:]...)
}

// Import writes one version of a document as it was on another server: an
// export line (ExportLine) that carries _collection, _id, _version,
// _createdAt, _updatedAt, _updatedBy and, for a deletion, _deleted. The
// version keeps its number, times, author and body (or tombstone); the
// commit is new, so its seq and thus its ETag are this server's and name
// no other state. Every rule a write obeys applies (schema, unique values,
// references, locks), but for preconditions: the collection is created
// with default settings if it does not exist.
//
// Import is idempotent: a version the document already holds with the
// same content writes nothing, and the result is that version with
// Unchanged set. A document here that
// holds that version number with other content, or only newer versions,
// is CodeImportConflict; versions are imported oldest first. Versions
// between the document's current one and the imported one (trimmed from
// the source's history, or left out of the export) are not stored here.
func (s *Service) Import(ctx context.Context, line []byte) (WriteResult, error) {
	imp, err := parseImportLine(line)
	if err != nil {
		return WriteResult{}, err
	}
	w := writeRequest{kind: kindImport, collection: imp.Collection, id: imp.ID, imported: imp,
		produce: func(ReadTx, *Document) ([]byte, bool, error) { return imp.Body, imp.Deleted, nil }}
	return s.write(ctx, w, nil)
}

// checkImport decides an import against the document's current version:
// done is true (with the stored version) when the document already holds
// the imported version with the same content.
func checkImport(tx ReadTx, imp, cur *Document) (done *Document, err error) {
	if cur == nil || cur.Version < imp.Version {
		return nil, nil
	}
	held := cur
	if cur.Version != imp.Version {
		held, err = tx.Version(imp.Collection, imp.ID, imp.Version)
		if errors.Is(err, ErrNoRecord) {
			held = nil
		} else if err != nil {
			return nil, err
		}
	}
	if held != nil && held.Deleted == imp.Deleted && bytes.Equal(held.Body, imp.Body) &&
		held.UpdatedAt.Equal(imp.UpdatedAt) {
		return held, nil
	}
	ref := refString(imp.Collection, imp.ID)
	return nil, &Error{Code: CodeImportConflict, Current: cur,
		Detail: ref + " is at version " + itoa(cur.Version) + " here, and its version " + itoa(imp.Version) +
			" is not the imported one: this server is not a copy of the export's source for this document; import into an empty server or collection"}
}

// importMeta is the metadata of an export line.
type importMeta struct {
	Collection *string    `json:"_collection"`
	ID         *string    `json:"_id"`
	Version    int64      `json:"_version"`
	CreatedAt  *time.Time `json:"_createdAt"`
	UpdatedAt  *time.Time `json:"_updatedAt"`
	UpdatedBy  string     `json:"_updatedBy"`
	Deleted    bool       `json:"_deleted"`
}

// parseImportLine checks an export line and returns the version it holds.
func parseImportLine(line []byte) (*Document, error) {
	line = bytes.TrimSpace(line)
	if err := checkJSON(line, maxDepth); err != nil {
		return nil, err
	}
	var m importMeta
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, Errorf(CodeInvalidDocument, "an import line must be a document as truce export writes it, with _collection, _id, _version, _createdAt and _updatedAt: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	switch {
	case m.Collection == nil:
		return nil, Errorf(CodeInvalidCollection, "the import line has no _collection: name the document's collection")
	case m.ID == nil:
		return nil, Errorf(CodeInvalidID, "the import line has no _id: name the document")
	case m.Version < 1:
		return nil, Errorf(CodeInvalidPrecondition, "the import line needs _version, a positive integer: the version it imports")
	case m.CreatedAt == nil || m.UpdatedAt == nil:
		return nil, Errorf(CodeInvalidDocument, "the import line needs _createdAt and _updatedAt (RFC 3339): the times of the version it imports")
	}
	if err := checkCollectionName(*m.Collection); err != nil {
		return nil, err
	}
	if err := checkID(*m.ID); err != nil {
		return nil, err
	}
	// The user's fields, as a write would store them: the line without
	// the members only an export line has.
	body, err := withoutMembers(line, FieldCollection, FieldDeleted)
	if err != nil {
		return nil, err
	}
	pb, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	d := &Document{Collection: *m.Collection, ID: *m.ID, Version: m.Version, CreatedAt: m.CreatedAt.UTC(),
		UpdatedAt: m.UpdatedAt.UTC(), UpdatedBy: m.UpdatedBy, Deleted: m.Deleted, Body: pb.fields}
	if d.Deleted {
		if string(pb.fields) != "{}" {
			return nil, Errorf(CodeInvalidDocument, "the import line of %s version %d has _deleted and fields: a deletion has none", refString(d.Collection, d.ID), d.Version)
		}
		d.Body = nil
	}
	return d, nil
}

// withoutMembers returns the JSON object data without its top-level
// members named in names.
func withoutMembers(data []byte, names ...string) ([]byte, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	var out bytes.Buffer
	enc := jsontext.NewEncoder(&out)
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, jsonError(err)
	}
	if tok.Kind() != '{' {
		return nil, Errorf(CodeInvalidDocument, "an import line must be a JSON object, not %s", kindName(tok.Kind()))
	}
	enc.WriteToken(tok)
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, jsonError(err)
		}
		name := tok.String() // tok is valid until the next read only
		v, err := dec.ReadValue()
		if err != nil {
			return nil, jsonError(err)
		}
		skip := false
		for _, n := range names {
			skip = skip || name == n
		}
		if skip {
			continue
		}
		if err := enc.WriteToken(jsontext.String(name)); err != nil {
			return nil, err
		}
		if err := enc.WriteValue(v); err != nil {
			return nil, err
		}
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
