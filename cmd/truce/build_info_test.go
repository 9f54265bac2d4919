package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestVersionOfBuild checks that 'truce version' and 'truce --version'
// print the same description of the build, with every part named.
func TestVersionOfBuild(t *testing.T) {
	plain := mustTruce(t, "", "version")
	flag := mustTruce(t, "", "--version")
	if plain.stdout != flag.stdout {
		t.Errorf("truce version printed\n%s\ntruce --version printed\n%s", plain.stdout, flag.stdout)
	}
	for _, want := range []string{"truce ", "\ncommit: ", "\ngo: " + runtime.Version() + "\n", "\ncommit time: "} {
		if !strings.Contains(plain.stdout, want) {
			t.Errorf("truce version lacks %q:\n%s", want, plain.stdout)
		}
	}
	if plain.stderr != "" {
		t.Errorf("truce version wrote to stderr: %s", plain.stderr)
	}
	wantFail(t, 2, "", []string{"version", "notes", "n1"}, "no arguments", "COLLECTION ID N")
}
