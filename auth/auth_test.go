package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucedb/truce/auth"
	"golang.org/x/time/rate"
)

func entry(name, token string, scopes ...string) auth.Entry {
	return auth.Entry{Name: name, SHA256: auth.HashToken(token), Scopes: scopes}
}

func fileJSON(tb testing.TB, es ...auth.Entry) []byte {
	tb.Helper()
	b, err := json.Marshal(auth.File{Tokens: es})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestParseFile: a well-formed file loads; every malformed one is refused
// with an error that names what is wrong.
func TestParseFile(t *testing.T) {
	good := entry("ci", "t1", "read:*", "write:orders")
	hash := good.SHA256
	cases := []struct {
		name, data, wantErr string
	}{
		{"good", string(fileJSON(t, good, entry("ops", "t2", "admin"))), ""},
		{"empty list", `{"tokens":[]}`, ""},
		{"upper-case hash", `{"tokens":[{"name":"ci","sha256":"` + strings.ToUpper(hash) + `","scopes":["admin"]}]}`, ""},
		{"rate", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"rate":"50/s","burst":10}]}`, ""},
		{"not json", `{`, "not {"},
		{"unknown field", `{"tokens":[],"extra":1}`, "unknown field"},
		{"unknown entry field", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"token":"x"}]}`, "unknown field"},
		{"two values", `{"tokens":[]} {}`, "more than one"},
		{"bad name", `{"tokens":[{"name":"c i","sha256":"` + hash + `","scopes":["admin"]}]}`, "name"},
		{"short hash", `{"tokens":[{"name":"ci","sha256":"abc","scopes":["admin"]}]}`, "64 hex"},
		{"no scopes", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":[]}]}`, "no scopes"},
		{"bad scope", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["delete:*"]}]}`, "scope"},
		{"bad collection", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["read:Orders"]}]}`, "collection name"},
		{"bad rate", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"rate":"fast"}]}`, "rate"},
		{"zero rate", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"rate":"0/s"}]}`, "rate"},
		{"negative burst", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"burst":-1}]}`, "burst"},
		{"burst without rate", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"burst":5}]}`, "burst"},
		{"NaN rate", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"rate":"NaN/s"}]}`, "rate"},
		{"infinite rate", `{"tokens":[{"name":"ci","sha256":"` + hash + `","scopes":["admin"],"rate":"Inf/s"}]}`, "rate"},
		{"duplicate name", string(fileJSON(t, good, entry("ci", "t2", "admin"))), "used twice"},
		{"duplicate hash", string(fileJSON(t, good, entry("other", "t1", "admin"))), "listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := auth.ParseFile([]byte(c.data))
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("ParseFile: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("ParseFile = %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}

// TestScopes: what each scope allows, write implying read, admin allowing
// everything, and a server without auth file allowing everything.
func TestScopes(t *testing.T) {
	f, err := auth.ParseFile(fileJSON(t,
		entry("reader", "r", "read:orders"),
		entry("writer", "w", "write:orders", "read:users"),
		entry("all", "a", "read:*"),
		entry("allw", "aw", "write:*"),
		entry("admin", "ad", "admin"),
	))
	if err != nil {
		t.Fatal(err)
	}
	set := auth.NewSet(f)
	type can struct{ readOrders, writeOrders, readUsers, writeUsers, admin, readsAll bool }
	cases := []struct {
		token string
		want  can
	}{
		{"r", can{readOrders: true}},
		{"w", can{readOrders: true, writeOrders: true, readUsers: true}},
		{"a", can{readOrders: true, readUsers: true, readsAll: true}},
		{"aw", can{true, true, true, true, false, true}},
		{"ad", can{true, true, true, true, true, true}},
	}
	for _, c := range cases {
		p := set.Authenticate(c.token)
		if p == nil || !p.Authenticated() {
			t.Fatalf("token %q not authenticated", c.token)
		}
		got := can{p.CanRead("orders"), p.CanWrite("orders"), p.CanRead("users"), p.CanWrite("users"), p.IsAdmin(), p.ReadsAll()}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", p.Name, got, c.want)
		}
	}
	if p := set.Authenticate("nope"); p != nil {
		t.Errorf("an unknown token authenticated as %s", p.Name)
	}
	if p := set.Authenticate(""); p != nil {
		t.Errorf("the empty token authenticated as %s", p.Name)
	}
	anon := auth.Anonymous("127.0.0.1")
	if anon.Authenticated() || !anon.CanWrite("x") || !anon.IsAdmin() || !anon.ReadsAll() {
		t.Errorf("an anonymous client of a server without auth must be allowed everything")
	}
}

// TestRates: a token's rate and burst, and the default burst.
func TestRates(t *testing.T) {
	e := entry("slow", "s", "admin")
	e.Rate = "600/m"
	e2 := entry("fast", "f", "admin")
	e2.Rate, e2.Burst = "50/s", 7
	f, err := auth.ParseFile(fileJSON(t, e, e2, entry("default", "d", "admin")))
	if err != nil {
		t.Fatal(err)
	}
	set := auth.NewSet(f)
	for _, c := range []struct {
		token string
		limit rate.Limit
		burst int
	}{{"s", 10, 20}, {"f", 50, 7}, {"d", 0, 0}} {
		p := set.Authenticate(c.token)
		if p.Limit != c.limit || p.Burst != c.burst {
			t.Errorf("%s: limit %v burst %d, want %v and %d", p.Name, p.Limit, p.Burst, c.limit, c.burst)
		}
	}
}

// TestNewToken: tokens are long, distinct, and what the hash names.
func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := auth.NewToken()
		if !strings.HasPrefix(tok, "truce_") || len(tok) < len("truce_")+43 || seen[tok] {
			t.Fatalf("token %q: want truce_ and 256 bits, never repeated", tok)
		}
		seen[tok] = true
	}
}

// TestSaveLoad: Save writes a file only its owner can read, which Load
// reads back; Add refuses a duplicate name and Remove an unknown one.
func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	f, err := auth.LoadOrEmpty(path)
	if err != nil || len(f.Tokens) != 0 {
		t.Fatalf("LoadOrEmpty of a missing file: %v %v", f, err)
	}
	if err := f.Add(entry("ci", "t1", "read:*")); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(entry("ci", "t2", "read:*")); err == nil {
		t.Fatal("a duplicate name was added")
	}
	if err := f.Add(entry("bad", "t3", "root")); err == nil {
		t.Fatal("a bad scope was added")
	}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", fi.Mode(), err)
	}
	back, err := auth.Load(path)
	if err != nil || len(back.Tokens) != 1 || back.Tokens[0].Name != "ci" {
		t.Fatalf("Load: %+v %v", back, err)
	}
	if err := back.Remove("nobody"); err == nil {
		t.Fatal("removing an unknown name succeeded")
	}
	if err := back.Remove("ci"); err != nil || len(back.Tokens) != 0 {
		t.Fatalf("Remove: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestKeeper: the Keeper picks up a changed file by itself and on Reload,
// and keeps the previous tokens (logging why) when the new file is bad.
func TestKeeper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, fileJSON(t, entry("one", "t1", "admin")), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	k, err := auth.NewKeeper(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if k.Set().Authenticate("t1") == nil {
		t.Fatal("t1 not loaded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); k.Watch(ctx, 5*time.Millisecond) }()
	f := &auth.File{Tokens: []auth.Entry{entry("two", "t2", "admin")}}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for k.Set().Authenticate("t2") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the changed file was not reloaded")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if k.Set().Authenticate("t1") != nil {
		t.Fatal("the revoked token still works")
	}
	if err := os.WriteFile(path, []byte(`{"tokens":[{"name":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if k.Set().Authenticate("t2") == nil {
		t.Fatal("a broken file dropped the previous tokens")
	}
	if !strings.Contains(logs.String(), "keeping the previous tokens") {
		t.Fatalf("the failed reload was not logged: %s", logs.String())
	}
}

// FuzzParseFile: no input makes the parser panic, and whatever it accepts
// builds a Set and survives a save and a load unchanged.
func FuzzParseFile(f *testing.F) {
	f.Add(fileJSON(f, entry("ci", "t1", "read:*", "write:orders")))
	f.Add([]byte(`{"tokens":[{"name":"a","sha256":"` + strings.Repeat("0", 64) + `","scopes":["admin"],"rate":"1.5/m","burst":3}]}`))
	f.Add([]byte(`{"tokens":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := auth.ParseFile(data)
		if err != nil {
			return
		}
		set := auth.NewSet(file)
		if set.Len() != len(file.Tokens) {
			t.Fatalf("set of %d tokens from %d entries", set.Len(), len(file.Tokens))
		}
		again, err := json.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := auth.ParseFile(again); err != nil {
			t.Fatalf("an accepted file does not parse after a save: %v", err)
		}
	})
}
