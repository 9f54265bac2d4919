package client_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trucedb/truce/client"
)

func TestHistory(t *testing.T) {
	c, ft := newFaults(t, mustServe(t), nil)
	ctx := testCtx(t)
	var etags []string
	for _, title := range []string{"a", "b", "c"} {
		d, err := c.Put(ctx, "notes", "n1", note{Title: title})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, d.ETag)
	}
	if err := c.Delete(ctx, "notes", "n1"); err != nil { // version 4, a tombstone
		t.Fatal(err)
	}
	d5, err := c.Put(ctx, "notes", "n1", note{Title: "e"}) // version 5
	if err != nil {
		t.Fatal(err)
	}

	// Versions pages newest first, tombstone included.
	ft.reset()
	var got []int64
	var deleted []bool
	for v, err := range c.Versions(ctx, "notes", "n1", client.PageSize(2)) {
		if err != nil {
			t.Fatalf("Versions: %v", err)
		}
		if v.ETag == "" || v.UpdatedAt.IsZero() {
			t.Errorf("version %+v lacks an ETag or time", v)
		}
		if v.Version <= 3 && v.ETag != etags[v.Version-1] {
			t.Errorf("version %d ETag %s, want %s", v.Version, v.ETag, etags[v.Version-1])
		}
		got = append(got, v.Version)
		deleted = append(deleted, v.Deleted)
	}
	if !cmp.Equal(got, []int64{5, 4, 3, 2, 1}) || !cmp.Equal(deleted, []bool{false, true, false, false, false}) {
		t.Errorf("Versions = %v deleted %v", got, deleted)
	}
	if n := len(ft.log()); n != 3 {
		t.Errorf("Versions made %d requests, want 3 pages of 2", n)
	}
	for _, err := range c.Versions(ctx, "notes", "never") {
		if !client.IsNotFound(err) {
			t.Errorf("Versions(never) = %v, want not found", err)
		}
	}

	// Version reads old states, tombstones included.
	v2, err := c.Version(ctx, "notes", "n1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if decodeNote(t, v2).Title != "b" || v2.Version != 2 || v2.ETag != etags[1] || v2.Deleted {
		t.Errorf("Version(2) = %+v", v2)
	}
	v4, err := c.Version(ctx, "notes", "n1", 4)
	if err != nil || !v4.Deleted || v4.Version != 4 {
		t.Errorf("Version(4) = %+v, %v; want the tombstone", v4, err)
	}

	// Diff.
	ops, err := c.Diff(ctx, "notes", "n1", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []client.PatchOp{{Op: "replace", Path: "/title", Value: json.RawMessage(`"c"`)}}
	if !cmp.Equal(ops, want) {
		t.Errorf("Diff(1, 3) = %+v, want %+v", ops, want)
	}
	if ops, err := c.Diff(ctx, "notes", "n1", 2, 2); err != nil || len(ops) != 0 || ops == nil {
		t.Errorf("Diff(2, 2) = %#v, %v; want an empty patch", ops, err)
	}
	if _, err := c.Diff(ctx, "notes", "n1", 1, 9); !client.IsNotFound(err) {
		t.Errorf("Diff(1, 9) = %v, want not found", err)
	}

	// Restore writes an old version's content as a new version, with
	// preconditions.
	if _, err := c.Restore(ctx, "notes", "n1", 1, client.IfMatch(etags[0])); !client.IsPreconditionFailed(err) {
		t.Errorf("Restore with a stale If-Match = %v", err)
	}
	r, err := c.Restore(ctx, "notes", "n1", 1, client.IfMatch(d5.ETag))
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 6 || decodeNote(t, r).Title != "a" || r.ETag == "" {
		t.Errorf("Restore(1) = %+v", r)
	}
	// Restoring the tombstone deletes the document.
	r, err = c.Restore(ctx, "notes", "n1", 4, client.Version(6))
	if err != nil || r != nil {
		t.Errorf("Restore(tombstone) = %+v, %v; want nil, nil", r, err)
	}
	if _, err := c.Get(ctx, "notes", "n1"); !client.IsNotFound(err) {
		t.Errorf("Get after restoring a tombstone = %v", err)
	}
}

func TestVersionTrimmed(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	if _, err := c.PutCollection(ctx, "short", client.Settings{HistoryLimit: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := c.Put(ctx, "short", "a", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Version(ctx, "short", "a", 1)
	if e := mustErr(t, err); e.Status != 410 || e.Code != client.CodeVersionTrimmed {
		t.Errorf("Version(1) = %v, want 410 version_trimmed", err)
	}
	n := 0
	for _, err := range c.Versions(ctx, "short", "a") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("Versions lists %d, want the 2 kept", n)
	}
}
