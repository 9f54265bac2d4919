package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trucedb/truce/auth/authtest"
	"github.com/trucedb/truce/internal/testserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testserver.Cleanup()
	os.Exit(code)
}

// The tokens of the browser test: the person at the console (admin, so
// that they may change settings and break locks) and a second writer.
const (
	tokAdmin = "truce_console_admin"
	tokBob   = "truce_console_bob"
)

// screenshots, when TRUCE_SCREENSHOTS=1, makes the test write the images
// of docs/console/ that the README shows.
var screenshots = os.Getenv("TRUCE_SCREENSHOTS") == "1"

// TestConsoleInBrowser drives the console in a real headless Chromium
// against a real `truce serve` with authentication on: sign in, create a
// collection and a document, edit it, meet a second writer's save both
// live (the banner) and as a 412 and resolve it in the page, follow a
// live update, restore a version, break a lock, resolve and dismiss
// recorded conflicts in the three-column view, overwrite deliberately,
// page through a collection; the page must log no JavaScript error on
// the way, and must not overflow 360 px.
func TestConsoleInBrowser(t *testing.T) {
	chromium := findChromium(t)
	bin := testserver.Build(t)
	_, authFile := authtest.Keeper(t,
		authtest.Token{Name: "admin", Token: tokAdmin, Scopes: []string{"admin"}},
		authtest.Token{Name: "bob", Token: tokBob, Scopes: []string{"write:*"}},
	)
	srv := testserver.Start(t, bin, t.TempDir(), "--auth-file", authFile)
	b := newBrowser(t, chromium, srv.URL)
	start := time.Now()
	defer func() { t.Logf("the browser's stages took %v", time.Since(start).Round(time.Millisecond)) }()
	bob := &apiClient{t: t, base: srv.URL, token: tokBob}

	// Sign in: a wrong token is refused at the field; the right one opens
	// the collections and the live feed.
	b.do("open the console", chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.shot("sign-in")
	b.do("a wrong token", b.setText("#token", "nope"), chromedp.Click(chromedp.CSS("#sign-in")), b.waitText("#token-error", "does not know this token"))
	b.do("sign in", b.setText("#token", tokAdmin), chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#collections")), b.waitAttr("#live", "data-live", "on"))

	// A collection, created in the page; its settings refuse bad input at
	// the field (the server's answer and the page's own JSON check).
	b.do("create a collection", b.setText("#new-collection", "notes"), b.setValue("#new-policy", "manual"),
		chromedp.Click(chromedp.CSS("#create-collection")), chromedp.WaitVisible(chromedp.CSS("#settings")))
	b.do("a reference to a bad collection name", b.setText("#set-references", `{"owner": "BAD"}`),
		chromedp.Click(chromedp.CSS("#save-settings")), b.waitText("#err-references", "not a valid collection name"))
	b.do("a schema that is not JSON", b.setText("#set-references", `{}`), b.setText("#set-schema", `{"type": `),
		chromedp.Click(chromedp.CSS("#save-settings")), b.waitText("#err-schema", "JSON"))
	b.do("valid settings", b.setText("#set-schema", `{"type": "object"}`), b.setText("#set-historyLimit", "50"),
		chromedp.Click(chromedp.CSS("#save-settings")), b.waitText("#settings", "Saved."))
	if s := bob.get("/v1/collections/notes"); s["settings"].(map[string]any)["historyLimit"] != float64(50) {
		t.Fatalf("the settings saved in the page are not the server's: %v", s)
	}

	// A document: a syntax error is shown before anything is sent.
	b.do("new document", chromedp.Click(chromedp.CSS("#new-doc")), chromedp.WaitVisible(chromedp.CSS("#editor")),
		b.setText("#doc-id", "n1"), b.setText("#editor", `{"title": "first",`), b.waitText("#syntax", "Not valid JSON"),
		b.waitJS(`document.querySelector("#save").disabled`))
	b.do("create it", b.setText("#editor", `{"title": "first", "body": "x"}`), chromedp.Click(chromedp.CSS("#save")),
		b.waitText("#meta", "Version 1"))
	b.do("edit it", b.setText("#editor", `{"title": "second", "body": "x"}`), chromedp.Click(chromedp.CSS("#save")),
		b.waitText("#meta", "Version 2"), b.waitText("#status", "Saved version 2"))

	// Someone else saves while the person edits: the banner says so, and
	// saving anyway is a 412 that shows theirs beside mine; re-applying
	// the edit on theirs and saving keeps both changes.
	b.do("start an edit", b.setText("#editor", `{"title": "mine", "body": "x"}`))
	etag := bob.head("/v1/collections/notes/docs/n1")
	bob.send("PUT", "/v1/collections/notes/docs/n1", `{"title": "second", "body": "theirs"}`, "If-Match", etag).want(200)
	b.do("the banner", b.waitText("#banner", "changed under you"))
	b.do("save anyway: 412", chromedp.Click(chromedp.CSS("#save")), chromedp.WaitVisible(chromedp.CSS("#resolution")),
		b.waitText("#differ", "/body"), b.waitText("#differ", "/title"), b.waitText("#resolution", "by bob"))
	b.shot("412-resolution")
	b.do("re-apply and save", chromedp.Click(chromedp.CSS("#reapply")), b.waitText("#status", "re-applied on version 3"),
		chromedp.Click(chromedp.CSS("#save")), b.waitText("#meta", "Version 4"))
	if d := bob.get("/v1/collections/notes/docs/n1"); d["title"] != "mine" || d["body"] != "theirs" || d["_updatedBy"] != "admin" {
		t.Fatalf("after re-applying the edit on theirs: %v, want title mine (the edit) and body theirs", d)
	}

	// A live update of a document nobody is editing arrives in place.
	etag = bob.head("/v1/collections/notes/docs/n1")
	bob.send("PUT", "/v1/collections/notes/docs/n1", `{"title": "mine", "body": "live"}`, "If-Match", etag).want(200)
	b.do("the live update", b.waitText("#meta", "Version 5"), b.waitText("#status", "Updated live to version 5 by bob"),
		b.waitJS(`document.querySelector("#editor").value.includes('"live"')`))

	// A lock, taken elsewhere, shows up live and is broken in the page.
	bob.send("POST", "/v1/collections/notes/docs/n1/lock", `{"ttl": "60s", "owner": "bob"}`).want(201)
	b.do("the lock", b.waitText("#lock-state", "Locked by bob"))
	b.do("break it", chromedp.Click(chromedp.CSS("#break-lock")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")), b.waitText("#lock-state", "Not locked"))
	bob.send("GET", "/v1/collections/notes/docs/n1/lock", "").want(404)

	// History: the versions and who wrote them, a diff, a restore.
	b.do("history", chromedp.Click(chromedp.CSS("#history-link")), chromedp.WaitVisible(chromedp.CSS("#versions")),
		b.waitJS(`document.querySelectorAll("#versions tbody tr").length === 5`),
		b.waitText("#versions", "bob"), b.waitText("#diff", "Version 4 → version 5"),
		b.waitJS(`[...document.querySelectorAll("#diff .line.add")].some(e => e.textContent.includes('"live"'))`))
	b.shot("history")
	b.do("restore version 1", chromedp.Click(chromedp.CSS(`[data-restore="1"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")), b.waitText("#history-status", "Restored version 1 as version 6"),
		b.waitJS(`document.querySelectorAll("#versions tbody tr").length === 6`))
	if d := bob.get("/v1/collections/notes/docs/n1"); d["title"] != "first" || d["_version"] != float64(6) {
		t.Fatalf("after restoring version 1: %v", d)
	}

	// Conflicts: one recorded while the list is open shows up live; the
	// three columns mark the conflicting path; a custom resolution is
	// written; another conflict is dismissed.
	b.do("the conflicts", b.navigate("#/conflicts"), b.waitText("#conflicts", "No open conflicts"))
	cid := bob.conflict("notes", "n1", `{"title": "proposed", "body": "live", "_version": 5}`)
	b.do("the conflict arrives", b.waitJS(fmt.Sprintf(`!!document.querySelector('[data-conflict=%q]')`, cid)),
		b.waitText("#conflict-count", "1"))
	b.do("open it", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-conflict=%q] a.button`, cid))), chromedp.WaitVisible(chromedp.CSS("#columns")),
		b.waitJS(`["base", "current", "proposed"].every(c => [...document.querySelectorAll('[data-column="' + c + '"] .line.hl')].some(e => e.dataset.path === "/title"))`),
		b.waitText(`[data-column="proposed"]`, `"proposed"`), b.waitText("#paths", "/title"),
		b.waitJS(`document.querySelector('[data-column="current"] .line.chg[data-path="/body"]') && !document.querySelector('[data-column="proposed"] .line.chg')`))
	b.shot("conflict")
	b.do("resolve with a custom document", b.setText("#custom", `{"title": "agreed", "body": "x"}`),
		chromedp.Click(chromedp.CSS(`[data-strategy="custom"]`)), b.waitText("#resolve-result", "Resolved (custom) as version 7"))
	if d := bob.get("/v1/collections/notes/docs/n1"); d["title"] != "agreed" {
		t.Fatalf("after the custom resolution: %v", d)
	}
	if c := bob.get("/v1/conflicts/" + cid); c["status"] != "resolved" {
		t.Fatalf("the conflict after resolving: %v", c)
	}
	cid2 := bob.conflict("notes", "n1", `{"title": "again", "body": "x", "_version": 6}`)
	b.do("dismiss another", b.navigate("#/conflicts/"+cid2), b.waitText(".crumbs", cid2),
		chromedp.Click(chromedp.CSS("#dismiss")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")), b.waitText("#resolve-result", "Dismissed"))
	if c := bob.get("/v1/conflicts/" + cid2); c["status"] != "dismissed" {
		t.Fatalf("the conflict after dismissing: %v", c)
	}

	cid3 := bob.conflict("notes", "n1", `{"title": "merged", "body": "x", "_version": 6}`)
	b.do("merge a third", b.navigate("#/conflicts/"+cid3), b.waitText(".crumbs", cid3),
		chromedp.Click(chromedp.CSS(`[data-strategy="merge"]`)), b.waitText("#resolve-result", "Resolved (merge) as version 8"))
	if d := bob.get("/v1/collections/notes/docs/n1"); d["title"] != "merged" {
		t.Fatalf("after the merge resolution (proposed wins where both changed): %v", d)
	}

	// Overwriting is possible, but only deliberately: the banner's
	// comparison, then a confirmed overwrite. Ctrl+S saves from the editor.
	b.do("edit again", b.navigate("#/c/notes/d/n1"), b.waitText("#meta", "Version 8"),
		b.setText("#editor", `{"title": "overwrite", "body": "x"}`))
	etag = bob.head("/v1/collections/notes/docs/n1")
	bob.send("PUT", "/v1/collections/notes/docs/n1", `{"title": "merged", "body": "bob"}`, "If-Match", etag).want(200)
	b.do("compare from the banner", b.waitText("#banner", "changed under you"), chromedp.Click(chromedp.CSS("#show-theirs")),
		chromedp.WaitVisible(chromedp.CSS("#resolution")), b.waitText("#resolution", "Changed under you"), b.waitJS(`document.querySelector("#banner").hidden`))
	b.do("overwrite", chromedp.Click(chromedp.CSS("#overwrite")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")), b.waitText("#status", "Overwritten: saved version 10"))
	if d := bob.get("/v1/collections/notes/docs/n1"); d["title"] != "overwrite" || d["body"] != "x" {
		t.Fatalf("after the overwrite: %v", d)
	}
	b.do("Ctrl+S", b.setText("#editor", `{"title": "keyboard", "body": "x"}`),
		chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)), b.waitText("#meta", "Version 11"))

	// A resolution is written with If-Match on the version the conflict
	// page read: when the document moved on meanwhile, the page says so.
	cid4 := bob.conflict("notes", "n1", `{"title": "late", "body": "x", "_version": 10}`)
	b.do("a conflict page", b.navigate("#/conflicts/"+cid4), b.waitText(".crumbs", cid4), chromedp.WaitVisible(chromedp.CSS("#columns")))
	etag = bob.head("/v1/collections/notes/docs/n1")
	bob.send("PUT", "/v1/collections/notes/docs/n1", `{"title": "moved on", "body": "x"}`, "If-Match", etag).want(200)
	b.do("resolve a stale page", chromedp.Click(chromedp.CSS(`[data-strategy="keep-current"]`)),
		b.waitText("#resolve-error", "changed since this page read it"))
	if c := bob.get("/v1/conflicts/" + cid4); c["status"] != "open" {
		t.Fatalf("a refused resolution closed the conflict: %v", c)
	}

	// The lists follow the feed too: a document written elsewhere appears
	// in the open collection.
	b.do("the collection", b.navigate("#/c/notes"), chromedp.WaitVisible(chromedp.CSS("#docs")), b.waitText("#docs", "n1"))
	bob.send("PUT", "/v1/collections/notes/docs/n2", `{"title": "from bob"}`).want(201)
	b.do("the new document arrives", b.waitJS(`!!document.querySelector('[data-doc="n2"]')`), b.waitText("#counts", "2 documents"))
	b.shot("collection")
	b.do("the collections", b.navigate("#/"), b.waitText("#collections", "notes"))
	b.shot("collections")

	// Documents come a page (20) at a time.
	var ops []string
	for i := range 21 {
		ops = append(ops, fmt.Sprintf(`{"op": "create", "collection": "pages", "document": {"_id": "p%02d"}}`, i))
	}
	bob.send("POST", "/v1/tx", `{"ops": [`+strings.Join(ops, ",")+`]}`).want(200)
	b.do("page 1", b.navigate("#/c/pages"), b.waitJS(`document.querySelectorAll("#docs tbody tr").length === 20`))
	b.do("page 2", chromedp.Click(chromedp.CSS("#next-page")), b.waitJS(`document.querySelectorAll("#docs tbody tr").length === 1`),
		b.waitText("#docs", "p20"), b.waitText("main", "Page 2"))
	// (The list redraws as the creates' events arrive: go by the address,
	// not by a link that may be replaced under the click.)
	b.do("delete one", b.navigate("#/c/pages/d/p20"), b.waitText("#meta", "Version 1"),
		chromedp.Click(chromedp.CSS("#delete")), chromedp.WaitVisible(chromedp.CSS("#confirm-ok")), chromedp.Click(chromedp.CSS("#confirm-ok")),
		b.waitText("#counts", "20 documents, 1 deleted"))
	bob.send("GET", "/v1/collections/pages/docs/p20", "").want(404)

	// Readable at 360 px: nothing wider than the screen.
	b.do("a phone's width", chromedp.EmulateViewport(360, 740), b.navigate("#/c/notes/d/n1"), b.waitText("#meta", "Version 12"),
		b.waitJS(`document.documentElement.scrollWidth <= 361`))
	b.shot("phone")
	b.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#token")),
		b.waitAttr("#live", "data-live", "off"), b.waitJS(`!sessionStorage.getItem("truce.token")`))

	// The console's own JSON work, on cases the stages above do not reach.
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(async () => {
		const j = await import("./json.js");
		return JSON.stringify([
			j.reapply({a: 1, b: {c: 1, d: 1}}, {a: 2, b: {c: 1, d: 1}}, {a: 1, b: {c: 3, d: 1}}),
			j.reapply({a: 1, b: {c: 1}}, {a: 2, b: {c: 1}}, {a: 3}),
			j.reapply({a: 1, gone: true}, {a: 1}, {a: 5, gone: true}),
			j.diffPaths({x: {"a/b": 1, "t~": [1]}}, {x: {"a/b": 2, "t~": [1, 2]}}),
			j.parse('{"a": 1,\n "b": }').error.endsWith("(line 2, column 7)"),
			/line 1,? column 9/.test(j.parse('{"a": "x\n"}').error),
			j.parse("[1]").error,
		]);
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("json.js: %v", err)
	}
	want := `[{"doc":{"a":2,"b":{"c":3,"d":1}},"clashes":[]},` +
		`{"doc":{"a":2},"clashes":["/a"]},` +
		`{"doc":{"a":5},"clashes":[]},` +
		`["/x/a~1b","/x/t~0"],true,true,"a document is a JSON object: {…}"]`
	if got != want {
		t.Errorf("json.js:\n got %s\nwant %s", got, want)
	}

	// Without authentication the console opens straight on the
	// collections, with no token asked and none to sign out of.
	open := testserver.Start(t, bin, t.TempDir())
	b.do("a server without auth", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(open.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#collections")), b.waitAttr("#live", "data-live", "on"),
		b.waitJS(`!document.querySelector("#token") && document.querySelector("#sign-out").hidden`))
	b.checkNoErrors()
}

// findChromium returns Debian's chromium, or fails the test saying how to
// install it: the console is tested in a real browser or not at all.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium to test the web console in: install Debian's chromium package (apt-get install chromium); .ci/run does")
	return ""
}

// browser is one headless Chromium tab, and what its page logged.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu   sync.Mutex
	errs []string // console errors and exceptions, as they came
}

func newBrowser(t *testing.T, chromium, base string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	// Start the browser (without a timeout: it lives as long as ctx), then
	// collect everything the page logs.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.note(m)
		}
	}()
	return b
}

// note keeps m if it is an error. The browser logs every 4xx answer of
// the API as a failed load; the page expects those (a 401 before sign-in,
// a 412 it resolves), so they are not errors of the page. Any other
// failed load, such as one of the console's own files, is.
func (b *browser) note(m chromedp.ConsoleMessage) {
	if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
		return
	}
	if m.Source == "network" && strings.HasPrefix(m.URL, b.base+"/v1/") {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
}

func (b *browser) checkNoErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		b.t.Fatalf("the page logged JavaScript errors:\n%s", strings.Join(b.errs, "\n"))
	}
}

