package truce_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// TestWriterRecorded: every write path records the writer WithCaller
// names, in the version (UpdatedBy, and so _updatedBy in history) and in
// its change-log event (updatedBy, also on a delete, whose event has no
// document); a write without one records none.
func TestWriterRecorded(t *testing.T) {
	svc, store := mustService(t)
	bg := context.Background()
	as := func(name string) context.Context { return truce.WithCaller(bg, truce.Caller{Name: name}) }
	none := truce.Precondition{}
	steps := []struct {
		writer string
		run    func(ctx context.Context) (*truce.Document, error)
	}{
		{"ann", func(ctx context.Context) (*truce.Document, error) {
			return svc.Create(ctx, "notes", []byte(`{"_id":"n1","v":1}`))
		}},
		{"bob", func(ctx context.Context) (*truce.Document, error) {
			r, err := svc.Put(ctx, "notes", "n1", []byte(`{"v":2}`), none, nil)
			return r.Document, err
		}},
		{"cat", func(ctx context.Context) (*truce.Document, error) {
			r, err := svc.Patch(ctx, "notes", "n1", truce.MergePatch, []byte(`{"v":3}`), none, nil)
			return r.Document, err
		}},
		{"dan", func(ctx context.Context) (*truce.Document, error) {
			r, err := svc.Restore(ctx, "notes", "n1", 1, none, nil)
			return r.Document, err
		}},
		{"eve", func(ctx context.Context) (*truce.Document, error) {
			rs, err := svc.Batch(ctx, []truce.Op{{Kind: truce.OpPut, Collection: "notes", ID: "n1", Document: []byte(`{"v":5}`)}}, nil, nil)
			if err != nil {
				return nil, err
			}
			return rs[0].Document, nil
		}},
		{"fay", func(ctx context.Context) (*truce.Document, error) {
			tr, err := svc.BeginTransaction(ctx, time.Minute, nil, nil)
			if err != nil {
				return nil, err
			}
			if _, err := svc.TransactionWrite(ctx, tr.ID, truce.Op{Kind: truce.OpPut, Collection: "notes", ID: "n1", Document: []byte(`{"v":6}`)}, nil, nil); err != nil {
				return nil, err
			}
			rs, err := svc.CommitTransaction(ctx, tr.ID, nil, nil)
			if err != nil {
				return nil, err
			}
			return rs[0].Document, nil
		}},
		{"", func(ctx context.Context) (*truce.Document, error) {
			r, err := svc.Put(ctx, "notes", "n1", []byte(`{"v":7}`), none, nil)
			return r.Document, err
		}},
		{"gus", func(ctx context.Context) (*truce.Document, error) {
			return svc.Delete(ctx, "notes", "n1", none, nil)
		}},
	}
	for i, st := range steps {
		ctx := bg
		if st.writer != "" {
			ctx = as(st.writer)
		}
		d, err := st.run(ctx)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.writer, err)
		}
		if d.UpdatedBy != st.writer {
			t.Errorf("step %d: UpdatedBy %q, want %q", i, d.UpdatedBy, st.writer)
		}
		v, err := svc.GetVersion(bg, "notes", "n1", int64(i+1))
		if err != nil || v.UpdatedBy != st.writer {
			t.Errorf("version %d in history: UpdatedBy %q (%v), want %q", i+1, v.UpdatedBy, err, st.writer)
		}
	}
	var byVersion = map[int64]string{}
	for _, e := range events(t, store) {
		if e.Collection != "notes" || e.Version == 0 {
			continue
		}
		var info struct{ UpdatedBy string }
		if e.Info != nil {
			if err := json.Unmarshal(e.Info, &info); err != nil {
				t.Fatal(err)
			}
		}
		byVersion[e.Version] = info.UpdatedBy
	}
	for i, st := range steps {
		if got := byVersion[int64(i+1)]; got != st.writer {
			t.Errorf("event of version %d: updatedBy %q, want %q", i+1, got, st.writer)
		}
	}
}

// TestReferencesNeedRead: a caller that may not read the referenced
// collection is refused the same way whether the target exists or not, so
// a write cannot probe another collection; one that may read it gets the
// usual answers.
func TestReferencesNeedRead(t *testing.T) {
	svc, _ := mustService(t)
	bg := context.Background()
	if _, _, err := svc.PutCollection(bg, "posts", truce.Settings{References: map[string]string{"author": "users"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Put(bg, "users", "ann", []byte(`{}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	postsOnly := truce.WithCaller(bg, truce.Caller{Name: "w", CanRead: func(c string) bool { return c == "posts" }})
	both := truce.WithCaller(bg, truce.Caller{Name: "w", CanRead: func(c string) bool { return c == "posts" || c == "users" }})
	for _, tc := range []struct {
		ctx  context.Context
		body string
		want truce.Code
	}{
		{postsOnly, `{"author":"ann"}`, truce.CodeForbidden},
		{postsOnly, `{"author":"nobody"}`, truce.CodeForbidden},
		{postsOnly, `{"title":"no reference"}`, ""},
		{both, `{"author":"nobody"}`, truce.CodeInvalidReference},
		{both, `{"author":"ann"}`, ""},
	} {
		_, err := svc.Put(tc.ctx, "posts", "p1", []byte(tc.body), truce.Precondition{}, nil)
		if truce.ErrorCode(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.body, err, tc.want)
		}
		var te *truce.Error
		if tc.want == truce.CodeForbidden && (!errors.As(err, &te) || te.Scope != "read:users") {
			t.Errorf("%s: scope %+v, want read:users", tc.body, te)
		}
	}
	ops := []truce.Op{{Kind: truce.OpPut, Collection: "posts", ID: "p2", Document: []byte(`{"author":"ann"}`)}}
	if _, err := svc.Batch(postsOnly, ops, nil, nil); truce.ErrorCode(err) != truce.CodeForbidden {
		t.Errorf("batch: %v, want forbidden", err)
	}
}
