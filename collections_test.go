package truce_test

import (
	"context"
	"testing"

	"github.com/trucedb/truce"
)

// TestDecodeSettings: collection settings are read strictly; anything
// malformed is invalid_settings (invalid_json when not JSON at all), and
// an empty body means the defaults.
func TestDecodeSettings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code truce.Code
	}{
		{``, ""},
		{`{}`, ""},
		{`{"unique":["email"],"historyLimit":5,"conflictPolicy":"merge","references":{"a":"users"}}`, ""},
		{`{"schema":null}`, ""},
		{`{"conflictPolicy":"sometimes"}`, truce.CodeInvalidSettings},
		{`{"nope":1}`, truce.CodeInvalidSettings},
		{`{"unique":["_id"]}`, truce.CodeInvalidSettings},
		{`{"unique":[""]}`, truce.CodeInvalidSettings},
		{`{"unique":["a","a"]}`, truce.CodeInvalidSettings},
		{`{"unique":"email"}`, truce.CodeInvalidSettings},
		{`{"historyLimit":-1}`, truce.CodeInvalidSettings},
		{`{"schema":{"type":"nonsense"}}`, truce.CodeInvalidSettings},
		{`{"schema":{"type":12}}`, truce.CodeInvalidSettings},
		{`{"schema":{"$ref":"file:///etc/passwd"}}`, truce.CodeInvalidSettings},
		{`{"references":{"a":"Bad Name"}}`, truce.CodeInvalidSettings},
		{`{"references":{"_a":"users"}}`, truce.CodeInvalidSettings},
		{`[]`, truce.CodeInvalidSettings},
		{`{`, truce.CodeInvalidJSON},
	} {
		_, err := truce.DecodeSettings([]byte(tc.in))
		codeIs(t, tc.in, err, tc.code)
	}
}

// TestCollections: a collection is created by its settings or by its
// first write; replacing settings keeps it; it cannot be dropped while
// it holds live documents unless forced, and a forced drop takes its
// documents with it.
func TestCollections(t *testing.T) {
	svc, _ := mustService(t)
	ctx := t.Context()
	info, created, err := svc.PutCollection(ctx, "users", truce.Settings{Unique: []string{"email"}, HistoryLimit: 5})
	if err != nil || !created || info.Settings.Policy() != truce.PolicyReject || info.Settings.HistoryLimit != 5 {
		t.Fatalf("create: %v %v %+v", err, created, info)
	}
	if _, created, err = svc.PutCollection(ctx, "users", truce.Settings{Unique: []string{"email"}, HistoryLimit: 3}); err != nil || created {
		t.Fatalf("replace: %v created=%v", err, created)
	}
	if _, _, err := svc.PutCollection(ctx, "Users", truce.Settings{}); !codeIs(t, "invalid name", err, truce.CodeInvalidCollection) {
		return
	}
	mustPut(t, svc, "users", "u1", `{"email":"a@x"}`)
	info, err = svc.GetCollection(ctx, "users")
	if err != nil || info.Stats.Documents != 1 || info.Settings.HistoryLimit != 3 {
		t.Fatalf("get: %v %+v", err, info)
	}
	// The first write creates a collection with the default settings.
	if _, err := svc.Create(ctx, "posts", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	list, err := svc.ListCollections(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "posts" || list[0].Settings.Policy() != truce.PolicyReject || list[1].Name != "users" {
		t.Fatalf("list: %v %+v", err, list)
	}
	drop := func(name string, force bool) func(context.Context, *truce.Service) error {
		return func(ctx context.Context, svc *truce.Service) error { return svc.DeleteCollection(ctx, name, force) }
	}
	runSteps(t, svc, []step{
		{"drop a collection with live documents", drop("users", false), truce.CodeNotEmpty},
		{"force it", drop("users", true), ""},
		{"it is gone", func(ctx context.Context, svc *truce.Service) error { return second(svc.GetCollection(ctx, "users")) }, truce.CodeNotFound},
		{"its documents too", func(ctx context.Context, svc *truce.Service) error { return second(svc.Get(ctx, "users", "u1")) }, truce.CodeNotFound},
		{"drop it again", drop("users", true), truce.CodeNotFound},
		{"its unique values are free", do(put("users", "u2", `{"email":"a@x"}`, none)), ""},
		{"a collection of tombstones", func(ctx context.Context, svc *truce.Service) error {
			p, err := svc.List(ctx, "posts", "", 0)
			if err != nil || len(p.Items) != 1 {
				t.Fatalf("posts: %v %+v", err, p)
			}
			_, err = svc.Delete(ctx, "posts", p.Items[0].ID, none, nil)
			return err
		}, ""},
		{"outlives its documents", func(ctx context.Context, svc *truce.Service) error {
			info, err := svc.GetCollection(ctx, "posts")
			if err == nil && (info.Stats.Documents != 0 || info.Stats.Deleted != 1) {
				t.Errorf("counts %+v, want 0 live and 1 deleted", info.Stats)
			}
			return err
		}, ""},
		{"and is dropped without force", drop("posts", false), ""},
	})
}
