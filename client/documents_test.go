package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trucedb/truce/client"
)

type note struct {
	Title string   `json:"title"`
	Items []string `json:"items,omitempty"`
	Done  bool     `json:"done,omitempty"`
}

func decodeNote(t *testing.T, d *client.Doc) note {
	t.Helper()
	var n note
	if err := d.Decode(&n); err != nil {
		t.Fatalf("decode %s: %v", d.Raw, err)
	}
	return n
}

func TestDocumentLifecycle(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)

	// Create without an id: the server chooses one.
	before := time.Now().Add(-time.Second)
	d, err := c.Create(ctx, "notes", note{Title: "Groceries", Items: []string{"milk"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if d.ID == "" || d.Version != 1 || d.ETag == "" || d.Collection != "notes" {
		t.Errorf("Create = %+v, want a server id, version 1, an ETag, collection notes", d)
	}
	if d.CreatedAt.Before(before) || !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Errorf("CreatedAt %v UpdatedAt %v: want now and equal", d.CreatedAt, d.UpdatedAt)
	}
	if got := decodeNote(t, d); !cmp.Equal(got, note{Title: "Groceries", Items: []string{"milk"}}) {
		t.Errorf("Create stored %+v", got)
	}

	// Get returns the same version and ETag.
	g, err := c.Get(ctx, "notes", d.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if g.ETag != d.ETag || g.Version != 1 || string(g.Raw) != string(d.Raw) {
		t.Errorf("Get = %+v, want %+v", g, d)
	}

	// A conditional Get of an unchanged document: ErrNotModified.
	if _, err := c.Get(ctx, "notes", d.ID, client.IfNoneMatch(d.ETag)); !errors.Is(err, client.ErrNotModified) {
		t.Errorf("Get(IfNoneMatch current) = %v, want ErrNotModified", err)
	}
	if _, err := c.Get(ctx, "notes", d.ID, client.IfMatch(d.ETag)); err != nil {
		t.Errorf("Get(IfMatch current) = %v", err)
	}

	// Put with If-Match replaces it.
	p, err := c.Put(ctx, "notes", d.ID, note{Title: "Groceries", Items: []string{"milk", "eggs"}}, client.IfMatch(d.ETag))
	if err != nil {
		t.Fatalf("Put(IfMatch): %v", err)
	}
	if p.Version != 2 || p.ETag == d.ETag || !p.CreatedAt.Equal(d.CreatedAt) {
		t.Errorf("Put = %+v, want version 2, a new ETag, the same CreatedAt", p)
	}

	// Put with a stale If-Match: 412 with the current document.
	_, err = c.Put(ctx, "notes", d.ID, note{Title: "Stale"}, client.IfMatch(d.ETag))
	if e := mustErr(t, err); e.Status != 412 || e.Current == nil || e.Current.ETag != p.ETag || e.Current.Version != 2 {
		t.Errorf("stale Put: %v; Current %+v", err, e.Current)
	}

	// Put with Version.
	p3, err := c.Put(ctx, "notes", d.ID, note{Title: "Shopping"}, client.Version(2))
	if err != nil || p3.Version != 3 {
		t.Fatalf("Put(Version(2)) = %+v, %v", p3, err)
	}

	// Merge patch and JSON patch.
	m, err := c.Patch(ctx, "notes", d.ID, client.MergePatch(map[string]any{"done": true}), client.IfMatch(p3.ETag))
	if err != nil {
		t.Fatalf("Patch(merge): %v", err)
	}
	if got := decodeNote(t, m); got.Title != "Shopping" || !got.Done || m.Version != 4 {
		t.Errorf("merge patch gave %+v at version %d", got, m.Version)
	}
	j, err := c.Patch(ctx, "notes", d.ID, client.JSONPatch([]client.PatchOp{
		{Op: "test", Path: "/done", Value: json.RawMessage(`true`)},
		{Op: "add", Path: "/items", Value: json.RawMessage(`["bread"]`)},
	}), client.Version(4))
	if err != nil {
		t.Fatalf("Patch(JSON): %v", err)
	}
	if got := decodeNote(t, j); !cmp.Equal(got.Items, []string{"bread"}) || j.Version != 5 {
		t.Errorf("JSON patch gave %+v at version %d", got, j.Version)
	}
	// A raw JSON Patch works too.
	if _, err := c.Patch(ctx, "notes", d.ID, client.JSONPatch(json.RawMessage(`[{"op":"remove","path":"/items"}]`))); err != nil {
		t.Errorf("Patch(raw JSON patch): %v", err)
	}

	// Delete, then the document is gone but its id continues its versions.
	if err := c.Delete(ctx, "notes", d.ID, client.Version(6)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, "notes", d.ID); !client.IsNotFound(err) {
		t.Errorf("Get after Delete = %v, want not found", err)
	}
	if err := c.Delete(ctx, "notes", d.ID); !client.IsNotFound(err) {
		t.Errorf("second Delete = %v, want not found", err)
	}
	r, err := c.Put(ctx, "notes", d.ID, note{Title: "Again"}, client.IfNoneMatch("*"))
	if err != nil || r.Version != 8 {
		t.Errorf("re-create = %+v, %v; want version 8", r, err)
	}
}

func TestCreateWithID(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	d, err := c.Create(ctx, "users", map[string]any{"_id": "ann", "name": "Ann"})
	if err != nil || d.ID != "ann" {
		t.Fatalf("Create with _id = %+v, %v", d, err)
	}
	_, err = c.Create(ctx, "users", map[string]any{"_id": "ann", "name": "Other"})
	if e := mustErr(t, err); e.Status != 409 || e.Code != client.CodeAlreadyExists || client.IsConflict(err) {
		t.Errorf("duplicate Create: %v (IsConflict %v), want 409 already_exists, not a conflict", err, client.IsConflict(err))
	}
}

// Every form of body goes out as the same JSON.
func TestBodies(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	want := `{"title":"x"}`
	bodies := map[string]any{
		"struct":          note{Title: "x"},
		"map":             map[string]string{"title": "x"},
		"json.RawMessage": json.RawMessage(want),
		"[]byte":          []byte(want),
		"io.Reader":       strings.NewReader(want),
		"*Doc":            &client.Doc{Raw: json.RawMessage(want)},
		"Doc":             client.Doc{Raw: json.RawMessage(want)},
	}
	for name, body := range bodies {
		d, err := c.Put(ctx, "bodies", strings.NewReplacer("*", "p", "[]", "s", ".", "-").Replace(name), body)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := decodeNote(t, d); got.Title != "x" {
			t.Errorf("%s: stored %s", name, d.Raw)
		}
	}
	if _, err := c.Put(ctx, "bodies", "nil", nil); err == nil {
		t.Error("Put(nil body) succeeded")
	}

	// A Doc read from the server carries _version: writing it back is
	// conditional on that version.
	d, err := c.Put(ctx, "bodies", "doc", note{Title: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "bodies", "doc", note{Title: "v2"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Put(ctx, "bodies", "doc", d)
	if !client.IsVersionConflict(err) {
		t.Errorf("writing back a stale Doc = %v, want version_conflict", err)
	}
}

func TestDocSetAndDecode(t *testing.T) {
	d := &client.Doc{Raw: json.RawMessage(`{"_id":"a","_version":3,"title":"x"}`)}
	var v struct {
		ID      string `json:"_id"`
		Version int64  `json:"_version"`
		Title   string `json:"title"`
	}
	if err := d.Decode(&v); err != nil || v.ID != "a" || v.Version != 3 || v.Title != "x" {
		t.Errorf("Decode = %+v, %v", v, err)
	}
	if err := d.Set([]int{1}); err == nil {
		t.Error("Set(array) succeeded; a document must be an object")
	}
	if err := d.Set(note{Title: "y"}); err != nil || string(d.Raw) != `{"title":"y"}` {
		t.Errorf("Set = %s, %v", d.Raw, err)
	}
	if err := (&client.Doc{}).Decode(&v); err == nil {
		t.Error("Decode of an empty Doc succeeded")
	}
	cl := d.Clone()
	cl.Raw[2] = 'X'
	if string(d.Raw) != `{"title":"y"}` {
		t.Errorf("Clone shares Raw: %s", d.Raw)
	}
}

// An option that a method does not take is an error before anything is
// sent: a precondition is never silently dropped.
func TestOptionsChecked(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil)
	ctx := testCtx(t)
	calls := map[string]error{}
	_, calls["Create(IfMatch)"] = c.Create(ctx, "notes", note{}, client.IfMatch(`"1-1"`))
	_, calls["Create(Version)"] = c.Create(ctx, "notes", note{}, client.Version(1))
	_, calls["Get(Version)"] = c.Get(ctx, "notes", "a", client.Version(1))
	_, calls["Put(Version(0))"] = c.Put(ctx, "notes", "a", note{}, client.Version(0))
	_, calls["Put(Force)"] = c.Put(ctx, "notes", "a", note{}, client.Force())
	_, calls["Put(IdempotencyKey(\"\"))"] = c.Put(ctx, "notes", "a", note{}, client.IdempotencyKey(""))
	_, calls["Get(empty id)"] = c.Get(ctx, "notes", "")
	_, calls["Create(empty collection)"] = c.Create(ctx, "", note{})
	_, calls["Patch(zero Patch)"] = c.Patch(ctx, "notes", "a", client.Patch{})
	_, calls["Update(IfMatch)"] = c.Update(ctx, "notes", "a", increment, client.IfMatch(`"1-1"`))
	_, calls["Version(0)"] = c.Version(ctx, "notes", "a", 0)
	calls["DeleteCollection(Version)"] = c.DeleteCollection(ctx, "notes", client.Version(3))
	for _, err := range c.List(ctx, "notes", client.PageSize(0)) {
		calls["List(PageSize(0))"] = err
	}
	for _, err := range c.Versions(ctx, "notes", "a", client.IfMatch("x")) {
		calls["Versions(IfMatch)"] = err
	}
	for name, err := range calls {
		if err == nil {
			t.Errorf("%s succeeded", name)
		} else if e := (*client.Error)(nil); errors.As(err, &e) {
			t.Errorf("%s: %v: an answer from the server, want a client-side refusal", name, err)
		}
	}
	if n := len(ft.log()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// An unquoted ETag is quoted; Header adds any header.
func TestHeaders(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil, client.WithToken("s3cret"), client.WithUserAgent("tests/1"))
	ctx := testCtx(t)
	d, err := c.Put(ctx, "notes", "a", note{Title: "x"}, client.Header("X-Request-Id", "my-req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "notes", "a", client.IfMatch(strings.Trim(d.ETag, `"`))); err != nil {
		t.Errorf("Get(IfMatch(unquoted)): %v", err)
	}
	log := ft.log()
	h := log[0].Header
	for name, want := range map[string]string{
		"Authorization": "Bearer s3cret", "User-Agent": "tests/1", "X-Request-Id": "my-req-1",
		"Content-Type": "application/json",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if h.Get("Idempotency-Key") == "" {
		t.Error("PUT carries no Idempotency-Key")
	}
	if got := log[1].Header.Get("If-Match"); got != d.ETag {
		t.Errorf("If-Match %q, want %q", got, d.ETag)
	}
	if log[1].Header.Get("Idempotency-Key") != "" {
		t.Error("GET carries an Idempotency-Key")
	}

	// Update passes Header on to each of its requests.
	ft.reset()
	if _, err := c.Update(ctx, "notes", "a", func(d *client.Doc) error { return d.Set(note{Title: "y"}) },
		client.Header("X-Trace", "t1")); err != nil {
		t.Fatal(err)
	}
	for _, a := range ft.log() {
		if a.Header.Get("X-Trace") != "t1" {
			t.Errorf("%s %s lacks the X-Trace header", a.Method, a.Path)
		}
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://h/?q=1", "http://u:p@h", "://"} {
		if _, err := client.New(bad); err == nil {
			t.Errorf("New(%q) succeeded", bad)
		}
	}
	if _, err := client.New("http://h", client.WithHTTPClient(nil)); err == nil {
		t.Error("WithHTTPClient(nil) accepted")
	}
	if _, err := client.New("http://h", client.WithToken("a\nb")); err == nil {
		t.Error("a token with a line break accepted")
	}
	c := mustClient(t, "http://127.0.0.1:8080/")
	if c.BaseURL() != "http://127.0.0.1:8080" {
		t.Errorf("BaseURL = %q", c.BaseURL())
	}
}

// A server mounted under a path prefix.
func TestBaseURLWithPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/truce/", http.StripPrefix("/truce", mustHandler(t)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL+"/truce/")
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "notes", "a", note{Title: "x"}); err != nil {
		t.Fatalf("Put through /truce/: %v", err)
	}
	if d, err := c.Get(ctx, "notes", "a"); err != nil || d.ID != "a" {
		t.Fatalf("Get through /truce/ = %+v, %v", d, err)
	}
}

func TestList(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil)
	ctx := testCtx(t)
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("n%02d", i)
		want = append(want, id)
		if _, err := c.Put(ctx, "notes", id, map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, "notes", "n13"); err != nil {
		t.Fatal(err)
	}
	want = append(want[:13], want[14:]...)

	ft.reset()
	var got []string
	for d, err := range c.List(ctx, "notes", client.PageSize(7)) {
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if d.Version != 1 || d.Collection != "notes" || d.CreatedAt.IsZero() {
			t.Errorf("listed %+v", d)
		}
		got = append(got, d.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List ids (-want +got):\n%s", diff)
	}
	if n := len(ft.log()); n != 4 { // 7+7+7+3
		t.Errorf("List made %d requests, want 4 pages", n)
	}

	// Breaking out of the loop stops the paging.
	ft.reset()
	n := 0
	for _, err := range c.List(ctx, "notes", client.PageSize(5)) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 6 {
			break
		}
	}
	if got := len(ft.log()); got != 2 {
		t.Errorf("6 items of 5-item pages took %d requests, want 2", got)
	}

	// The default page size, and an empty collection.
	count := 0
	for _, err := range c.List(ctx, "notes") {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 24 {
		t.Errorf("List with default pages: %d documents, want 24", count)
	}
	if _, err := c.PutCollection(ctx, "empty", client.Settings{}); err != nil {
		t.Fatal(err)
	}
	for d, err := range c.List(ctx, "empty") {
		t.Errorf("List(empty) yielded %v, %v", d, err)
	}

	// A failure ends the loop with the error.
	var errs []error
	for d, err := range c.List(ctx, "nosuch") {
		if d != nil {
			t.Errorf("List(nosuch) yielded %+v", d)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || !client.IsNotFound(errs[0]) {
		t.Errorf("List(nosuch) yielded errors %v, want one not found", errs)
	}
}
