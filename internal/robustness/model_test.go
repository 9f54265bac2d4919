package robustness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds a finished operation; ret < 0 means no answer came.
func op(client int, call, ret int64, in DocInput, out DocOutput) porcupine.Operation {
	if ret < 0 {
		ret, out = 1<<40, DocOutput{Unknown: true}
	}
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

func created(v int64, val string) DocOutput {
	return DocOutput{Status: 201, Version: v, Value: val, ETag: etagOf(v, val)}
}
func ok(v int64, val string) DocOutput {
	return DocOutput{Status: 200, Version: v, Value: val, ETag: etagOf(v, val)}
}
func etagOf(v int64, val string) string { return `"` + val + `"` }

// The model accepts what the contract allows and refuses what it does
// not: these histories are the checker's own tests.
func TestDocModel(t *testing.T) {
	k := "k0"
	create := DocInput{Key: k, Op: OpCreate, Value: "a"}
	update := DocInput{Key: k, Op: OpPutIfMatch, IfVersion: 1, IfValue: "a", Value: "b"}
	read := DocInput{Key: k, Op: OpRead}
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, 3, update, ok(2, "b")),
			op(1, 4, 5, read, ok(2, "b")),
			op(1, 6, 7, DocInput{Key: k, Op: OpDeleteVersion, Version: 2}, DocOutput{Status: 204}),
			op(0, 8, 9, read, DocOutput{Status: 404, Code: "not_found"}),
			op(0, 10, 11, DocInput{Key: k, Op: OpPost, Value: "c"}, created(4, "c")),
		}, porcupine.Ok},
		{"lost update: a read after the ack misses it", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, 3, update, ok(2, "b")),
			op(1, 4, 5, read, ok(1, "a")),
		}, porcupine.Illegal},
		{"two writers win with the same If-Match", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, 5, update, ok(2, "b")),
			op(1, 3, 6, DocInput{Key: k, Op: OpPutIfMatch, IfVersion: 1, IfValue: "a", Value: "c"}, ok(2, "c")),
		}, porcupine.Illegal},
		{"version restarts after delete", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, 3, DocInput{Key: k, Op: OpDeleteIfMatch, IfVersion: 1, IfValue: "a"}, DocOutput{Status: 204}),
			op(0, 4, 5, DocInput{Key: k, Op: OpCreate, Value: "b"}, created(1, "b")),
		}, porcupine.Illegal},
		{"wrong status for a stale _version", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, 3, update, ok(2, "b")),
			op(0, 4, 5, DocInput{Key: k, Op: OpPutVersion, Version: 1, Value: "c"}, DocOutput{Status: 412, Code: "precondition_failed"}),
		}, porcupine.Illegal},
		{"an unknown write may land late", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, -1, update, DocOutput{}),
			op(1, 10, 11, read, ok(1, "a")),
			op(1, 12, 13, read, ok(2, "b")),
		}, porcupine.Ok},
		{"an unknown write may never land", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, -1, update, DocOutput{}),
			op(1, 10, 11, read, ok(1, "a")),
		}, porcupine.Ok},
		{"an unknown write cannot be undone", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, -1, update, DocOutput{}),
			op(1, 10, 11, read, ok(2, "b")),
			op(1, 12, 13, read, ok(1, "a")),
		}, porcupine.Illegal},
		{"304 for the current state", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(1, 2, 3, DocInput{Key: k, Op: OpReadIfNone, IfVersion: 1, IfValue: "a"}, DocOutput{Status: 304}),
		}, porcupine.Ok},
		{"304 for a stale state", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(0, 2, 3, update, ok(2, "b")),
			op(1, 4, 5, DocInput{Key: k, Op: OpReadIfNone, IfVersion: 1, IfValue: "a"}, DocOutput{Status: 304}),
		}, porcupine.Illegal},
		{"keys are independent", []porcupine.Operation{
			op(0, 0, 1, create, created(1, "a")),
			op(1, 2, 3, DocInput{Key: "k1", Op: OpRead}, DocOutput{Status: 404, Code: "not_found"}),
		}, porcupine.Ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(DocModel(), tt.history); got != (tt.want == porcupine.Ok) {
				t.Errorf("linearizable = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckHistoryETags(t *testing.T) {
	w := NewDocuments("c", 1)
	in := DocInput{Key: "k0", Op: OpRead}
	good := []porcupine.Operation{
		op(0, 0, 1, in, DocOutput{Status: 200, Version: 1, Value: "a", ETag: `"1-1"`}),
		op(0, 2, 3, in, DocOutput{Status: 200, Version: 1, Value: "a", ETag: `"1-1"`}),
		op(0, 4, 5, in, DocOutput{Status: 200, Version: 2, Value: "b", ETag: `"2-2"`}),
	}
	if err := w.CheckHistory(good); err != nil {
		t.Errorf("CheckHistory: %v", err)
	}
	reused := append(good, op(0, 6, 7, in, DocOutput{Status: 200, Version: 3, Value: "c", ETag: `"2-2"`}))
	if err := w.CheckHistory(reused); err == nil {
		t.Error("an ETag naming two states passed")
	}
	changed := append(good, op(0, 6, 7, in, DocOutput{Status: 200, Version: 2, Value: "b", ETag: `"2-9"`}))
	if err := w.CheckHistory(changed); err == nil {
		t.Error("a state whose ETag changed passed")
	}
}

// A violation leaves the history and the visualization behind.
func TestArtifacts(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TRUCE_ROBUSTNESS_OUT", dir)
	k := "k0"
	history := []porcupine.Operation{
		op(0, 0, 1, DocInput{Key: k, Op: OpCreate, Value: "a"}, created(1, "a")),
		op(1, 2, 3, DocInput{Key: k, Op: OpRead}, DocOutput{Status: 404, Code: "not_found"}),
	}
	model := DocModel()
	res, info := porcupine.CheckOperationsVerbose(model, history, 0)
	if res != porcupine.Illegal {
		t.Fatalf("check = %s, want Illegal", res)
	}
	hist, html, err := writeArtifacts("t", model, history, info, []FaultRecord{{Fault: Kill}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{hist, html} {
		if filepath.Dir(p) != dir {
			t.Errorf("%s is not in %s", p, dir)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
}
