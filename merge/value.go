package merge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// ErrInvalidJSON is wrapped by the errors that Merge3, Diff and Equal return when an input is
// not exactly one valid JSON value.
var ErrInvalidJSON = errors.New("merge: invalid JSON")

// decode parses data into a tree of map[string]any, []any, string, json.Number, bool and nil.
// Numbers stay json.Number so that their original text survives.
func decode(name string, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			err = errors.New("empty input")
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidJSON, name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the value")
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidJSON, name, err)
	}
	return v, nil
}

// Equal reports whether a and b hold the same JSON value: objects with the same members in
// any order, arrays with equal elements in the same order, equal strings, and numbers with the
// same exact decimal value. It returns an error wrapping ErrInvalidJSON if either input is not
// one valid JSON value.
func Equal(a, b []byte) (bool, error) {
	x, err := decode("a", a)
	if err != nil {
		return false, err
	}
	y, err := decode("b", b)
	if err != nil {
		return false, err
	}
	return equal(x, y), nil
}

// equal compares two decoded values.
func equal(x, y any) bool {
	switch x := x.(type) {
	case map[string]any:
		y, ok := y.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := y.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := y.(json.Number)
		return ok && (x == y || numberKey(string(x)) == numberKey(string(y)))
	case string:
		y, ok := y.(string)
		return ok && x == y
	case bool:
		y, ok := y.(bool)
		return ok && x == y
	case nil:
		return y == nil
	}
	panic(fmt.Sprintf("merge: unexpected decoded type %T", x))
}

// numberKey returns a canonical form of a valid JSON number, such that two numbers have the
// same key exactly when they have the same decimal value: the sign, the significant digits
// without leading or trailing zeros, and the exponent that goes with them. It works on the
// text, so it is exact for any precision and cheap for any exponent (1e999999999 does not
// expand into a billion digits).
func numberKey(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, expText := s, "0"
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], s[i+1:]
	}
	digits, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits, frac = mant[:i]+mant[i+1:], mant[i+1:]
	}
	exp, ok := new(big.Int).SetString(expText, 10)
	if !ok {
		panic("merge: invalid number " + s) // the decoder has validated it
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0" // all zeros, whatever the sign or exponent
	}
	trimmed := strings.TrimRight(digits, "0")
	exp.Add(exp, big.NewInt(int64(len(digits)-len(trimmed)-len(frac))))
	if neg {
		return "-" + trimmed + "e" + exp.String()
	}
	return trimmed + "e" + exp.String()
}

// appendValue appends the compact JSON encoding of a decoded value: object members sorted by
// name, numbers in their original text, no HTML escaping.
func appendValue(buf *bytes.Buffer, v any) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("merge: encoding a decoded value: %v", err)) // cannot happen
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
}
