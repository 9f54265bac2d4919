package truce_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trucedb/truce"
)

// TestMergePolicy: under the merge policy a write with a stale body
// version is merged three ways with the changes made since; changes to
// the same path are merge_conflict listing each path and carrying the
// current document; a delete never merges; header preconditions never
// merge; a base that history no longer keeps, or that does not exist
// yet, is version_conflict; the merged result obeys every rule. docs/d
// is at version 2: {"title":"b","body":"x","meta":{"k":2,"j":1}}, after
// {"title":"a","body":"x","meta":{"k":1,"j":1}}.
func TestMergePolicy(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustSettings(t, svc, "docs", truce.Settings{ConflictPolicy: truce.PolicyMerge})
		mustPut(t, svc, "docs", "d", `{"title":"a","body":"x","meta":{"k":1,"j":1}}`)
		mustPut(t, svc, "docs", "d", `{"title":"b","body":"x","meta":{"k":2,"j":1},"_version":1}`)
	}
	merged := func(base, current int64) func(*testing.T, truce.WriteResult, error) {
		return func(t *testing.T, res truce.WriteResult, _ error) {
			if res.Merged == nil || *res.Merged != (truce.MergeInfo{Base: base, Current: current}) {
				t.Errorf("Merged = %+v, want base %d current %d", res.Merged, base, current)
			}
		}
	}
	runWrites(t, setup, []writeCase{
		{name: "disjoint changes merge", write: put("docs", "d", `{"title":"a","body":"y","meta":{"k":1,"j":5},"_version":1}`, none),
			version: 3, body: `{"title":"b","body":"y","meta":{"k":2,"j":5}}`, check: merged(1, 2)},
		{name: "a merge patch merges", write: mergePatch("docs", "d", `{"tags":["t"]}`, atVersion(1)),
			version: 3, body: `{"title":"b","body":"x","meta":{"k":2,"j":1},"tags":["t"]}`, check: merged(1, 2)},
		{name: "the same change on both sides", write: put("docs", "d", `{"title":"b","body":"x","meta":{"k":1,"j":1},"_version":1}`, none),
			version: 3, body: `{"title":"b","body":"x","meta":{"k":2,"j":1}}`, check: merged(1, 2)},
		{name: "the current version is not a merge", write: put("docs", "d", `{"title":"c","_version":2}`, none), version: 3, body: `{"title":"c"}`,
			check: func(t *testing.T, res truce.WriteResult, _ error) {
				if res.Merged != nil {
					t.Errorf("Merged = %+v for a write at the current version", res.Merged)
				}
			}},
		{name: "overlapping changes", setup: func(t *testing.T, svc *truce.Service) {
			mustPut(t, svc, "docs", "d", `{"title":"b","body":"y","meta":{"k":2,"j":1}}`)
		}, write: put("docs", "d", `{"title":"c","body":"z","meta":{"k":1,"j":1},"_version":1}`, none),
			code: truce.CodeMergeConflict, check: func(t *testing.T, _ truce.WriteResult, err error) {
				var te *truce.Error
				if !errors.As(err, &te) {
					t.Fatal(err)
				}
				b, _ := json.Marshal(te.Conflicts)
				if want := `[{"path":"/body","base":"x","current":"y","proposed":"z"},{"path":"/title","base":"a","current":"b","proposed":"c"}]`; string(b) != want {
					t.Errorf("conflicts %s, want %s", b, want)
				}
				if te.Current == nil || te.Current.Version != 3 || te.ConflictID != "" {
					t.Errorf("merge_conflict: current %+v, conflict %q", te.Current, te.ConflictID)
				}
			}},
		{name: "a delete does not merge", write: del("docs", "d", atVersion(1)), code: truce.CodeMergeConflict},
		{name: "If-Match is never merged", write: put("docs", "d", `{}`, ifMatch(`"1-1"`)), code: truce.CodePreconditionFailed},
		{name: "a base from the future", write: put("docs", "d", `{"_version":9}`, none), code: truce.CodeVersionConflict},
		{name: "a base history no longer keeps", setup: func(t *testing.T, svc *truce.Service) {
			mustSettings(t, svc, "docs", truce.Settings{ConflictPolicy: truce.PolicyMerge, HistoryLimit: 2})
			mustPut(t, svc, "docs", "d", `{"title":"b","body":"x","meta":{"k":2,"j":1}}`)
		}, write: put("docs", "d", `{"n":2,"_version":1}`, none), code: truce.CodeVersionConflict},
		{name: "the merged result breaks a unique rule", setup: func(t *testing.T, svc *truce.Service) {
			mustSettings(t, svc, "docs", truce.Settings{ConflictPolicy: truce.PolicyMerge, Unique: []string{"tag"}})
			mustPut(t, svc, "docs", "o", `{"tag":"t"}`)
		}, write: mergePatch("docs", "d", `{"tag":"t"}`, atVersion(1)), code: truce.CodeUniqueViolation},
	})
}

// TestMergeConcurrentDisjointWriters: 16 writers each own one field of a
// shared document and write the whole document with the version they
// read, under the merge policy. Disjoint changes always merge, so no
// write is refused, and every writer's last value is in the final
// document, whose versions count every write.
func TestMergeConcurrentDisjointWriters(t *testing.T) {
	const writers, rounds = 16, 20
	svc, _ := mustService(t)
	ctx := t.Context()
	mustSettings(t, svc, "hot", truce.Settings{ConflictPolicy: truce.PolicyMerge})
	mustPut(t, svc, "hot", "d", `{}`)
	var wg sync.WaitGroup
	var mergedWrites atomic.Int64
	for i := range writers {
		wg.Go(func() {
			field := fmt.Sprintf("f%d", i)
			for round := range rounds {
				d, err := svc.Get(ctx, "hot", "d")
				if err != nil {
					t.Errorf("%s round %d: %v", field, round, err)
					return
				}
				var doc map[string]any
				if err := json.Unmarshal(d.Body, &doc); err != nil {
					t.Error(err)
					return
				}
				doc[field] = round
				body, _ := json.Marshal(doc)
				res, err := svc.Put(ctx, "hot", "d", body, atVersion(d.Version), nil)
				if err != nil {
					t.Errorf("%s round %d: %v", field, round, err)
					return
				}
				if res.Merged != nil {
					mergedWrites.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d of %d writes were merged", mergedWrites.Load(), writers*rounds)
	d, err := svc.Get(ctx, "hot", "d")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(d.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for i := range writers {
		if got := doc[fmt.Sprintf("f%d", i)]; got != float64(rounds-1) {
			t.Errorf("f%d = %v, want %d", i, got, rounds-1)
		}
	}
	if d.Version != 1+writers*rounds {
		t.Errorf("version %d, want %d", d.Version, 1+writers*rounds)
	}
}
