package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce/client"
)

func TestCLIConflicts(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	mustTruce(t, `{"conflictPolicy":"manual"}`, "collection", "put", "notes", s)
	for _, id := range []string{"d1", "d2"} {
		mustTruce(t, `{"title":"a","n":1}`, "put", "notes", id, s)
		mustTruce(t, `{"title":"b","n":1}`, "put", "notes", id, "--version", "1", s)
		wantFail(t, 1, `{"title":"c","n":2}`, []string{"put", "notes", id, "--version", "1", s}, "merge_conflict", "recorded as conflict", "truce conflicts show ")
	}

	// The table: a header and one line per open conflict.
	r := mustTruce(t, "", "conflicts", s)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "PATHS") ||
		!strings.Contains(lines[1], "notes/d1") || !strings.Contains(lines[1], "/title") ||
		strings.Fields(lines[1])[2] != "1" || strings.Fields(lines[1])[3] != "2" || strings.Fields(lines[1])[4] != "open" {
		t.Fatalf("conflicts:\n%s", r.stdout)
	}
	cid1, cid2 := strings.Fields(lines[1])[0], strings.Fields(lines[2])[0]
	r = mustTruce(t, "", "conflicts", "--json", "--collection", "notes", s)
	lines = strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != 2 || jsonObject(t, lines[0])["id"] != cid1 {
		t.Fatalf("conflicts --json:\n%s", r.stdout)
	}
	if r = mustTruce(t, "", "conflicts", "--collection", "other", s); strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("conflicts of another collection:\n%s", r.stdout)
	}

	// The three-way view, with the ETag of the version the conflict met.
	v2 := etagRE.FindStringSubmatch(mustTruce(t, "", "version", "notes", "d1", "2", s).stderr)[1]
	r = mustTruce(t, "", "conflicts", "show", cid1, s)
	for _, want := range []string{"conflict " + cid1, "notes/d1", "based on version 1 met version 2 (ETag " + v2 + ")", "\n/title\n",
		`base (v1):    "a"`, `current (v2): "b"`, `proposed:     "c"`, "truce resolve " + cid1, "--if-match '" + v2 + "'"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	if m := jsonObject(t, mustTruce(t, "", "conflicts", "show", cid1, "--json", s).stdout); m["docId"] != "d1" {
		t.Errorf("show --json: %v", m)
	}
	wantFail(t, 1, "", []string{"conflicts", "show", "nosuch", s}, "HTTP 404")

	// resolve refuses to resolve blind: it needs --if-match, or --force.
	wantFail(t, 2, "", []string{"resolve", cid1, s}, "--strategy")
	wantFail(t, 2, "", []string{"resolve", cid1, "--strategy", "best", s}, "must be one of")
	wantFail(t, 2, "", []string{"resolve", cid1, "--strategy", "take-proposed", s},
		"give --if-match", "truce conflicts show "+cid1, "--force")
	wantFail(t, 2, "", []string{"resolve", cid1, "--strategy", "take-proposed", "--if-match", v2, "--force", s}, "not both")
	wantFail(t, 1, "", []string{"resolve", cid1, "--strategy", "take-proposed", "--if-match", `"1-1"`, s}, "precondition_failed", "--if-match")
	r = mustTruce(t, "", "resolve", cid1, "--strategy", "take-proposed", "--if-match", v2, s)
	if m := jsonObject(t, r.stdout); m["title"] != "c" || m["_version"] != 3.0 ||
		strings.Contains(r.stderr, "--force") || !strings.Contains(r.stderr, "notes/d1  version 3") {
		t.Errorf("resolve: %s / %s", r.stdout, r.stderr)
	}
	wantFail(t, 1, "", []string{"resolve", cid1, "--strategy", "merge", "--force", s}, "HTTP 409")

	// A custom resolution from a file, with an explicit ETag.
	get := mustTruce(t, "", "get", "notes", "d2", s)
	tag := etagRE.FindStringSubmatch(get.stderr)[1]
	file := filepath.Join(t.TempDir(), "fix.json")
	if err := os.WriteFile(file, []byte(`{"title":"b+c","n":2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	wantFail(t, 2, "", []string{"resolve", cid2, "--strategy", "merge", "-f", file, s}, "-f goes only")
	r = mustTruce(t, "", "resolve", cid2, "--strategy", "custom", "-f", file, "--if-match", tag, "--json", s)
	if m := jsonObject(t, r.stdout); m["title"] != "b+c" || strings.Contains(r.stderr, "using the current ETag") {
		t.Errorf("resolve custom: %s / %s", r.stdout, r.stderr)
	}
	r = mustTruce(t, "", "conflicts", "--status", "resolved", "--json", s)
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Errorf("%d resolved conflicts:\n%s", n, r.stdout)
	}

	// dismiss.
	mustTruce(t, `{"title":"x","n":5}`, "put", "notes", "d1", "--version", "3", s)
	wantFail(t, 1, `{"title":"y","n":5}`, []string{"put", "notes", "d1", "--version", "3", s}, "merge_conflict")
	var cf map[string]any
	line := strings.TrimSpace(mustTruce(t, "", "conflicts", "--json", s).stdout)
	if err := json.Unmarshal([]byte(line), &cf); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	// --force resolves against the current version, and says so.
	mustTruce(t, `{"title":"z","n":6}`, "put", "notes", "d1", s) // the document moved on
	r = mustTruce(t, "", "resolve", cf["id"].(string), "--strategy", "keep-current", "--force", s)
	if m := jsonObject(t, r.stdout); m["title"] != "z" || !strings.Contains(r.stderr, "--force: using the current ETag of notes/d1") {
		t.Errorf("resolve --force: %s / %s", r.stdout, r.stderr)
	}
	mustTruce(t, `{"title":"x","n":5}`, "put", "notes", "d1", "--version", "6", s)
	wantFail(t, 1, `{"title":"y","n":5}`, []string{"put", "notes", "d1", "--version", "6", s}, "merge_conflict")
	line = strings.TrimSpace(mustTruce(t, "", "conflicts", "--json", s).stdout)
	if err := json.Unmarshal([]byte(line), &cf); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	r = mustTruce(t, "", "dismiss", cf["id"].(string), s)
	if !strings.Contains(r.stdout, "dismissed conflict "+cf["id"].(string)+" (notes/d1)") {
		t.Errorf("dismiss: %s", r.stdout)
	}
	if r = mustTruce(t, "", "conflicts", s); strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("open conflicts after all closed:\n%s", r.stdout)
	}
	wantFail(t, 2, "", []string{"dismiss", s}, "accepts 1 arg(s)")
	wantFail(t, 2, "", []string{"conflicts", "--status", "closed", s}, "must be one of")
}

// TestConflictJSONTimes: --json writes a conflict's times as the server
// does, with three decimals, not as encoding/json would (.12).
func TestConflictJSONTimes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.UTC)
	for _, tc := range []struct {
		closed time.Time
		want   string
	}{
		{time.Time{}, `"createdAt":"2026-01-02T03:04:05.120Z"`},
		{at.Add(time.Second), `"closedAt":"2026-01-02T03:04:06.120Z"`},
	} {
		b, err := json.Marshal(conflictJSON(&client.Conflict{ID: "c1", CreatedAt: at, ClosedAt: tc.closed}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) || strings.Count(string(b), "createdAt") != 1 ||
			strings.Contains(string(b), "closedAt") != !tc.closed.IsZero() {
			t.Errorf("%s, want %s", b, tc.want)
		}
	}
}
