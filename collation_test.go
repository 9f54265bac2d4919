package truce

import (
	"bytes"
	"testing"
	"time"
)

// TestCollatedPathsAgree: the encoding that writes give index keys (read
// from the raw body) is the one that queries compare with (read from the
// decoded body), for every kind of value.
func TestCollatedPathsAgree(t *testing.T) {
	bodies := []string{
		`{}`,
		`{"a":null,"b":true,"c":false,"d":-0,"e":1e300,"f":-2.5,"g":12345678901234567890}`,
		`{"a":"","b":"x\u0000y","c":"\u00e9\"\\","d":"é","e":[1,"a",[null],{}],"f":{"z":1,"a":[2]}}`,
		`{"a":{"b":{"c":1}},"b":{"c":"x"},"c":[{"a":1}],"d":"not an object"}`,
		`{"x":"}{][\"","a" : { "b" : { "c" : [ 1 , "]" ] } } , "b":{"c\u0000":1,"c":"\u0041"},"e":-1.5e-3,"\u0061.b":2}`,
		`{"e":{"c":{}},"f":[[],{}],"a":{"x":{"y":"}"},"b":2}}`,
	}
	paths := []string{"a", "b", "c", "d", "e", "f", "g", "a.b", "a.b.c", "b.c", "c.a", "d.x", "missing", "_id", "_version", "_updatedAt", "_createdAt"}
	for _, body := range bodies {
		d := &Document{ID: "x1", Version: 3, Body: []byte(body), CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(2, 0)}
		var fast collatedValues
		fast.collate(d, paths)
		v := &docView{d: d}
		for i, p := range paths {
			val, ok := v.get(p)
			want := appendCollated(nil, val, ok)
			if !bytes.Equal(fast.at(i), want) {
				t.Errorf("%s in %s: raw %x, decoded %x", p, body, fast.at(i), want)
			}
		}
	}
}

func TestIndexName(t *testing.T) {
	for _, paths := range [][]string{{"a"}, {"status", "total"}, {`q"uote`, "back\\slash", "é"}} {
		if got, want := indexName(paths), strconvQuoteList(paths); got != want {
			t.Errorf("indexName(%q) = %s, want %s", paths, got, want)
		}
	}
}

func strconvQuoteList(paths []string) string {
	s := "["
	for i, p := range paths {
		if i > 0 {
			s += ","
		}
		s += strconvQuote(p)
	}
	return s + "]"
}
