package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/trucedb/truce/client"
)

// Every refusal the server can give through the client maps to an *Error
// with the right status, code and helpers.
func TestErrorMapping(t *testing.T) {
	c := mustClient(t, mustServe(t), client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	ctx := testCtx(t)
	v1, err := c.Put(ctx, "notes", "n1", note{Title: "one"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := c.Put(ctx, "notes", "n1", note{Title: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutCollection(ctx, "accounts", client.Settings{Unique: []string{"email"}, RequirePreconditions: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "accounts", "ann", map[string]string{"email": "ann@example.com"}, client.IfNoneMatch("*")); err != nil {
		t.Fatal(err)
	}

	type flags struct{ conflict, notFound, precondition, versionConflict bool }
	tests := []struct {
		name      string
		call      func() error
		status    int
		code      string
		retryable bool
		current   bool // the problem carries the current document (v2)
		is        flags
		problem   string // a member the raw problem has
	}{
		{name: "stale If-Match", status: 412, code: client.CodePreconditionFailed, retryable: true, current: true,
			is:   flags{conflict: true, precondition: true},
			call: func() error { _, err := c.Put(ctx, "notes", "n1", note{}, client.IfMatch(v1.ETag)); return err }},
		{name: "If-None-Match * on a live document", status: 412, code: client.CodePreconditionFailed, retryable: true, current: true,
			is:   flags{conflict: true, precondition: true},
			call: func() error { _, err := c.Put(ctx, "notes", "n1", note{}, client.IfNoneMatch("*")); return err }},
		{name: "If-Match on a missing document", status: 412, code: client.CodePreconditionFailed, retryable: true,
			is:   flags{conflict: true, precondition: true},
			call: func() error { _, err := c.Put(ctx, "notes", "nosuch", note{}, client.IfMatch(v1.ETag)); return err }},
		{name: "stale version", status: 409, code: client.CodeVersionConflict, retryable: true, current: true,
			is:   flags{conflict: true, versionConflict: true},
			call: func() error { _, err := c.Put(ctx, "notes", "n1", note{}, client.Version(1)); return err }},
		{name: "stale _version in the body", status: 409, code: client.CodeVersionConflict, retryable: true, current: true,
			is:   flags{conflict: true, versionConflict: true},
			call: func() error { _, err := c.Put(ctx, "notes", "n1", v1); return err }},
		{name: "stale version on Delete", status: 409, code: client.CodeVersionConflict, retryable: true, current: true,
			is:   flags{conflict: true, versionConflict: true},
			call: func() error { return c.Delete(ctx, "notes", "n1", client.Version(1)) }},
		{name: "failed JSON Patch test", status: 409, code: client.CodePatchTestFailed, retryable: true, current: true,
			call: func() error {
				_, err := c.Patch(ctx, "notes", "n1", client.JSONPatch([]client.PatchOp{{Op: "test", Path: "/title", Value: json.RawMessage(`"one"`)}}))
				return err
			}},
		{name: "not found", status: 404, code: client.CodeNotFound, is: flags{notFound: true},
			call: func() error { _, err := c.Get(ctx, "notes", "nosuch"); return err }},
		{name: "no such collection", status: 404, code: client.CodeNotFound, is: flags{notFound: true},
			call: func() error { _, err := c.GetCollection(ctx, "nosuch"); return err }},
		{name: "already exists", status: 409, code: client.CodeAlreadyExists,
			call: func() error { _, err := c.Create(ctx, "notes", map[string]string{"_id": "n1"}); return err }},
		{name: "invalid JSON", status: 400, code: client.CodeInvalidJSON,
			call: func() error { _, err := c.Put(ctx, "notes", "n2", json.RawMessage(`{"title":`)); return err }},
		{name: "not an object", status: 400, code: client.CodeInvalidDocument,
			call: func() error { _, err := c.Put(ctx, "notes", "n2", []int{1}); return err }},
		{name: "reserved field", status: 400, code: client.CodeReservedField,
			call: func() error { _, err := c.Put(ctx, "notes", "n2", map[string]int{"_secret": 1}); return err }},
		{name: "invalid id", status: 400, code: client.CodeInvalidID,
			call: func() error { _, err := c.Put(ctx, "notes", "a b", note{}); return err }},
		{name: "invalid collection", status: 400, code: client.CodeInvalidCollection,
			call: func() error { _, err := c.Get(ctx, "Notes", "a"); return err }},
		{name: "invalid patch", status: 400, code: client.CodeInvalidPatch,
			call: func() error { _, err := c.Patch(ctx, "notes", "n1", client.MergePatch([]int{1})); return err }},
		{name: "invalid settings", status: 400, code: client.CodeInvalidSettings,
			call: func() error {
				_, err := c.PutCollection(ctx, "bad", client.Settings{ConflictPolicy: "whatever"})
				return err
			}},
		{name: "unique violation", status: 409, code: client.CodeUniqueViolation, problem: "holder",
			call: func() error {
				_, err := c.Put(ctx, "accounts", "bob", map[string]string{"email": "ann@example.com"}, client.IfNoneMatch("*"))
				return err
			}},
		{name: "precondition required", status: 428, code: client.CodePreconditionRequired,
			call: func() error {
				_, err := c.Put(ctx, "accounts", "ann", map[string]string{"email": "a@example.com"})
				return err
			}},
		{name: "collection not empty", status: 409, code: client.CodeNotEmpty,
			call: func() error { return c.DeleteCollection(ctx, "notes") }},
		{name: "version trimmed or missing", status: 404, code: client.CodeNotFound, is: flags{notFound: true},
			call: func() error { _, err := c.Version(ctx, "notes", "n1", 99); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			e := mustErr(t, err)
			if e.Status != tt.status || e.Code != tt.code || e.Retryable != tt.retryable {
				t.Errorf("got status %d code %q retryable %v, want %d %q %v: %v",
					e.Status, e.Code, e.Retryable, tt.status, tt.code, tt.retryable, err)
			}
			if e.Detail == "" || e.Title == "" || e.Type == "" || e.RequestID == "" || len(e.Problem) == 0 {
				t.Errorf("incomplete error: %+v", e)
			}
			if e.Method == "" || !strings.HasPrefix(e.Path, "/v1/") {
				t.Errorf("Method %q Path %q", e.Method, e.Path)
			}
			if client.Code(err) != tt.code {
				t.Errorf("Code(err) = %q", client.Code(err))
			}
			got := flags{client.IsConflict(err), client.IsNotFound(err), client.IsPreconditionFailed(err), client.IsVersionConflict(err)}
			if got != tt.is {
				t.Errorf("IsConflict, IsNotFound, IsPreconditionFailed, IsVersionConflict = %+v, want %+v", got, tt.is)
			}
			if tt.current {
				cur := e.Current
				if cur == nil {
					t.Fatalf("no Current in %s", e.Problem)
				}
				if cur.ID != "n1" || cur.Collection != "notes" || cur.Version != v2.Version || cur.ETag != v2.ETag ||
					string(cur.Raw) != string(v2.Raw) {
					t.Errorf("Current = %+v, want %+v", cur, v2)
				}
			} else if e.Current != nil {
				t.Errorf("Current = %+v, want none", e.Current)
			}
			if tt.problem != "" {
				var m map[string]any
				if err := json.Unmarshal(e.Problem, &m); err != nil || m[tt.problem] == nil {
					t.Errorf("the raw problem has no %q: %s", tt.problem, e.Problem)
				}
			}
			// The error reads well and wraps.
			msg := err.Error()
			if !strings.Contains(msg, e.Detail) || !strings.Contains(msg, tt.code) || !strings.Contains(msg, fmt.Sprint(tt.status)) {
				t.Errorf("Error() = %q lacks the detail, code or status", msg)
			}
			wrapped := fmt.Errorf("saving: %w", err)
			if client.Code(wrapped) != tt.code {
				t.Errorf("Code of a wrapped error = %q", client.Code(wrapped))
			}
		})
	}
}

func TestErrorHelpersOnOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("x"), context.Canceled, client.ErrNotModified} {
		if client.IsConflict(err) || client.IsNotFound(err) || client.IsPreconditionFailed(err) ||
			client.IsVersionConflict(err) || client.Code(err) != "" {
			t.Errorf("a helper matches %v", err)
		}
	}
}

// An answer that is not a problem (a proxy's page) still becomes an
// *Error, with no code.
func TestNonProblemAnswer(t *testing.T) {
	c, _ := newFaults(t, mustServe(t), []fault{plainAnswer(404, "<html>no route</html>")})
	_, err := c.Get(testCtx(t), "notes", "a")
	e := mustErr(t, err)
	if e.Status != 404 || e.Code != "" || e.Retryable || !strings.Contains(e.Detail, "no route") || !client.IsNotFound(err) {
		t.Errorf("got %+v", e)
	}
	if !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("Error() = %q", err)
	}
}
