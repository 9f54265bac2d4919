package truce_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/trucedb/truce"
)

// httpWords are what a detail of the Service must not say: headers, query
// parameters, URLs, methods and the server's flags belong to the
// transport, which adds them where they help (http/advice.go).
var httpWords = regexp.MustCompile(`If-Match|If-None-Match|ifMatch|ifNoneMatch|Lock-Token|Idempotency-Key|Last-Event-ID|Retry-After|HTTP|` +
	`\?[a-z]+=|\b(since|after|status|force|version)=|/v1/|--[a-z]|\b(GET|PUT|POST|PATCH|DELETE)\b|\bURL\b|\bheader\b`)

// TestDetailsSpeakNoHTTP: the Service's refusals say what went wrong, and
// what to do, in the domain's words.
func TestDetailsSpeakNoHTTP(t *testing.T) {
	svc, store := mustService(t)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := svc.PutCollection(ctx, "strict", truce.Settings{RequirePreconditions: true})
	must(err)
	_, _, err = svc.PutCollection(ctx, "manual", truce.Settings{ConflictPolicy: truce.PolicyManual})
	must(err)
	d, err := svc.Create(ctx, "notes", []byte(`{"_id":"n1","a":1}`))
	must(err)
	_, err = svc.Create(ctx, "manual", []byte(`{"_id":"m","t":"a"}`))
	must(err)
	_, err = svc.Put(ctx, "manual", "m", []byte(`{"t":"b","_version":1}`), truce.Precondition{}, nil)
	must(err)
	_, stale := svc.Put(ctx, "manual", "m", []byte(`{"t":"c","_version":1}`), truce.Precondition{}, nil)
	cid := ""
	if e, ok := stale.(*truce.Error); ok {
		cid = e.ConflictID
	}
	lock, err := svc.Lock(ctx, truce.LockRequest{Collection: "notes", ID: "locked", Owner: "ann"})
	must(err)
	many := make([]string, 65)
	for i := range many {
		many[i] = `"x"`
	}
	two := truce.NewService(store, truce.Options{MaxOps: 1})
	second := func(_ any, err error) error { return err }
	third := func(_, _ any, err error) error { return err }

	for _, tt := range []struct {
		name string
		code truce.Code
		err  error
	}{
		{"precondition required", truce.CodePreconditionRequired, second(svc.Put(ctx, "strict", "s", []byte(`{}`), truce.Precondition{}, nil))},
		{"if-match stale", truce.CodePreconditionFailed, second(svc.Put(ctx, "notes", "n1", []byte(`{}`), truce.Precondition{IfMatch: []string{`"9-9"`}}, nil))},
		{"if-match missing", truce.CodePreconditionFailed, second(svc.Put(ctx, "notes", "nx", []byte(`{}`), truce.Precondition{IfMatch: []string{"*"}}, nil))},
		{"if-none-match star", truce.CodePreconditionFailed, second(svc.Put(ctx, "notes", "n1", []byte(`{}`), truce.Precondition{IfNoneMatch: []string{"*"}}, nil))},
		{"if-none-match etag", truce.CodePreconditionFailed, second(svc.Put(ctx, "notes", "n1", []byte(`{}`), truce.Precondition{IfNoneMatch: []string{d.ETag()}}, nil))},
		{"already exists", truce.CodeAlreadyExists, second(svc.Create(ctx, "notes", []byte(`{"_id":"n1"}`)))},
		{"id differs", truce.CodeInvalidID, second(svc.Put(ctx, "notes", "n1", []byte(`{"_id":"n2"}`), truce.Precondition{}, nil))},
		{"versions differ", truce.CodeInvalidPrecondition, second(svc.Put(ctx, "notes", "n1", []byte(`{"_version":1}`), truce.Precondition{Version: 2}, nil))},
		{"create with version", truce.CodeInvalidPrecondition, second(svc.Create(ctx, "notes", []byte(`{"_version":1}`)))},
		{"merge patch reserved", truce.CodeReservedField, second(svc.Patch(ctx, "notes", "n1", truce.MergePatch, []byte(`{"_version":1}`), truce.Precondition{}, nil))},
		{"patch whole document", truce.CodeInvalidPatch, second(svc.Patch(ctx, "notes", "n1", truce.JSONPatch, []byte(`[{"op":"replace","path":"","value":{}}]`), truce.Precondition{}, nil))},
		{"patch type", truce.CodeUnsupportedMediaType, second(svc.Patch(ctx, "notes", "n1", "text/plain", []byte(`{}`), truce.Precondition{}, nil))},
		{"not empty", truce.CodeNotEmpty, svc.DeleteCollection(ctx, "notes", false)},
		{"conflict status", truce.CodeInvalidParameter, second(svc.ListConflicts(ctx, truce.ConflictFilter{Status: "nope"}, "", 10))},
		{"conflict cursor", truce.CodeInvalidParameter, second(svc.ListConflicts(ctx, truce.ConflictFilter{}, strings.Repeat("a", 300), 10))},
		{"list cursor", truce.CodeInvalidParameter, second(svc.List(ctx, "notes", strings.Repeat("a", 300), 10))},
		{"recorded conflict", truce.CodeMergeConflict, stale},
		{"resolve without etag", truce.CodePreconditionRequired, third(svc.ResolveConflict(ctx, cid, truce.StrategyKeepCurrent, nil, truce.Precondition{}, nil))},
		{"resolve with version", truce.CodeInvalidPrecondition, third(svc.ResolveConflict(ctx, cid, truce.StrategyCustom, []byte(`{"_version":2}`), truce.Precondition{IfMatch: []string{"*"}}, nil))},
		{"no transaction id", truce.CodeTransactionExpired, second(svc.CommitTransaction(ctx, strings.Repeat("x", 300), nil, nil))},
		{"transaction gone", truce.CodeTransactionExpired, second(svc.CommitTransaction(ctx, "gone", nil, nil))},
		{"too many ops", truce.CodeTooManyOps, second(two.Batch(ctx, []truce.Op{{Kind: truce.OpCheck, Collection: "notes", ID: "a"}, {Kind: truce.OpCheck, Collection: "notes", ID: "b"}}, nil, nil))},
		{"create op precondition", truce.CodeInvalidPrecondition, second(svc.Batch(ctx, []truce.Op{{Kind: truce.OpCreate, Collection: "notes", Pre: truce.Precondition{Version: 1}, Document: []byte(`{}`)}}, nil, nil))},
		{"locked", truce.CodeLocked, second(svc.Put(ctx, "notes", "locked", []byte(`{}`), truce.Precondition{}, nil))},
		{"lock expired", truce.CodeLockExpired, second(svc.Put(ctx, "notes", "n1", []byte(`{}`), truce.Precondition{LockToken: "bogus"}, nil))},
		{"lock token mismatch", truce.CodeLockTokenMismatch, svc.Unlock(ctx, "notes", "locked", lock.Token+"x")},
		{"unlock without token", truce.CodeInvalidPrecondition, svc.Unlock(ctx, "notes", "locked", "")},
		{"feed position", truce.CodeInvalidParameter, second(svc.Feed().Subscribe(ctx, 1<<40, truce.FeedFilter{}))},
		{"etag list", truce.CodeInvalidPrecondition, second(truce.ParseETagList(strings.Join(many, ", ")))},
	} {
		var e *truce.Error
		if !errors.As(tt.err, &e) || e.Code != tt.code || e.Detail == "" {
			t.Errorf("%s: %v, want %s", tt.name, tt.err, tt.code)
			continue
		}
		if w := httpWords.FindString(e.Detail); w != "" {
			t.Errorf("%s: the detail speaks HTTP (%q): %s", tt.name, w, e.Detail)
		}
	}
}
