package truce

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// maxDepth is the deepest nesting of objects and arrays truce accepts.
const maxDepth = 64

// parsedBody is a document body as a client sent it, checked and split
// into the user's fields and the reserved fields it may carry.
type parsedBody struct {
	// fields is the compact JSON object of the user's fields.
	fields []byte
	// id is the _id the body carried, if any.
	id    string
	hasID bool
	// version is the _version the body carried (a precondition), or 0.
	version int64
	// expires is the _expiresAt the body carried, in TimeLayout, or "".
	// fields holds it too, as its first member (see expiry.go).
	expires string
}

// parseBody checks that data is one JSON object truce accepts, strips the
// reserved fields and compacts the rest. _expiresAt is kept, rewritten in
// TimeLayout as the first member (expiry.go); _id and _version are returned;
// _createdAt, _updatedAt, _updatedBy and _etag are ignored so that a document read from truce
// can be sent back as it is; any other underscore field is refused.
func parseBody(data []byte) (parsedBody, error) {
	if bytes.IndexByte(data, '\\') < 0 {
		if pb, ok, err := parsePlainBody(data); ok {
			return pb, err
		}
	}
	return parseBodyTokens(data)
}

// parseBodyTokens is parseBody token by token, through an encoder that
// writes every string in its canonical form.
func parseBodyTokens(data []byte) (parsedBody, error) {
	var pb parsedBody
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	var out bytes.Buffer
	out.Grow(len(data))
	enc := jsontext.NewEncoder(&out)
	tok, err := dec.ReadToken()
	if err != nil {
		return pb, jsonError(err)
	}
	if tok.Kind() != '{' {
		return pb, Errorf(CodeInvalidDocument, "a document must be a JSON object, not %s", kindName(tok.Kind()))
	}
	if err := enc.WriteToken(tok); err != nil {
		return pb, err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return pb, jsonError(err)
		}
		n := name.String()
		if strings.HasPrefix(n, "_") {
			if err := pb.reserved(n, dec); err != nil {
				return pb, err
			}
			continue
		}
		if err := enc.WriteToken(name); err != nil {
			return pb, err
		}
		if err := copyValue(dec, enc); err != nil {
			return pb, err
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return pb, jsonError(err)
	}
	if err := enc.WriteToken(jsontext.EndObject); err != nil {
		return pb, err
	}
	if err := expectEOF(dec); err != nil {
		return pb, err
	}
	pb.fields = pb.withExpiry(bytes.TrimRight(out.Bytes(), "\n"))
	return pb, nil
}

func (pb *parsedBody) reserved(name string, dec *jsontext.Decoder) error {
	v, err := dec.ReadValue()
	if err != nil {
		return jsonError(err)
	}
	switch name {
	case FieldID:
		if v.Kind() != '"' {
			return Errorf(CodeInvalidID, "_id must be a string, not %s", kindName(v.Kind()))
		}
		var tok jsontext.Token
		tok, err = jsontext.NewDecoder(bytes.NewReader(v)).ReadToken()
		if err != nil {
			return jsonError(err)
		}
		pb.id, pb.hasID = tok.String(), true
		return checkID(pb.id)
	case FieldVersion:
		n, ok := positiveInt(v)
		if !ok {
			return Errorf(CodeInvalidPrecondition, "_version must be a positive integer, not %.40s", v)
		}
		pb.version = n
		return nil
	case FieldExpiresAt:
		return pb.expiry(v)
	case FieldCreatedAt, FieldUpdatedAt, FieldUpdatedBy, FieldETag:
		return nil // read-only metadata: sent back unchanged from a read, ignored
	}
	return Errorf(CodeReservedField, "%q: top-level fields that start with an underscore are reserved for truce; rename it", name)
}

// positiveInt parses a JSON number that is a positive integer.
func positiveInt(v []byte) (int64, bool) {
	var n int64
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n > 0 && v[0] != '0'
}

