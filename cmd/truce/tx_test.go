package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCLITx(t *testing.T) {
	srv := mustServeCLI(t)
	s := "--server=" + srv.URL
	mustTruce(t, `{"balance":100}`, "put", "acc", "a", s)
	mustTruce(t, `{"balance":100}`, "put", "acc", "b", s)

	file := filepath.Join(t.TempDir(), "ops.json")
	ops := `{"ops":[
	  {"op":"check","collection":"acc","id":"a","version":1},
	  {"op":"patch","collection":"acc","id":"a","version":1,"mergePatch":{"balance":70}},
	  {"op":"put","collection":"acc","id":"b","ifMatch":"*","document":{"balance":130}},
	  {"op":"create","collection":"ledger","id":"l1","document":{"amount":30}}]}`
	if err := os.WriteFile(file, []byte(ops), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustTruce(t, "", "tx", "-f", file, "--json", s)
	res, _ := jsonObject(t, r.stdout)["results"].([]any)
	if len(res) != 4 || res[3].(map[string]any)["status"] != 201.0 {
		t.Fatalf("tx --json: %s", r.stdout)
	}
	if got := jsonObject(t, mustTruce(t, "", "get", "acc", "a", "--json", s).stdout)["balance"]; got != 70.0 {
		t.Errorf("a: balance %v", got)
	}

	// The same batch again fails at op 0 and applies nothing; a bare
	// array on stdin works too.
	r = wantFail(t, 1, "", []string{"tx", "-f", file, s}, "op 0 failed, so nothing was applied", "version_conflict")
	if r.stdout != "" {
		t.Errorf("a failed tx printed %q", r.stdout)
	}
	if got := jsonObject(t, mustTruce(t, "", "get", "acc", "b", "--json", s).stdout)["_version"]; got != 2.0 {
		t.Errorf("b at version %v after a failed batch", got)
	}
	r = mustTruce(t, `[{"op":"delete","collection":"ledger","id":"l1"}]`, "tx", "-f", "-", s)
	if res, _ := jsonObject(t, r.stdout)["results"].([]any); len(res) != 1 {
		t.Errorf("tx from stdin: %s", r.stdout)
	}
	wantFail(t, 2, `{"op":"x"}`, []string{"tx", s}, "a batch is")
	wantFail(t, 2, `[]`, []string{"tx", s}, "no ops")
	wantFail(t, 2, "", []string{"tx", "-f", filepath.Join(t.TempDir(), "none.json"), s}, "-f")
}
