package truce

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strings"
)

// The collation: one total order over JSON values, which queries sort and
// compare by and which index keys encode, so that the byte order of keys is
// the order of values and mixed types never error:
//
//	missing < null < false < true < numbers < strings < arrays < objects
//
// Numbers compare by value as 64-bit floats (1 and 1.0 are equal; -0 is 0);
// strings by the bytes of their UTF-8, which is code point order (no
// locale); arrays element by element, a shorter array first when it is a
// prefix of the longer; objects member by member in the byte order of their
// keys, each key before its value. A field that a document does not have is
// "missing", below null, so that every live document has exactly one entry
// in every index of its collection.
//
// The encoding starts each value with a tag in that order; numbers follow
// as 8 bytes that sort as the floats do; strings as their bytes with 0x00
// escaped as 0x00 0xff and ended by 0x00 0x01; array elements and object
// members (each marked by 0x01) follow their tag and end with 0x00. Every
// encoding is prefix-free: no encoded value is a prefix of another, so the
// keys of an index that hold one value are exactly those that start with
// its encoding.
const (
	tagMissing byte = 0x01 + iota
	tagNull
	tagFalse
	tagTrue
	tagNumber
	tagString
	tagArray
	tagObject
)

// appendCollated appends the collation encoding of v, a value as
// encoding/json decodes it into an any (float64 for numbers).
func appendCollated(b []byte, v any, present bool) []byte {
	if !present {
		return append(b, tagMissing)
	}
	switch v := v.(type) {
	case nil:
		return append(b, tagNull)
	case bool:
		if v {
			return append(b, tagTrue)
		}
		return append(b, tagFalse)
	case float64:
		return appendCollatedNumber(append(b, tagNumber), v)
	case json.Number:
		f, _ := v.Float64()
		return appendCollatedNumber(append(b, tagNumber), f)
	case string:
		return appendCollatedString(append(b, tagString), v)
	case []any:
		b = append(b, tagArray)
		for _, e := range v {
			b = appendCollated(b, e, true)
		}
		return append(b, 0)
	case map[string]any:
		b = append(b, tagObject)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendCollatedString(append(b, 0x01), k)
			b = appendCollated(b, v[k], true)
		}
		return append(b, 0)
	}
	// Not a value encoding/json produces; sort it with null rather than fail.
	return append(b, tagNull)
}

func appendCollatedNumber(b []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 is 0
	}
	u := math.Float64bits(f)
	if u&(1<<63) == 0 {
		u |= 1 << 63
	} else {
		u = ^u
	}
	return binary.BigEndian.AppendUint64(b, u)
}

// appendStringBody appends s with 0x00 escaped, without the terminator: the
// encoding of every string that starts with s starts with it.
func appendStringBody(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			return append(b, s...)
		}
		b = append(append(b, s[:i]...), 0x00, 0xff)
		s = s[i+1:]
	}
}

func appendCollatedString(b []byte, s string) []byte {
	return append(appendStringBody(b, s), 0x00, 0x01)
}

// collationTag returns the tag that the encoding of v starts with.
func collationTag(v any, present bool) byte {
	return appendCollated(make([]byte, 0, 16), v, present)[0]
}

// successor returns the smallest byte string greater than every string
// that starts with prefix, or nil when there is none (prefix is all 0xff).
func successor(prefix []byte) []byte {
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
