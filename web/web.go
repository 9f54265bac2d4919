// Package web owns the web console's assets (docs/api.md section 10): plain
// HTML, CSS and ES modules, with no build step and no third-party code, so
// that the files in console/ are the files a browser runs. They are
// embedded into the binary; the http package serves them at /ui/ when its
// Options name them, and the page talks to the server through the public
// HTTP API only.
package web

import (
	"embed"
	"io/fs"
)

//go:embed console
var files embed.FS

// Console is the console's files, flat: index.html and the scripts and
// styles it loads by relative path.
var Console fs.FS = mustSub(files, "console")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a literal that go:embed has checked
	}
	return sub
}