// do runs the steps of one stage, with a deadline, and fails the test
// with the stage's name, and what the page logged, when one fails.
func (b *browser) do(stage string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		main, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText.slice(0, 2000) + "\n[dialog open: " + document.querySelector("#confirm").open + "]"`))
		b.mu.Lock()
		errs := strings.Join(b.errs, "\n")
		b.mu.Unlock()
		b.t.Fatalf("%s: %v\nthe page shows:\n%s\nthe page logged:\n%s", stage, err, main, errs)
	}
	b.checkNoErrors()
}

func js(v any) string {
	j, _ := json.Marshal(v)
	return string(j)
}

// setText sets the value of a field as typing would, input event included.
func (b *browser) setText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const e = document.querySelector(%s);
		if (!e) throw new Error("no " + %s);
		e.focus(); e.value = %s; e.dispatchEvent(new Event("input", {bubbles: true}));
	})()`, js(sel), js(sel), js(text)))
}

// setValue chooses an option of a select.
func (b *browser) setValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const e = document.querySelector(%s); e.value = %s; e.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, js(sel), js(value)))
}

// waitJS waits until the expression is true.
func (b *browser) waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))
}

// waitText waits until the element's text holds text.
func (b *browser) waitText(sel, text string) chromedp.Action[chromedp.Void] {
	return b.waitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s); })()`, js(sel), js(text)))
}

func (b *browser) waitAttr(sel, attr, value string) chromedp.Action[chromedp.Void] {
	return b.waitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.getAttribute(%s) === %s; })()`, js(sel), js(attr), js(value)))
}

