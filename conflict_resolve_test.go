package truce_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/trucedb/truce"
)

// openConflict puts collection col under the manual policy with document
// id at version 2, {"title":"b","body":"x","n":1}, and has a write based
// on version 1, {"title":"c","body":"x","n":2}, refused; it returns the
// id of the conflict recorded for it.
func openConflict(t *testing.T, svc *truce.Service, col, id string) string {
	t.Helper()
	mustSettings(t, svc, col, truce.Settings{ConflictPolicy: truce.PolicyManual})
	mustPut(t, svc, col, id, `{"title":"a","body":"x","n":1}`)
	mustPut(t, svc, col, id, `{"title":"b","body":"x","n":1,"_version":1}`)
	_, err := svc.Put(t.Context(), col, id, []byte(`{"title":"c","body":"x","n":2,"_version":1}`), none, nil)
	var te *truce.Error
	if !errors.As(err, &te) || te.Code != truce.CodeMergeConflict || te.ConflictID == "" || len(te.Conflicts) != 1 || te.Current.Version != 2 {
		t.Fatalf("stale write under manual: %v", err)
	}
	return te.ConflictID
}

// TestManualPolicyRecordsConflict: under the manual policy an unmergeable
// write writes nothing and is recorded as an open conflict with the base,
// current and proposed contents and the conflicting paths; a mergeable
// one still merges; a refused delete is recorded with no proposal, and
// taking it deletes the document.
func TestManualPolicyRecordsConflict(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	cid := openConflict(t, svc, "notes", "d")
	if d, err := svc.Get(ctx, "notes", "d"); err != nil || d.Version != 2 {
		t.Fatalf("the refused write wrote: %v %+v", err, d)
	}
	c, err := svc.GetConflict(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != cid || c.Collection != "notes" || c.DocID != "d" || c.Status != truce.ConflictOpen || c.BaseVersion != 1 || c.CurrentVersion != 2 ||
		!c.ClosedAt.IsZero() || c.Resolution != nil {
		t.Errorf("conflict %+v", c)
	}
	for name, got := range map[string]string{`{"title":"a","body":"x","n":1}`: string(c.Base), `{"title":"b","body":"x","n":1}`: string(c.Current),
		`{"title":"c","body":"x","n":2}`: string(c.Proposed)} {
		if !sameJSON([]byte(got), name) {
			t.Errorf("conflict content %s, want %s", got, name)
		}
	}
	if len(c.Paths) != 1 || c.Paths[0].Path != "/title" || string(c.Paths[0].Proposed) != `"c"` {
		t.Errorf("paths %+v", c.Paths)
	}

	res, err := svc.Put(ctx, "notes", "d", []byte(`{"title":"a","body":"y","n":1,"_version":1}`), none, nil)
	if err != nil || res.Merged == nil || *res.Merged != (truce.MergeInfo{Base: 1, Current: 2}) || !sameJSON(res.Document.Body, `{"title":"b","body":"y","n":1}`) {
		t.Fatalf("a mergeable write under manual: %v %+v", err, res)
	}

	_, err = svc.Delete(ctx, "notes", "d", atVersion(1), nil)
	var te *truce.Error
	if !errors.As(err, &te) || te.Code != truce.CodeMergeConflict || te.ConflictID == "" {
		t.Fatalf("a stale delete under manual: %v", err)
	}
	if c, err := svc.GetConflict(ctx, te.ConflictID); err != nil || c.Proposed != nil {
		t.Fatalf("a refused delete's conflict: %v %+v", err, c)
	}
	cur, _ := svc.Get(ctx, "notes", "d")
	res, _, err = svc.ResolveConflict(ctx, te.ConflictID, truce.StrategyTakeProposed, nil, ifMatch(cur.ETag()), nil)
	if err != nil || !res.Document.Deleted {
		t.Fatalf("taking a proposed delete: %v %+v", err, res)
	}
	if _, err := svc.Get(ctx, "notes", "d"); !codeIs(t, "after taking a proposed delete", err, truce.CodeNotFound) {
		return
	}

	runSteps(t, svc, []step{
		{"read a conflict that never was", func(ctx context.Context, svc *truce.Service) error { return second(svc.GetConflict(ctx, "nope")) }, truce.CodeNotFound},
		{"resolve it", func(ctx context.Context, svc *truce.Service) error {
			_, _, err := svc.ResolveConflict(ctx, "nope", truce.StrategyKeepCurrent, nil, ifMatch(`"1-1"`), nil)
			return err
		}, truce.CodeNotFound},
		{"dismiss it", func(ctx context.Context, svc *truce.Service) error { return second(svc.DismissConflict(ctx, "nope")) }, truce.CodeNotFound},
	})
}

// TestListConflicts: conflicts are listed in the order they were
// recorded, filtered by collection, document and status, a page at a time.
func TestListConflicts(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	a1 := openConflict(t, svc, "a", "x")
	b1 := openConflict(t, svc, "b", "x")
	a2 := openConflict(t, svc, "a", "y")
	if _, err := svc.DismissConflict(ctx, a1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		f     truce.ConflictFilter
		after string
		limit int
		want  string // ids, then the next cursor
		code  truce.Code
	}{
		{name: "all", want: a1 + " " + b1 + " " + a2 + " next="},
		{name: "a collection", f: truce.ConflictFilter{Collection: "a"}, want: a1 + " " + a2 + " next="},
		{name: "open in a collection", f: truce.ConflictFilter{Collection: "a", Status: truce.ConflictOpen}, want: a2 + " next="},
		{name: "dismissed", f: truce.ConflictFilter{Status: truce.ConflictDismissed}, want: a1 + " next="},
		{name: "a document id", f: truce.ConflictFilter{DocID: "x"}, want: a1 + " " + b1 + " next="},
		{name: "a document", f: truce.ConflictFilter{Collection: "b", DocID: "x"}, want: b1 + " next="},
		{name: "resolved", f: truce.ConflictFilter{Status: truce.ConflictResolved}, want: "next="},
		{name: "every filter", f: truce.ConflictFilter{Collection: "a", DocID: "y", Status: truce.ConflictOpen}, want: a2 + " next="},
		{name: "page 1", limit: 2, want: a1 + " " + b1 + " next=" + b1},
		{name: "page 2", limit: 2, after: b1, want: a2 + " next="},
		{name: "an unknown status", f: truce.ConflictFilter{Status: "bogus"}, code: truce.CodeInvalidParameter},
		{name: "a negative limit", limit: -1, code: truce.CodeInvalidParameter},
		{name: "a cursor that was never given", after: strings.Repeat("x", 256), code: truce.CodeInvalidParameter},
	} {
		p, err := svc.ListConflicts(ctx, tc.f, tc.after, tc.limit)
		if !codeIs(t, tc.name, err, tc.code) || err != nil {
			continue
		}
		var ids []string
		for _, c := range p.Items {
			ids = append(ids, c.ID)
		}
		if got := strings.Join(append(ids, "next="+p.Next), " "); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestResolveStrategies: a resolution is a new version of the document,
// written with If-Match on its current ETag (required) and every rule:
// keep-current and merge keep a change made after the conflict,
// take-proposed and custom replace it. The conflict closes once and
// names the strategy and the version.
func TestResolveStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy, document, want string
	}{
		{truce.StrategyKeepCurrent, "", `{"title":"b","body":"x","n":1,"extra":true}`},
		{truce.StrategyTakeProposed, "", `{"title":"c","body":"x","n":2}`},
		// merge: the changes of both sides, the proposed value on conflicting paths.
		{truce.StrategyMerge, "", `{"title":"c","body":"x","n":2,"extra":true}`},
		{truce.StrategyCustom, `{"title":"mine","_id":"d"}`, `{"title":"mine"}`},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			svc, _ := mustService(t)
			ctx := t.Context()
			cid := openConflict(t, svc, "s", "d")
			v2, _ := svc.Get(ctx, "s", "d")
			// A change made after the conflict (version 3).
			v3, err := svc.Patch(ctx, "s", "d", truce.MergePatch, []byte(`{"extra":true}`), none, nil)
			if err != nil {
				t.Fatal(err)
			}
			var doc []byte
			if tc.document != "" {
				doc = []byte(tc.document)
			}
			resolve := func(pre truce.Precondition) func(context.Context, *truce.Service) error {
				return func(ctx context.Context, svc *truce.Service) error {
					_, _, err := svc.ResolveConflict(ctx, cid, tc.strategy, doc, pre, nil)
					return err
				}
			}
			runSteps(t, svc, []step{
				{"without If-Match", resolve(none), truce.CodePreconditionRequired},
				{"with only a version", resolve(atVersion(3)), truce.CodePreconditionRequired},
				{"with a stale If-Match", resolve(ifMatch(v2.ETag())), truce.CodePreconditionFailed},
			})
			res, c, err := svc.ResolveConflict(ctx, cid, tc.strategy, doc, ifMatch(v3.Document.ETag()), nil)
			if err != nil || res.Document.Version != 4 || !sameJSON(res.Document.Body, tc.want) {
				t.Fatalf("resolution: %v %+v", err, res)
			}
			if got := bodyOf(t, svc, "s", "d"); !sameJSON([]byte(got), tc.want) {
				t.Errorf("stored %s, want %s", got, tc.want)
			}
			if p, err := svc.ListVersions(ctx, "s", "d", 0, 0); err != nil || len(p.Items) != 4 {
				t.Errorf("history after the resolution: %v %s", err, versions(p))
			}
			stored, err := svc.GetConflict(ctx, cid)
			for _, c := range []*truce.Conflict{c, stored} {
				if err != nil || c.Status != truce.ConflictResolved || c.ClosedAt.IsZero() || c.Resolution == nil ||
					*c.Resolution != (truce.Resolution{Strategy: tc.strategy, Version: 4}) {
					t.Errorf("resolved conflict: %v %+v", err, c)
				}
			}
			runSteps(t, svc, []step{
				{"resolve it again", resolve(ifMatch(res.Document.ETag())), truce.CodeConflictClosed},
				{"dismiss it", func(ctx context.Context, svc *truce.Service) error { return second(svc.DismissConflict(ctx, cid)) }, truce.CodeConflictClosed},
			})
		})
	}
}

