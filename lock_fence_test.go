package truce_test

import (
	"context"
	"testing"
	"time"

	"github.com/trucedb/truce"
)

// TestLockFencesEveryWritePath: while notes/d is locked, every way of
// writing it is locked without the holder's token and changes nothing,
// goes through with it, and is lock_expired with the token of a lock
// that was released. The lock comes before every other rule, but the
// holder's own preconditions still apply.
func TestLockFencesEveryWritePath(t *testing.T) {
	type writeFunc func(ctx context.Context, svc *truce.Service, cid, token string) error
	withToken := func(token string) truce.Precondition { return truce.Precondition{LockToken: token} }
	paths := []struct {
		name  string
		write writeFunc
	}{
		{"put", func(ctx context.Context, svc *truce.Service, _, token string) error {
			return second(svc.Put(ctx, "notes", "d", []byte(`{"title":"t"}`), withToken(token), nil))
		}},
		{"merge patch", func(ctx context.Context, svc *truce.Service, _, token string) error {
			return second(svc.Patch(ctx, "notes", "d", truce.MergePatch, []byte(`{"title":"m"}`), withToken(token), nil))
		}},
		{"JSON Patch", func(ctx context.Context, svc *truce.Service, _, token string) error {
			return second(svc.Patch(ctx, "notes", "d", truce.JSONPatch, []byte(`[{"op":"replace","path":"/title","value":"j"}]`), withToken(token), nil))
		}},
		{"restore", func(ctx context.Context, svc *truce.Service, _, token string) error {
			return second(svc.Restore(ctx, "notes", "d", 1, withToken(token), nil))
		}},
		{"resolve", func(ctx context.Context, svc *truce.Service, cid, token string) error {
			cur, err := svc.Get(ctx, "notes", "d")
			if err != nil {
				return err
			}
			_, _, err = svc.ResolveConflict(ctx, cid, truce.StrategyTakeProposed, nil, truce.Precondition{IfMatch: []string{cur.ETag()}, LockToken: token}, nil)
			return err
		}},
		{"delete", func(ctx context.Context, svc *truce.Service, _, token string) error {
			return second(svc.Delete(ctx, "notes", "d", withToken(token), nil))
		}},
		{"create", func(ctx context.Context, svc *truce.Service, _, token string) error {
			if _, err := svc.Delete(ctx, "notes", "d", withToken(token), nil); truce.ErrorCode(err) != truce.CodeLocked {
				return err // the holder deleted it: a create is what may come next
			}
			return second(svc.CreateLocked(ctx, "notes", []byte(`{"_id":"d","x":1}`), token, nil))
		}},
	}
	for _, p := range paths {
		for _, m := range []struct {
			name string
			// token picks the token the write sends, from the holder's.
			token func(t *testing.T, svc *truce.Service, holder string) string
			code  truce.Code
		}{
			{"without the token", func(*testing.T, *truce.Service, string) string { return "" }, truce.CodeLocked},
			{"with the holder's token", func(_ *testing.T, _ *truce.Service, h string) string { return h }, ""},
			{"with a released lock's token", func(t *testing.T, svc *truce.Service, h string) string {
				if err := svc.Unlock(t.Context(), "notes", "d", h); err != nil {
					t.Fatal(err)
				}
				return h
			}, truce.CodeLockExpired},
		} {
			t.Run(p.name+" "+m.name, func(t *testing.T) {
				svc, store := mustService(t)
				cid := openConflict(t, svc, "notes", "d") // d at version 2, an open conflict
				holder := mustLock(t, svc, truce.LockRequest{Collection: "notes", ID: "d", Owner: "alice", TTL: time.Minute}).Token
				token := m.token(t, svc, holder)
				before := lastSeq(t, store)
				err := p.write(t.Context(), svc, cid, token)
				if !codeIs(t, "write", err, m.code) || m.code == "" {
					return
				}
				if te := wantCode(t, "refusal", err, m.code); m.code == truce.CodeLocked && (te.LockOwner != "alice" || te.RetryAfter <= 0) {
					t.Errorf("locked without the holder: %+v", te)
				}
				if after := lastSeq(t, store); after != before {
					t.Errorf("a refused write moved the change log from %d to %d", before, after)
				}
			})
		}
	}

	svc, _ := mustService(t)
	mustPut(t, svc, "notes", "d", `{}`)
	holder := mustLock(t, svc, truce.LockRequest{Collection: "notes", ID: "d", Owner: "alice", TTL: time.Minute}).Token
	stale := []string{`"9-9"`}
	runSteps(t, svc, []step{
		{"a stale If-Match without the token", do(put("notes", "d", `{}`, truce.Precondition{IfMatch: stale})), truce.CodeLocked},
		{"a stale If-Match with the token", do(put("notes", "d", `{}`, truce.Precondition{IfMatch: stale, LockToken: holder})), truce.CodePreconditionFailed},
	})
}
