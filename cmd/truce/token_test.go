package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trucedb/truce/auth"
)

// TestTokenCommands: create prints a token once and stores only its hash;
// a duplicate name, a bad scope and missing flags are bad usage (2);
// list shows names and scopes, never a token or hash; revoke removes it.
func TestTokenCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"token"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := cli("create", "--auth-file", path, "--name", "ci", "--scope", "read:*", "--scope", "write:orders", "--rate", "50/s")
	if code != exitOK {
		t.Fatalf("create: %d %s", code, errs)
	}
	token := strings.TrimSpace(out)
	f, err := auth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := auth.NewSet(f).Authenticate(token)
	if p == nil || p.Name != "ci" || !p.CanWrite("orders") || p.CanWrite("users") || !p.CanRead("users") {
		t.Fatalf("the printed token does not authenticate as ci with its scopes: %+v", p)
	}
	raw, _ := json.Marshal(f)
	if strings.Contains(string(raw), token) {
		t.Fatal("the auth file holds the token in clear")
	}
	for _, bad := range [][]string{
		{"create", "--auth-file", path, "--name", "ci", "--scope", "admin"},
		{"create", "--auth-file", path, "--name", "x", "--scope", "root"},
		{"create", "--auth-file", path, "--name", "x"},
		{"create", "--auth-file", path, "--scope", "admin"},
		{"create", "--name", "x", "--scope", "admin"},
		{"create", "--auth-file", path, "--name", "x", "--scope", "admin", "--rate", "fast"},
	} {
		if code, _, _ := cli(bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
	code, out, _ = cli("list", "--auth-file", path)
	if code != exitOK || !strings.Contains(out, "ci") || !strings.Contains(out, "write:orders") || strings.Contains(out, token) || strings.Contains(out, f.Tokens[0].SHA256) {
		t.Fatalf("list: %d %q", code, out)
	}
	code, out, _ = cli("list", "--auth-file", path, "--json")
	if code != exitOK || !strings.Contains(out, `"name":"ci"`) {
		t.Fatalf("list --json: %d %q", code, out)
	}
	if code, _, _ := cli("revoke", "--auth-file", path, "--name", "nobody"); code != exitFailure {
		t.Errorf("revoking an unknown name: exit %d", code)
	}
	if code, _, errs := cli("revoke", "--auth-file", path, "--name", "ci"); code != exitOK {
		t.Fatalf("revoke: %d %s", code, errs)
	}
	if f, err := auth.Load(path); err != nil || len(f.Tokens) != 0 {
		t.Fatalf("after revoke: %+v %v", f, err)
	}
}
