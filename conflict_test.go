package truce_test

import (
	"context"
	"testing"

	"github.com/trucedb/truce"
)

// TestConflictEvents: opening, resolving and dismissing conflicts append
// conflict events to the change log, each with the next seq, the document
// and the conflict id; a resolution's document event and conflict event
// share its commit.
func TestConflictEvents(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	if _, _, err := svc.PutCollection(ctx, "notes", truce.Settings{ConflictPolicy: truce.PolicyManual}); err != nil {
		t.Fatal(err)
	}
	open := func(id string) string {
		t.Helper()
		if _, err := svc.Create(ctx, "notes", []byte(`{"_id":"`+id+`","t":"a"}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Put(ctx, "notes", id, []byte(`{"t":"b","_version":1}`), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Put(ctx, "notes", id, []byte(`{"t":"c","_version":1}`), truce.Precondition{}, nil)
		e, ok := err.(*truce.Error)
		if !ok || e.Code != truce.CodeMergeConflict || e.ConflictID == "" {
			t.Fatalf("stale write under manual: %v", err)
		}
		return e.ConflictID
	}
	c1, c2 := open("n1"), open("n2")
	d, err := svc.Get(ctx, "notes", "n1")
	if err != nil {
		t.Fatal(err)
	}
	res, c, err := svc.ResolveConflict(ctx, c1, truce.StrategyTakeProposed, nil, truce.Precondition{IfMatch: []string{d.ETag()}}, nil)
	if err != nil || string(res.Document.Body) != `{"t":"c"}` || c.Status != truce.ConflictResolved || c.Resolution.Version != 3 {
		t.Fatalf("resolve: %v %+v %+v", err, res, c)
	}
	if _, err := svc.DismissConflict(ctx, c2); err != nil {
		t.Fatal(err)
	}

	type ev struct {
		typ     truce.EventType
		id, cid string
		version int64
	}
	var want []ev
	for _, x := range []struct{ id, cid string }{{"n1", c1}, {"n2", c2}} {
		want = append(want,
			ev{truce.EventDocumentCreated, x.id, "", 1},
			ev{truce.EventDocumentUpdated, x.id, "", 2},
			ev{truce.EventConflictOpened, x.id, x.cid, 2})
	}
	want = append(want,
		ev{truce.EventDocumentUpdated, "n1", "", 3},
		ev{truce.EventConflictResolved, "n1", c1, 3},
		ev{truce.EventConflictDismissed, "n2", c2, 2})
	evs := events(t, store)
	var got []ev
	var prev int64
	for _, e := range evs {
		if e.Collection != "notes" {
			continue
		}
		if e.Seq <= prev {
			t.Fatalf("seq %d after %d", e.Seq, prev)
		}
		prev = e.Seq
		got = append(got, ev{e.Type, e.ID, e.ConflictID, e.Version})
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	// The resolution's two events are consecutive: one commit.
	for i, e := range evs {
		if e.Type == truce.EventConflictResolved && (i == 0 || evs[i-1].Seq != e.Seq-1 || evs[i-1].Type != truce.EventDocumentUpdated) {
			t.Fatalf("conflict.resolved not right after its write: %+v", evs)
		}
	}
}
