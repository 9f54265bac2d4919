package client_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trucedb/truce"
)

// apiOnlyCodes are codes that docs/api.md defines and the SDK knows, but that
// the server does not answer with yet.
var apiOnlyCodes = map[string]string{}

// TestCodesMatchServer: the SDK has a Code constant for every code the
// server can answer with (truce.Codes), and none the server lacks, but for
// apiOnlyCodes. The constants are read from the package's source, so that
// a constant added to the SDK alone is found too.
func TestCodesMatchServer(t *testing.T) {
	sdk := sdkCodes(t)
	server := map[string]bool{}
	for _, c := range truce.Codes() {
		server[string(c)] = true
		if _, ok := sdk[string(c)]; !ok {
			t.Errorf("the server has the code %q and the SDK has no Code constant for it (client/errors.go)", c)
		}
	}
	for code, name := range sdk {
		why, apiOnly := apiOnlyCodes[code]
		switch {
		case server[code] && apiOnly:
			t.Errorf("%s (%q) is in truce.Codes() now: drop it from apiOnlyCodes (%s)", name, code, why)
		case !server[code] && !apiOnly:
			t.Errorf("the SDK has %s = %q, which is not a code of the server (truce.Codes)", name, code)
		}
	}
	for code := range apiOnlyCodes {
		if _, ok := sdk[code]; !ok {
			t.Errorf("apiOnlyCodes lists %q, which the SDK has no constant for", code)
		}
	}
}

// sdkCodes returns the value and name of every string constant named
// Code… in the package's non-test source files.
func sdkCodes(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	codes := map[string]string{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					if prev, dup := codes[v]; dup {
						t.Errorf("%s and %s are both %q", prev, name.Name, v)
					}
					codes[v] = name.Name
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no Code constants in the package's source")
	}
	return codes
}
