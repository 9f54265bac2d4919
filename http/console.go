package http

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/trucedb/truce"
)

// consoleCSP keeps the console's page to its own files: no inline script,
// no other origin, no framing. The page reaches the server by fetch only.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleRedirect serves GET /ui: the console's page is /ui/, whose
// relative links name its files.
func (h *Handler) consoleRedirect(w http.ResponseWriter, r *http.Request) {
	if h.console == nil {
		h.problem(w, r, noConsole())
		return
	}
	w.Header().Set("Location", "/ui/")
	w.WriteHeader(http.StatusMovedPermanently)
}

// consolePage serves GET /ui/, the console's page.
func (h *Handler) consolePage(w http.ResponseWriter, r *http.Request) {
	h.serveConsoleFile(w, r, "index.html")
}

// consoleFile serves GET /ui/{file}, one of the page's scripts or styles.
func (h *Handler) consoleFile(w http.ResponseWriter, r *http.Request) {
	h.serveConsoleFile(w, r, r.PathValue("file"))
}

// serveConsoleFile answers with the console's file name, public as the
// problem pages are: the files hold no data, and the page asks for a
// token before it calls the API, whose every route checks it. The files
// change only with the binary, so a strong ETag of their content lets a
// browser revalidate them cheaply (no-cache: always revalidate, so an
// upgraded server never runs with yesterday's scripts).
func (h *Handler) serveConsoleFile(w http.ResponseWriter, r *http.Request, name string) {
	if h.console == nil {
		h.problem(w, r, noConsole())
		return
	}
	b, err := fs.ReadFile(h.console, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
			h.problem(w, r, truce.Errorf(truce.CodeNotFound, "the console has no file %q; its page is /ui/", name))
			return
		}
		h.problem(w, r, err)
		return
	}
	sum := sha256.Sum256(b)
	hd := w.Header()
	hd.Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("Content-Security-Policy", consoleCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		hd.Set("Content-Type", ct)
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func noConsole() error {
	return truce.Errorf(truce.CodeNotFound, "this server serves no web console (its Handler was made without Options.Console)")
}