// parsePlainBody is parseBody's fast path, for a body without a backslash:
// its strings need no escapes, so they are already in the form the encoder
// of parseBodyTokens would write, and each field's value can be checked by
// the decoder as a whole and copied with only its whitespace removed. ok is
// false when the body is not a valid plain object, and then
// parseBodyTokens must run to report the problem exactly; a fuzz test
// checks that the two agree on every body this accepts.
func parsePlainBody(data []byte) (pb parsedBody, ok bool, err error) {
	// A decoder reads a bytes.Buffer in place, where it copies from any
	// other reader.
	dec := jsontext.NewDecoder(bytes.NewBuffer(data))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return pb, false, nil
	}
	out := make([]byte, 0, len(data))
	out = append(out, '{')
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return pb, false, nil
		}
		n := name.String()
		if strings.HasPrefix(n, "_") {
			if err := pb.reserved(n, dec); err != nil {
				return pb, true, err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return pb, false, nil
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(append(append(out, '"'), n...), '"', ':')
		if out, ok = appendPlainValue(out, v); !ok {
			return pb, false, nil
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return pb, false, nil
	}
	if expectEOF(dec) != nil {
		return pb, false, nil
	}
	pb.fields = pb.withExpiry(append(out, '}'))
	return pb, true, nil
}

// appendPlainValue appends v, a valid JSON value without a backslash that
// is the value of a top-level field, without its whitespace. ok is false if
// v nests deeper than maxDepth allows or holds a number out of range.
func appendPlainValue(out, v []byte) (_ []byte, ok bool) {
	depth := 1 // the document's own object
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ' ', '\t', '\n', '\r':
		case '"':
			end := bytes.IndexByte(v[i+1:], '"') + i + 1
			out = append(out, v[i:end+1]...)
			i = end
		case '{', '[':
			if depth++; depth > maxDepth {
				return out, false
			}
			out = append(out, c)
		case '}', ']':
			depth--
			out = append(out, c)
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			end := i + 1
			for end < len(v) && strings.IndexByte("0123456789.eE+-", v[end]) >= 0 {
				end++
			}
			num := v[i:end]
			if end-i > 15 || bytes.ContainsAny(num, "eE") {
				if f, _ := strconv.ParseFloat(string(num), 64); math.IsInf(f, 0) {
					return out, false
				}
			}
			out = append(out, num...)
			i = end - 1
		default:
			out = append(out, c)
		}
	}
	return out, true
}

// copyValue copies one JSON value from dec to enc, enforcing maxDepth and
// the range of numbers.
func copyValue(dec *jsontext.Decoder, enc *jsontext.Encoder) error {
	base := dec.StackDepth()
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return jsonError(err)
		}
		switch tok.Kind() {
		case '{', '[':
			if dec.StackDepth() > maxDepth {
				return Errorf(CodeInvalidJSON, "the body nests objects and arrays deeper than %d levels", maxDepth)
			}
		case '0':
			if f, _ := tok.Float(); math.IsInf(f, 0) {
				return Errorf(CodeInvalidJSON, "the number %.40s at %s is out of range", tok.String(), dec.StackPointer())
			}
		}
		if err := enc.WriteToken(tok); err != nil {
			return err
		}
		if dec.StackDepth() == base {
			return nil
		}
	}
}

// checkJSON checks that data is exactly one JSON value that truce accepts
// (no duplicate keys, depth at most maxDepth, numbers in range).
func checkJSON(data []byte, depth int) error {
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return jsonError(err)
		}
		switch tok.Kind() {
		case '{', '[':
			if dec.StackDepth() > depth {
				return Errorf(CodeInvalidJSON, "the body nests objects and arrays deeper than %d levels", depth)
			}
		case '0':
			if f, _ := tok.Float(); math.IsInf(f, 0) {
				return Errorf(CodeInvalidJSON, "the number %.40s at %s is out of range", tok.String(), dec.StackPointer())
			}
		}
	}
}

func expectEOF(dec *jsontext.Decoder) error {
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return Errorf(CodeInvalidJSON, "the body holds more than one JSON value")
		}
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Errorf(CodeInvalidJSON, "the body is empty or ends before the JSON value does")
	}
	var te *Error
	if errors.As(err, &te) {
		return te
	}
	msg := strings.TrimPrefix(err.Error(), "jsontext: ")
	return Errorf(CodeInvalidJSON, "the body is not valid JSON: %s", msg)
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return "nothing"
}
