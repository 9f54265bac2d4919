package truce

import (
	"reflect"
	"strings"
	"testing"
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
