package truce_test

import (
	"context"
	"testing"

	"github.com/trucedb/truce"
)

// TestImportKeepsVersionsAndIsIdempotent: an export line written back
// keeps its version number, times, author and body; the same line again
// writes nothing; another content for a held version is import_conflict;
// bad lines are refused and write nothing.
func TestImportKeepsVersionsAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	src, _ := mustService(t)
	dst, _ := mustService(t)
	var lines [][]byte
	for _, body := range []string{`{"t":"a","n":1}`, `{"t":"b","n":2}`} {
		if _, err := src.Put(truce.WithCaller(ctx, truce.Caller{Name: "ann"}), "notes", "n1", []byte(body), truce.Precondition{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.Delete(ctx, "notes", "n1", truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 3; v++ {
		d, err := src.GetVersion(ctx, "notes", "n1", v)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, truce.ExportLine(d))
	}
	for i, l := range lines {
		res, err := dst.Import(ctx, l)
		if err != nil {
			t.Fatalf("import %s: %v", l, err)
		}
		if res.Unchanged || res.Document.Version != int64(i+1) {
			t.Fatalf("import %s: %+v", l, res)
		}
	}
	for v := int64(1); v <= 3; v++ {
		want, _ := src.GetVersion(ctx, "notes", "n1", v)
		got, err := dst.GetVersion(ctx, "notes", "n1", v)
		if err != nil {
			t.Fatal(err)
		}
		// What clients read (times to the millisecond) is the same.
		if string(got.JSON()) != string(want.JSON()) {
			t.Errorf("version %d: imported %s, want %s", v, got.JSON(), want.JSON())
		}
	}
	// Again, all of it: nothing new.
	for _, l := range lines {
		res, err := dst.Import(ctx, l)
		if err != nil || !res.Unchanged {
			t.Errorf("import again %s: %+v %v, want unchanged", l, res, err)
		}
	}
	// A lock on the document does not stop a rerun, which writes nothing,
	// and stops a new version.
	if _, err := dst.Lock(ctx, truce.LockRequest{Collection: "notes", ID: "n1", Owner: "bob"}); err != nil {
		t.Fatal(err)
	}
	if res, err := dst.Import(ctx, lines[2]); err != nil || !res.Unchanged {
		t.Errorf("import again under a lock: %+v %v, want unchanged", res, err)
	}
	v4 := []byte(`{"_collection":"notes","_id":"n1","_version":4,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z","t":"locked"}`)
	if _, err := dst.Import(ctx, v4); truce.ErrorCode(err) != truce.CodeLocked {
		t.Errorf("import of a new version under another's lock: %v, want locked", err)
	}
	if err := dst.BreakLock(ctx, "notes", "n1"); err != nil {
		t.Fatal(err)
	}
	// Revive the document here, then import another version 4.
	if _, err := dst.Put(ctx, "notes", "n1", []byte(`{"t":"here"}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
	other := []byte(`{"_collection":"notes","_id":"n1","_version":4,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z","t":"there"}`)
	if _, err := dst.Import(ctx, other); truce.ErrorCode(err) != truce.CodeImportConflict {
		t.Errorf("import of another version 4: %v, want import_conflict", err)
	}
	for _, bad := range []struct {
		line string
		code truce.Code
	}{
		{`{"_id":"x","_version":1,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z"}`, truce.CodeInvalidCollection},
		{`{"_collection":"notes","_version":1,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z"}`, truce.CodeInvalidID},
		{`{"_collection":"notes","_id":"x","_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z"}`, truce.CodeInvalidPrecondition},
		{`{"_collection":"notes","_id":"x","_version":1}`, truce.CodeInvalidDocument},
		{`{"_collection":"notes","_id":"x","_version":1,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z","_deleted":true,"a":1}`, truce.CodeInvalidDocument},
		{`{"_collection":"notes","_id":"x","_version":1,"_createdAt":"2026-01-01T00:00:00Z","_updatedAt":"2026-01-01T00:00:00Z","_other":1}`, truce.CodeReservedField},
		{`{"_collection":"notes","_id":"x","_version":1,`, truce.CodeInvalidJSON},
		{`[1]`, truce.CodeInvalidDocument},
	} {
		if _, err := dst.Import(ctx, []byte(bad.line)); truce.ErrorCode(err) != bad.code {
			t.Errorf("import %s: %v, want %s", bad.line, err, bad.code)
		}
	}
	if _, err := dst.Get(ctx, "notes", "x"); truce.ErrorCode(err) != truce.CodeNotFound {
		t.Errorf("a refused import wrote notes/x: %v", err)
	}
}
