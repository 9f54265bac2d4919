package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

func TestColorJSON(t *testing.T) {
	in := `{
  "name": "a \"quoted\" key: no",
  "n": -12.5e+3,
  "ok": true,
  "none": null,
  "list": [1, "x", false],
  "nested": {"k\\": "v"}
}`
	got := string(colorJSON([]byte(in)))
	for _, want := range []string{
		colorKey + `"name"` + colorReset + ": " + colorString + `"a \"quoted\" key: no"` + colorReset,
		colorKey + `"n"` + colorReset + ": " + colorNumber + "-12.5e+3" + colorReset,
		colorLiteral + "true" + colorReset,
		colorLiteral + "null" + colorReset,
		"[" + colorNumber + "1" + colorReset + ", " + colorString + `"x"` + colorReset + ", " + colorLiteral + "false" + colorReset + "]",
		colorKey + `"k\\"` + colorReset + ": " + colorString + `"v"` + colorReset,
	} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("colorJSON lacks %q:\n%s", want, got)
		}
	}
	// Without the colours, the text is what went in.
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(got, "")
	if plain != in {
		t.Errorf("colorJSON changed the text:\n%s", plain)
	}
	if !json.Valid([]byte(plain)) {
		t.Error("not JSON any more")
	}
}

func TestUseColor(t *testing.T) {
	var buf bytes.Buffer
	if useColor(&buf) {
		t.Error("a buffer is coloured")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if useColor(f) {
		t.Error("a file is coloured")
	}
	t.Setenv("NO_COLOR", "1")
	if useColor(os.Stdout) {
		t.Error("coloured despite NO_COLOR")
	}
}

// Output that is not a terminal, as in the tests, carries no colour.
func TestCLIPlainWhenPiped(t *testing.T) {
	srv := mustServeCLI(t)
	r := mustTruce(t, `{"a":1}`, "put", "c", "d", "--server", srv.URL)
	if bytes.ContainsRune([]byte(r.stdout), 0x1b) {
		t.Errorf("escape sequences in piped output: %q", r.stdout)
	}
}