// TestResolveRefusals: a resolution that is malformed, or that breaks a
// rule of the collection, is refused and leaves the conflict open.
func TestResolveRefusals(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	cid := openConflict(t, svc, "u", "d")
	mustSettings(t, svc, "u", truce.Settings{ConflictPolicy: truce.PolicyManual, Unique: []string{"title"}})
	mustPut(t, svc, "u", "other", `{"title":"taken"}`)
	cur, _ := svc.Get(ctx, "u", "d")
	for _, tc := range []struct {
		name, strategy, document string
		code                     truce.Code
	}{
		{"an unknown strategy", "nope", "", truce.CodeInvalidDocument},
		{"custom without a document", truce.StrategyCustom, "", truce.CodeInvalidDocument},
		{"a document with another strategy", truce.StrategyKeepCurrent, `{}`, truce.CodeInvalidDocument},
		{"a document of another id", truce.StrategyCustom, `{"_id":"other"}`, truce.CodeInvalidID},
		{"a document with _version", truce.StrategyCustom, `{"_version":2}`, truce.CodeInvalidPrecondition},
		{"a document that is not an object", truce.StrategyCustom, `[]`, truce.CodeInvalidDocument},
		{"a unique value another holds", truce.StrategyCustom, `{"title":"taken"}`, truce.CodeUniqueViolation},
	} {
		var doc []byte
		if tc.document != "" {
			doc = []byte(tc.document)
		}
		_, _, err := svc.ResolveConflict(ctx, cid, tc.strategy, doc, ifMatch(cur.ETag()), nil)
		codeIs(t, tc.name, err, tc.code)
	}
	if c, err := svc.GetConflict(ctx, cid); err != nil || c.Status != truce.ConflictOpen {
		t.Fatalf("a refused resolution closed the conflict: %v %+v", err, c)
	}
	if got := bodyOf(t, svc, "u", "d"); got != string(cur.Body) {
		t.Fatalf("a refused resolution wrote %s", got)
	}
}

