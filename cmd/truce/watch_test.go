package main

import (
	"strings"
	"testing"
)

func TestCLIWatch(t *testing.T) {
	s := mustServeCLI(t)
	for _, id := range []string{"a", "b"} {
		mustTruce(t, `{"n":1}`, "put", "notes", id, "--server", s.URL)
	}
	mustTruce(t, `{"n":2}`, "put", "notes", "a", "--server", s.URL)
	mustTruce(t, `{"n":1}`, "put", "other", "x", "--server", s.URL)

	r := mustTruce(t, "", "watch", "notes", "--from-start", "--count", "3", "--server", s.URL)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("watch printed %d lines:\n%s", len(lines), r.stdout)
	}
	for i, want := range []string{"1 document.created notes/a v1", "2 document.created notes/b v1", "3 document.updated notes/a v2"} {
		if got := strings.Join(strings.Fields(lines[i])[:4], " "); got != want {
			t.Errorf("line %d: %q, want it to start with %q", i, lines[i], want)
		}
	}

	r = mustTruce(t, "", "watch", "notes", "a", "--since", "1", "--count", "1", "--json", "--no-document", "--server", s.URL)
	ev := jsonObject(t, r.stdout)
	if ev["seq"] != float64(3) || ev["type"] != "document.updated" || ev["id"] != "a" || ev["document"] != nil {
		t.Errorf("watch --json: %s", r.stdout)
	}
	r = mustTruce(t, "", "watch", "--types", "document.created", "--since", "2", "--count", "1", "--json", "--server", s.URL)
	if ev := jsonObject(t, r.stdout); ev["seq"] != float64(4) || ev["collection"] != "other" {
		t.Errorf("watch --types: %s", r.stdout)
	}

	wantFail(t, 1, "", []string{"watch", "--since", "99", "--server", s.URL}, "invalid_parameter", "HTTP 400")
	wantFail(t, 1, "", []string{"watch", "--types", "nope", "--server", s.URL}, "invalid_parameter")
	wantFail(t, 2, "", []string{"watch", "a", "b", "c", "--server", s.URL})
}
