package truce_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trucedb/truce"
)

// versions lists the version numbers of a page, newest first.
func versions(p *truce.VersionPage) string {
	var vs []string
	for _, d := range p.Items {
		v := fmt.Sprint(d.Version)
		if d.Deleted {
			v += "d"
		}
		vs = append(vs, v)
	}
	return strings.Join(vs, " ") + " next=" + p.Next
}

// TestHistory: every version of a document stays readable, tombstones
// included, after it is deleted; pages go newest first; a diff compares
// two versions; a restore writes an old version's content as a new one,
// bringing a deleted document back, with preconditions as any write.
func TestHistory(t *testing.T) {
	svc, _ := mustService(t)
	mustPut(t, svc, "notes", "n1", `{"title":"one","tags":["a"]}`)
	mustPut(t, svc, "notes", "n1", `{"title":"two","tags":["a"]}`)
	mustPut(t, svc, "notes", "n1", `{"title":"two","tags":["a"],"done":true}`)
	mustDelete(t, svc, "notes", "n1")

	for _, tc := range []struct {
		before int64
		limit  int
		want   string
		code   truce.Code
	}{
		{0, 0, "4d 3 2 1 next=", ""},
		{0, 2, "4d 3 next=3", ""},
		{3, 2, "2 1 next=", ""},
		{2, 0, "1 next=", ""},
		{0, 1001, "", truce.CodeInvalidParameter},
		{-1, 0, "", truce.CodeInvalidParameter},
	} {
		p, err := svc.ListVersions(t.Context(), "notes", "n1", tc.before, tc.limit)
		if codeIs(t, fmt.Sprintf("Versions before %d limit %d", tc.before, tc.limit), err, tc.code) && err == nil && versions(p) != tc.want {
			t.Errorf("Versions before %d limit %d: %s, want %s", tc.before, tc.limit, versions(p), tc.want)
		}
	}
	for _, tc := range []struct {
		v    int64
		want string
		code truce.Code
	}{
		{1, `{"title":"one","tags":["a"]}`, ""},
		{2, `{"title":"two","tags":["a"]}`, ""},
		{4, "deleted", ""},
		{5, "", truce.CodeNotFound},
		{0, "", truce.CodeInvalidParameter},
	} {
		d, err := svc.GetVersion(t.Context(), "notes", "n1", tc.v)
		if !codeIs(t, fmt.Sprint("Version ", tc.v), err, tc.code) || err != nil {
			continue
		}
		if got := string(d.Body); (d.Deleted && tc.want != "deleted") || (!d.Deleted && got != tc.want) || d.Version != tc.v {
			t.Errorf("version %d: %d %s deleted=%v, want %s", tc.v, d.Version, got, d.Deleted, tc.want)
		}
	}
	if _, err := svc.ListVersions(t.Context(), "notes", "never", 0, 0); !codeIs(t, "history of a document that never was", err, truce.CodeNotFound) {
		return
	}

	diff, err := svc.Diff(t.Context(), "notes", "n1", 1, 3)
	if err != nil || !strings.Contains(string(diff), `{"op":"replace","path":"/title","value":"two"}`) || !strings.Contains(string(diff), `{"op":"add","path":"/done","value":true}`) {
		t.Errorf("diff 1..3: %s %v", diff, err)
	}
	if diff, err := svc.Diff(t.Context(), "notes", "n1", 3, 4); err != nil || !strings.Contains(string(diff), `"path":"/_deleted"`) {
		t.Errorf("diff to the tombstone: %s %v", diff, err)
	}
	if _, err := svc.Diff(t.Context(), "notes", "n1", 1, 9); !codeIs(t, "diff to a version that never was", err, truce.CodeNotFound) {
		return
	}

	restore := func(v int64, pre truce.Precondition) write {
		return func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			return svc.Restore(ctx, "notes", "n1", v, pre, nil)
		}
	}
	res, err := restore(1, none)(t.Context(), svc)
	if err != nil || !res.Created || res.Document.Version != 5 || string(res.Document.Body) != `{"title":"one","tags":["a"]}` {
		t.Fatalf("restore of a deleted document: %v %+v", err, res)
	}
	runSteps(t, svc, []step{
		{"restore with a stale version", do(restore(2, atVersion(4))), truce.CodeVersionConflict},
		{"restore with a stale If-Match", do(restore(2, ifMatch(`"1-1"`))), truce.CodePreconditionFailed},
		{"restore a version that never was", do(restore(99, none)), truce.CodeNotFound},
		{"restore version 0", do(restore(0, none)), truce.CodeInvalidParameter},
		{"restore with the current version", do(restore(2, atVersion(5))), ""},
		{"restore the tombstone", do(restore(4, none)), ""},
	})
	if d, err := svc.GetVersion(t.Context(), "notes", "n1", 6); err != nil || string(d.Body) != `{"title":"two","tags":["a"]}` {
		t.Errorf("version 6 restores version 2: %v %+v", err, d)
	}
	if _, err := svc.Get(t.Context(), "notes", "n1"); !codeIs(t, "after restoring a tombstone", err, truce.CodeNotFound) {
		return
	}
}

// TestHistoryLimit: a collection keeps historyLimit versions of each
// document and trims the store on write; older versions are
// version_trimmed to read or restore; a lowered limit applies to reads
// at once.
func TestHistoryLimit(t *testing.T) {
	svc, store := mustService(t)
	ctx := t.Context()
	mustSettings(t, svc, "notes", truce.Settings{HistoryLimit: 3})
	for i := 1; i <= 6; i++ {
		mustPut(t, svc, "notes", "n1", fmt.Sprintf(`{"i":%d}`, i))
	}
	if p, err := svc.ListVersions(ctx, "notes", "n1", 0, 0); err != nil || versions(p) != "6 5 4 next=" {
		t.Fatalf("kept versions: %v %s", err, versions(p))
	}
	read := func(v int64) func(context.Context, *truce.Service) error {
		return func(ctx context.Context, svc *truce.Service) error {
			return second(svc.GetVersion(ctx, "notes", "n1", v))
		}
	}
	runSteps(t, svc, []step{
		{"read a trimmed version", read(3), truce.CodeVersionTrimmed},
		{"read a kept version", read(4), ""},
		{"restore a trimmed version", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.Restore(ctx, "notes", "n1", 2, none, nil))
		}, truce.CodeVersionTrimmed},
		{"diff from a trimmed version", func(ctx context.Context, svc *truce.Service) error {
			return second(svc.Diff(ctx, "notes", "n1", 1, 6))
		}, truce.CodeVersionTrimmed},
		{"lower the limit", settings("notes", truce.Settings{HistoryLimit: 1}), ""},
		{"read a version the lower limit drops", read(5), truce.CodeVersionTrimmed},
		{"read the latest", read(6), ""},
	})
	// The store itself no longer holds what was trimmed on write.
	err := store.View(ctx, func(tx truce.ReadTx) error {
		if _, err := tx.Version("notes", "n1", 3); !errors.Is(err, truce.ErrNoRecord) {
			return fmt.Errorf("version 3 still stored: %v", err)
		}
		_, err := tx.Version("notes", "n1", 4)
		return err
	})
	if err != nil {
		t.Error(err)
	}
}