// navigate goes to a screen of the console by its hash.
func (b *browser) navigate(hash string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %s`, js(hash)))
}

// shot saves the whole page as docs/console/name.png when screenshots are
// asked for.
func (b *browser) shot(name string) {
	b.t.Helper()
	if !screenshots {
		return
	}
	// Let the last paint settle (a focus ring, a banner).
	err := chromedp.Do(b.ctx, chromedp.Sleep(200*time.Millisecond))
	if err == nil {
		var png []byte
		png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join("..", "docs", "console", name+".png"), png, 0o644)
		}
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
}

// apiClient is the second writer: plain HTTP with its own token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

type answer struct {
	t      *testing.T
	req    string
	status int
	header http.Header
	body   []byte
}

func (a answer) want(status int) answer {
	a.t.Helper()
	if a.status != status {
		a.t.Fatalf("%s: status %d, want %d: %s", a.req, a.status, status, a.body)
	}
	return a
}

// send sends a request; headers are name, value pairs.
func (c *apiClient) send(method, path, body string, headers ...string) answer {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return answer{t: c.t, req: method + " " + path, status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *apiClient) get(path string) map[string]any {
	c.t.Helper()
	a := c.send("GET", path, "").want(200)
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		c.t.Fatalf("GET %s: %v: %s", path, err, a.body)
	}
	return m
}

// head returns the ETag of a document.
func (c *apiClient) head(path string) string {
	c.t.Helper()
	return c.send("HEAD", path, "").want(200).header.Get("ETag")
}

// conflict sends a stale write to a collection with the manual policy
// and returns the id of the conflict it records.
func (c *apiClient) conflict(collection, id, body string) string {
	c.t.Helper()
	a := c.send("PUT", "/v1/collections/"+collection+"/docs/"+id, body).want(409)
	var p struct{ ConflictID string }
	if err := json.Unmarshal(a.body, &p); err != nil || p.ConflictID == "" {
		c.t.Fatalf("no conflict recorded: %v: %s", err, bytes.TrimSpace(a.body))
	}
	return p.ConflictID
}
