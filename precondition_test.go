package truce

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseETagList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`*`, []string{"*"}},
		{` * `, []string{"*"}},
		{`"a"`, []string{`"a"`}},
		{`"a", W/"b",  "c"`, []string{`"a"`, `W/"b"`, `"c"`}},
		{`""`, []string{`""`}},
	} {
		got, err := ParseETagList(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseETagList(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{``, `a`, `"a`, `"a" "b"`, `"a",`, `,"a"`, `W/`, `w/"a"`, `"a"x`, `*, "a"`, "\"a\x00\"", `"a b"`} {
		if got, err := ParseETagList(bad); ErrorCode(err) != CodeInvalidPrecondition {
			t.Errorf("ParseETagList(%q) = %q, %v; want invalid_precondition", bad, got, err)
		}
	}
}

func TestMatch(t *testing.T) {
	if !MatchStrong([]string{`"x"`, `"1-1"`}, `"1-1"`) || MatchStrong([]string{`W/"1-1"`}, `"1-1"`) {
		t.Error("MatchStrong")
	}
	if !MatchWeak([]string{`W/"1-1"`}, `"1-1"`) || MatchWeak([]string{`"1-2"`}, `"1-1"`) {
		t.Error("MatchWeak")
	}
}

// TestCheckIfUnmodifiedSince: If-Unmodified-Since (RFC 9110 13.1.4) fails
// a write to a live document modified after its date, to the second of
// Last-Modified, with 412 and the current document; If-Match, when
// present, is evaluated instead; a missing or deleted document has no
// modification date, so the date is ignored; and the date alone does not
// make a write conditional for requirePreconditions.
func TestCheckIfUnmodifiedSince(t *testing.T) {
	updated := time.Date(2026, 12, 3, 20, 0, 5, 700e6, time.UTC)
	cur := &Document{Collection: "notes", ID: "n1", Version: 3, Seq: 9, UpdatedAt: updated}
	gone := &Document{Collection: "notes", ID: "n1", Version: 4, Seq: 10, UpdatedAt: updated, Deleted: true}
	second := updated.Truncate(time.Second)
	for _, tc := range []struct {
		name string
		pre  Precondition
		cur  *Document
		want Code
	}{
		{"date before the last modification", Precondition{IfUnmodifiedSince: second.Add(-time.Second)}, cur, CodePreconditionFailed},
		{"date of the last modification's second", Precondition{IfUnmodifiedSince: second}, cur, ""},
		{"date after it", Precondition{IfUnmodifiedSince: second.Add(time.Hour)}, cur, ""},
		{"If-Match that holds wins", Precondition{IfMatch: []string{cur.ETag()}, IfUnmodifiedSince: second.Add(-time.Hour)}, cur, ""},
		{"If-Match that fails wins", Precondition{IfMatch: []string{`"1-1"`}, IfUnmodifiedSince: second.Add(time.Hour)}, cur, CodePreconditionFailed},
		{"no document", Precondition{IfUnmodifiedSince: second.Add(-time.Hour)}, nil, ""},
		{"a tombstone", Precondition{IfUnmodifiedSince: second.Add(-time.Hour)}, gone, ""},
	} {
		err := tc.pre.check(tc.cur, "notes/n1")
		if ErrorCode(err) != tc.want && !(tc.want == "" && err == nil) {
			t.Errorf("%s: check = %v, want %q", tc.name, err, tc.want)
			continue
		}
		var te *Error
		if tc.want == CodePreconditionFailed && tc.pre.IfMatch == nil && (!errors.As(err, &te) || te.Current != cur) {
			t.Errorf("%s: the 412 does not carry the current document: %#v", tc.name, err)
		}
	}
	if !(Precondition{IfUnmodifiedSince: second}).IsZero() {
		t.Error("If-Unmodified-Since alone satisfies requirePreconditions")
	}
}

func FuzzParseETagList(f *testing.F) {
	for _, s := range []string{`*`, `"a", W/"b"`, `"a`, `W/`, `"", ""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := ParseETagList(s)
		if err != nil {
			if ErrorCode(err) != CodeInvalidPrecondition {
				t.Fatalf("error code %s", ErrorCode(err))
			}
			return
		}
		if len(tags) == 0 {
			t.Fatal("no tags and no error")
		}
		for _, tg := range tags {
			if tg != "*" && tg[len(tg)-1] != '"' {
				t.Fatalf("tag %q", tg)
			}
		}
		// The tags, listed again as a client would send them, parse to
		// the same list, and every tag matches itself.
		again, err := ParseETagList(strings.Join(tags, ", "))
		if err != nil || !reflect.DeepEqual(again, tags) {
			t.Fatalf("ParseETagList(%q) = %q; its own list parses to %q, %v", s, tags, again, err)
		}
		for _, tg := range tags {
			if !MatchWeak(tags, strings.TrimPrefix(tg, "W/")) {
				t.Fatalf("%q does not weak-match its own list %q", tg, tags)
			}
		}
	})
}
