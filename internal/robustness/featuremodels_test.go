package robustness

import (
	"net/http"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func bop(call, ret int64, in BankInput, out BankOutput) porcupine.Operation {
	return porcupine.Operation{Call: call, Return: ret, Input: in, Output: out}
}

// The bank model refuses a transfer seen half applied and a double spend.
func TestBankModel(t *testing.T) {
	m := NewBank("b", 2, 100).Model()
	tr := BankInput{Transfer: true, A: 0, B: 1, AVersion: 1, BVersion: 1, ANew: 90, BNew: 110}
	done := BankOutput{Status: http.StatusOK, AVersion: 2, BVersion: 2}
	read := func(a int, v, bal int64) BankOutput { return BankOutput{Status: 200, AVersion: v, Balance: bal} }
	tests := []struct {
		name string
		h    []porcupine.Operation
		ok   bool
	}{
		{"transfer then reads", []porcupine.Operation{
			bop(0, 1, tr, done), bop(2, 3, BankInput{A: 0}, read(0, 2, 90)), bop(4, 5, BankInput{A: 1}, read(1, 2, 110))}, true},
		{"half visible", []porcupine.Operation{
			bop(0, 10, tr, done), bop(1, 2, BankInput{A: 1}, read(1, 2, 110)), bop(3, 4, BankInput{A: 0}, read(0, 1, 100))}, false},
		{"double spend", []porcupine.Operation{
			bop(0, 5, tr, done), bop(1, 6, BankInput{Transfer: true, A: 0, B: 1, AVersion: 1, BVersion: 1, ANew: 80, BNew: 120}, done)}, false},
		{"lost answer, applied", []porcupine.Operation{
			bop(0, 1<<40, tr, BankOutput{Unknown: true}), bop(5, 6, BankInput{A: 0}, read(0, 2, 90))}, true},
		{"stale transfer refused", []porcupine.Operation{
			bop(0, 1, tr, done), bop(2, 3, tr, BankOutput{Status: 412, Code: "precondition_failed"})}, true},
	}
	for _, tt := range tests {
		if got := porcupine.CheckOperations(m, tt.h); got != tt.ok {
			t.Errorf("%s: linearizable = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// The lock model refuses two live holders and a write past a live lock,
// and allows a new holder once the old lock may have expired.
func TestLockModel(t *testing.T) {
	m := NewLocks("l", time.Second).Model()
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	grant := func(tok string, exp time.Time) LockOutput { return LockOutput{Status: 201, Token: tok, ExpiresAt: exp} }
	acq := func(end time.Time) LockInput { return LockInput{Op: LockAcquire, End: end} }
	op := func(call, ret int64, in LockInput, out LockOutput) porcupine.Operation {
		return porcupine.Operation{Call: call, Return: ret, Input: in, Output: out}
	}
	tests := []struct {
		name string
		h    []porcupine.Operation
		ok   bool
	}{
		{"grant, write, release, grant", []porcupine.Operation{
			op(0, 1, acq(at(0)), grant("a", at(time.Second))),
			op(2, 3, LockInput{Op: LockWrite, Token: "a", IfVersion: 1, End: at(10 * time.Millisecond)}, LockOutput{Status: 200, Version: 2}),
			op(4, 5, LockInput{Op: LockRelease, Token: "a", End: at(20 * time.Millisecond)}, LockOutput{Status: 204}),
			op(6, 7, acq(at(30*time.Millisecond)), grant("b", at(time.Second))),
		}, true},
		{"two live holders", []porcupine.Operation{
			op(0, 1, acq(at(0)), grant("a", at(time.Second))),
			op(2, 3, acq(at(10*time.Millisecond)), grant("b", at(time.Second))),
		}, false},
		{"a second holder after expiry", []porcupine.Operation{
			op(0, 1, acq(at(0)), grant("a", at(time.Second))),
			op(2, 3, acq(at(2*time.Second)), grant("b", at(3*time.Second))),
		}, true},
		{"an intruder writes past a live lock", []porcupine.Operation{
			op(0, 1, acq(at(0)), grant("a", at(time.Second))),
			op(2, 3, LockInput{Op: LockWrite, IfVersion: 1, End: at(10 * time.Millisecond)}, LockOutput{Status: 200, Version: 2}),
		}, false},
		{"a free lock refused", []porcupine.Operation{
			op(0, 1, acq(at(0)), LockOutput{Status: http.StatusLocked, Code: "locked"}),
		}, false},
	}
	for _, tt := range tests {
		if got := porcupine.CheckOperations(m, tt.h); got != tt.ok {
			t.Errorf("%s: linearizable = %v, want %v", tt.name, got, tt.ok)
		}
	}
}