// TestDismissConflict: dismissing closes a conflict without writing the
// document, once.
func TestDismissConflict(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	cid := openConflict(t, svc, "notes", "d")
	c, err := svc.DismissConflict(ctx, cid)
	if err != nil || c.Status != truce.ConflictDismissed || c.ClosedAt.IsZero() || c.Resolution != nil {
		t.Fatalf("dismissed: %v %+v", err, c)
	}
	cur, err := svc.Get(ctx, "notes", "d")
	if err != nil || cur.Version != 2 {
		t.Fatalf("dismiss wrote: %v %+v", err, cur)
	}
	runSteps(t, svc, []step{
		{"dismiss it again", func(ctx context.Context, svc *truce.Service) error { return second(svc.DismissConflict(ctx, cid)) }, truce.CodeConflictClosed},
		{"resolve it", func(ctx context.Context, svc *truce.Service) error {
			_, _, err := svc.ResolveConflict(ctx, cid, truce.StrategyKeepCurrent, nil, ifMatch(cur.ETag()), nil)
			return err
		}, truce.CodeConflictClosed},
	})
}

// TestConcurrentResolve: of 8 resolutions of one conflict racing with the
// same If-Match, exactly one writes; the others are refused.
func TestConcurrentResolve(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	cid := openConflict(t, svc, "notes", "d")
	cur, _ := svc.Get(ctx, "notes", "d")
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, _, errs[i] = svc.ResolveConflict(ctx, cid, truce.StrategyTakeProposed, nil, ifMatch(cur.ETag()), nil)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch truce.ErrorCode(err) {
		case "":
			ok++
		case truce.CodeConflictClosed, truce.CodePreconditionFailed:
		default:
			t.Fatalf("a racing resolution: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d resolutions succeeded, want 1: %v", ok, errs)
	}
	if d, err := svc.Get(ctx, "notes", "d"); err != nil || d.Version != 3 {
		t.Fatalf("after the race: %v %+v", err, d)
	}
}
