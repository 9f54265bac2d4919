// Package authtest makes auth files for tests: a Keeper over a file of
// the tokens a test names, in the test's temporary directory.
package authtest

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/trucedb/truce/auth"
)

// Token is a token a test holds: its name, the token itself, and its
// scopes.
type Token struct {
	Name   string
	Token  string
	Scopes []string
}

// Keeper writes an auth file of tokens and returns a Keeper over it that
// logs nowhere, and the file's path; it fails the test on any error.
func Keeper(tb testing.TB, tokens ...Token) (*auth.Keeper, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "auth.json")
	f := &auth.File{Tokens: []auth.Entry{}}
	for _, t := range tokens {
		f.Tokens = append(f.Tokens, auth.Entry{Name: t.Name, SHA256: auth.HashToken(t.Token), Scopes: t.Scopes})
	}
	if err := f.Save(path); err != nil {
		tb.Fatal(err)
	}
	k, err := auth.NewKeeper(path, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	return k, path
}
