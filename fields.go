package truce

import (
	"bytes"

	"github.com/go-json-experiment/json/jsontext"
)

// topLevel returns the raw values of the named top-level fields of a
// compact JSON object body. Missing fields are absent from the map.
func topLevel(body []byte, names map[string]bool) (map[string]jsontext.Value, error) {
	out := make(map[string]jsontext.Value, len(names))
	if len(names) == 0 || len(body) == 0 {
		return out, nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		n := name.String()
		if !names[n] {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		out[n] = v.Clone()
	}
	return out, nil
}

// uniqueKeys returns, for each unique field of settings that the body
// holds with a non-null value, the value's canonical encoding (RFC 8785),
// so that equal JSON values collide in the index however they are spelled.
func uniqueKeys(s *Settings, body []byte) (map[string][]byte, error) {
	if len(s.Unique) == 0 || body == nil {
		return nil, nil
	}
	names := make(map[string]bool, len(s.Unique))
	for _, f := range s.Unique {
		names[f] = true
	}
	vals, err := topLevel(body, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(vals))
	for f, v := range vals {
		if v.Kind() == 'n' {
			continue
		}
		if err := v.Canonicalize(); err != nil {
			return nil, err
		}
		out[f] = []byte(v)
	}
	return out, nil
}

// referenceTargets returns, for each reference field of settings that the
// body holds with a non-null value, the id it names. A value that is not a
// valid id string is a CodeInvalidReference error.
func referenceTargets(s *Settings, body []byte) (map[string]string, error) {
	if len(s.References) == 0 || body == nil {
		return nil, nil
	}
	names := make(map[string]bool, len(s.References))
	for f := range s.References {
		names[f] = true
	}
	vals, err := topLevel(body, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(vals))
	for f, v := range vals {
		switch v.Kind() {
		case 'n':
			continue
		case '"':
			tok, err := jsontext.NewDecoder(bytes.NewReader(v)).ReadToken()
			if err != nil {
				return nil, err
			}
			id := tok.String()
			if !ValidID(id) {
				return nil, Errorf(CodeInvalidReference, "%s must hold the id of a document in %s; %.80q is not a valid id", f, s.References[f], id)
			}
			out[f] = id
		default:
			return nil, Errorf(CodeInvalidReference, "%s must hold the id (a string) of a document in %s, not %s", f, s.References[f], kindName(v.Kind()))
		}
	}
	return out, nil
}

// rawValue returns canonical JSON bytes as a value that marshals verbatim.
func rawValue(b []byte) any { return jsontext.Value(b) }
