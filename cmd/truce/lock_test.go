package main

import (
	"strings"
	"testing"
)

func TestCLILock(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	r := mustTruce(t, "", "lock", "notes", "n1", "--ttl", "1m", "--owner", "alice", s)
	token := strings.TrimSpace(r.stdout)
	if len(token) != 32 || !strings.Contains(r.stderr, `locked notes/n1 for "alice"`) {
		t.Fatalf("lock: %q / %q", r.stdout, r.stderr)
	}
	r = mustTruce(t, "", "lock", "show", "notes", "n1", s)
	if !strings.Contains(r.stdout, `notes/n1 is locked by "alice" until`) || strings.Contains(r.stdout, token) {
		t.Fatalf("lock show: %q", r.stdout)
	}
	if m := jsonObject(t, mustTruce(t, "", "lock", "show", "notes", "n1", "--json", s).stdout); m["owner"] != "alice" || m["token"] != nil {
		t.Fatalf("lock show --json: %v", m)
	}
	// Writes without the token are refused; with it they go through.
	wantFail(t, 1, `{"x":1}`, []string{"put", "notes", "n1", s}, "locked", "HTTP 423")
	wantFail(t, 1, "", []string{"lock", "notes", "n1", s}, "locked", "--wait", "truce lock show notes n1")
	mustTruce(t, `{"x":1}`, "put", "notes", "n1", "--lock-token", token, s)
	mustTruce(t, `{"x":2}`, "patch", "notes", "n1", "--lock-token", token, s)
	if m := jsonObject(t, mustTruce(t, "", "lock", "notes", "n1", "--lock-token", token, "--ttl", "2m", "--json", s).stdout); m["token"] != token {
		t.Fatalf("renew --json: %v", m)
	}
	wantFail(t, 1, "", []string{"unlock", "notes", "n1", "--lock-token", "nope", s}, "lock_token_mismatch")
	wantFail(t, 2, "", []string{"unlock", "notes", "n1", s}, "--lock-token TOKEN")
	wantFail(t, 2, "", []string{"lock", "notes", "n1", "--ttl", "soon", s}, "--ttl")
	mustTruce(t, "", "unlock", "notes", "n1", "--lock-token", token, s)
	wantFail(t, 1, "", []string{"delete", "notes", "n1", "--lock-token", token, s}, "lock_expired", "HTTP 412")
	wantFail(t, 1, "", []string{"lock", "show", "notes", "n1", s}, "not_found")

	// An administrator breaks a lock without its token.
	mustTruce(t, "", "lock", "notes", "n1", s)
	if r := mustTruce(t, "", "unlock", "notes", "n1", "--force", s); r.stdout != "unlocked notes/n1\n" {
		t.Fatalf("unlock --force: %q", r.stdout)
	}
	mustTruce(t, "", "delete", "notes", "n1", s)
}
