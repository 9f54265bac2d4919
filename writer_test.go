package truce_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// TestWriterRecorded: every write path records the writer WithWriter
// names, in the version (UpdatedBy, and so _updatedBy in history) and in
// its change-log event (updatedBy, also on a delete, whose event has no
// document); a write without one records none.
func TestWriterRecorded(t *testing.T) {
	svc, store := mustService(t)
	bg := context.Background()
	as := func(name string) context.Context { return truce.WithWriter(bg, name) }
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
