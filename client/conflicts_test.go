package client_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/trucedb/truce/client"
)

func TestConflictsListResolveDismiss(t *testing.T) {
	ctx := testCtx(t)
	c := mustClient(t, mustServe(t))
	if _, err := c.PutCollection(ctx, "notes", client.Settings{ConflictPolicy: "manual"}); err != nil {
		t.Fatal(err)
	}
	open := func(id string) (string, *client.Doc) {
		t.Helper()
		if _, err := c.Put(ctx, "notes", id, map[string]any{"title": "a", "n": 1}); err != nil {
			t.Fatal(err)
		}
		cur, err := c.Put(ctx, "notes", id, map[string]any{"title": "b", "n": 1}, client.Version(1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Put(ctx, "notes", id, map[string]any{"title": "c", "n": 2}, client.Version(1))
		var e *client.Error
		if !errors.As(err, &e) || e.Code != client.CodeMergeConflict || !client.IsConflict(err) {
			t.Fatalf("stale conflicting write: %v", err)
		}
		if e.ConflictID == "" || len(e.Conflicts) != 1 || e.Conflicts[0].Path != "/title" ||
			string(e.Conflicts[0].Base) != `"a"` || string(e.Conflicts[0].Current) != `"b"` || string(e.Conflicts[0].Proposed) != `"c"` {
			t.Fatalf("merge_conflict error: %+v", e)
		}
		return e.ConflictID, cur
	}
	cid1, cur1 := open("d1")
	cid2, _ := open("d2")

	var got []*client.Conflict
	for cf, err := range c.Conflicts(ctx, client.ConflictFilter{Status: client.ConflictOpen}, client.PageSize(1)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cf)
	}
	if len(got) != 2 {
		t.Fatalf("listed %d conflicts, want 2", len(got))
	}
	cf, err := c.Conflict(ctx, cid1)
	if err != nil {
		t.Fatal(err)
	}
	if cf.ID != cid1 || cf.Collection != "notes" || cf.DocID != "d1" || cf.Status != client.ConflictOpen ||
		cf.BaseVersion != 1 || cf.CurrentVersion != 2 || len(cf.Paths) != 1 || cf.Paths[0].Path != "/title" {
		t.Fatalf("conflict %+v", cf)
	}
	var prop map[string]any
	if err := json.Unmarshal(cf.Proposed, &prop); err != nil || prop["title"] != "c" {
		t.Fatalf("proposed %s", cf.Proposed)
	}
	for cf, err := range c.Conflicts(ctx, client.ConflictFilter{Collection: "notes", DocID: "d2"}) {
		if err != nil || cf.ID != cid2 {
			t.Fatalf("filter by document: %v %v", cf, err)
		}
	}

	// A stale If-Match is a 412; the current one resolves.
	if _, err := c.Resolve(ctx, cid1, client.StrategyTakeProposed, nil, client.IfMatch(`"1-1"`)); !client.IsPreconditionFailed(err) {
		t.Fatalf("resolve with a stale ETag: %v", err)
	}
	d, err := c.Resolve(ctx, cid1, client.StrategyCustom, map[string]any{"title": "bc", "n": 3}, client.IfMatch(cur1.ETag))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := d.Decode(&body); err != nil || body["title"] != "bc" || d.Version != 3 || d.ETag == "" {
		t.Fatalf("resolved %s %v", d.Raw, err)
	}
	if cf, err = c.Conflict(ctx, cid1); err != nil || cf.Status != client.ConflictResolved ||
		cf.Resolution == nil || cf.Resolution.Strategy != client.StrategyCustom || cf.Resolution.Version != 3 || cf.ClosedAt.IsZero() {
		t.Fatalf("after resolve: %+v %v", cf, err)
	}

	dc, err := c.Dismiss(ctx, cid2)
	if err != nil || dc.Status != client.ConflictDismissed {
		t.Fatalf("dismiss: %+v %v", dc, err)
	}
	for cf, err := range c.Conflicts(ctx, client.ConflictFilter{Status: client.ConflictOpen}) {
		t.Fatalf("open after all closed: %v %v", cf, err)
	}
	if _, err := c.Conflict(ctx, "nosuch"); !client.IsNotFound(err) {
		t.Fatalf("missing conflict: %v", err)
	}
	if _, err := c.Resolve(ctx, cid1, client.StrategyMerge, nil, client.Version(1)); err == nil {
		t.Fatal("Resolve took Version")
	}
}

func TestMergedWriteAndUpdateUseVersion(t *testing.T) {
	ctx := testCtx(t)
	c := mustClient(t, mustServe(t))
	if _, err := c.PutCollection(ctx, "m", client.Settings{ConflictPolicy: "merge"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "m", "d", map[string]any{"a": 0, "b": 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "m", "d", map[string]any{"a": 1, "b": 0}); err != nil {
		t.Fatal(err)
	}
	d, err := c.Put(ctx, "m", "d", map[string]any{"a": 0, "b": 2}, client.Version(1))
	if err != nil {
		t.Fatal(err)
	}
	if d.Merged == nil || d.Merged.Base != 1 || d.Merged.Current != 2 || d.Version != 3 {
		t.Fatalf("merged write: %+v %s", d.Merged, d.Raw)
	}
	if d, err = c.Put(ctx, "m", "d", map[string]any{"a": 1, "b": 3}); err != nil || d.Merged != nil {
		t.Fatalf("plain write: %v %+v", err, d)
	}

	// Disjoint: another writer changes a while fn runs; the write merges
	// without running fn again.
	calls := 0
	d, err = c.Update(ctx, "m", "d", func(doc *client.Doc) error {
		calls++
		if calls == 1 {
			if _, err := c.Patch(ctx, "m", "d", client.MergePatch(map[string]any{"a": 10})); err != nil {
				return err
			}
		}
		var v map[string]any
		if err := doc.Decode(&v); err != nil {
			return err
		}
		v["b"] = 20
		return doc.Set(v)
	}, client.UseVersion())
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := d.Decode(&v); err != nil || calls != 1 || d.Merged == nil || v["a"] != 10.0 || v["b"] != 20.0 {
		t.Fatalf("calls %d, merged %+v, doc %s", calls, d.Merged, d.Raw)
	}

	// Overlapping: the other writer changes b too; merge_conflict makes
	// Update apply fn again to the current document.
	calls = 0
	d, err = c.Update(ctx, "m", "d", func(doc *client.Doc) error {
		calls++
		if calls == 1 {
			if _, err := c.Patch(ctx, "m", "d", client.MergePatch(map[string]any{"b": 99})); err != nil {
				return err
			}
		}
		var v map[string]any
		if err := doc.Decode(&v); err != nil {
			return err
		}
		v["b"] = v["b"].(float64) + 1
		return doc.Set(v)
	}, client.UseVersion())
	if err != nil {
		t.Fatal(err)
	}
	v = nil
	if err := d.Decode(&v); err != nil || calls != 2 || v["b"] != 100.0 || v["a"] != 10.0 {
		t.Fatalf("calls %d, doc %s", calls, d.Raw)
	}
	if _, err := c.Put(ctx, "m", "d", map[string]any{}, client.UseVersion()); err == nil {
		t.Fatal("Put took UseVersion")
	}
}
