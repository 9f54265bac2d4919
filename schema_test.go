package truce_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/trucedb/truce"
)

// TestSchema: every written body must satisfy the collection's JSON
// Schema, and a refusal lists each error by JSON Pointer; the reserved
// fields are not part of what the schema sees; a new schema applies to
// later writes only. notes requires a title of at most 5 characters and
// an integer n; strict allows only a, and holds x.
func TestSchema(t *testing.T) {
	setup := func(t *testing.T, svc *truce.Service) {
		mustPut(t, svc, "notes", "old", `{"n":"not an integer"}`)
		mustSettings(t, svc, "notes", truce.Settings{Schema: []byte(`{"type":"object","required":["title"],"properties":{"title":{"type":"string","maxLength":5},"n":{"type":"integer"}}}`)})
		mustPut(t, svc, "notes", "a", `{"title":"ok"}`)
		mustSettings(t, svc, "strict", truce.Settings{Schema: []byte(`{"type":"object","additionalProperties":false,"properties":{"a":{}}}`)})
		mustPut(t, svc, "strict", "x", `{"a":1}`)
	}
	pointers := func(want ...string) func(*testing.T, truce.WriteResult, error) {
		return func(t *testing.T, _ truce.WriteResult, err error) {
			var te *truce.Error
			if !errors.As(err, &te) {
				t.Fatal(err)
			}
			var got []string
			for _, v := range te.Violations {
				got = append(got, v.Pointer)
				if v.Message == "" {
					t.Errorf("violation at %q without a message", v.Pointer)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("violations at %q, want %q", got, want)
			}
		}
	}
	runWrites(t, setup, []writeCase{
		{name: "two violations", write: put("notes", "b", `{"title":"far too long","n":"x"}`, none), code: truce.CodeSchemaViolation, check: pointers("/n", "/title")},
		{name: "a missing required field", write: put("notes", "b", `{"n":1}`, none), code: truce.CodeSchemaViolation, check: pointers("")},
		{name: "a valid document", write: put("notes", "b", `{"title":"ok","n":1}`, none), version: 1, created: true},
		{name: "a patch that breaks it", write: mergePatch("notes", "a", `{"title":"too long again"}`, none), code: truce.CodeSchemaViolation, check: pointers("/title")},
		{name: "a create that breaks it", write: create("notes", `{"title":1}`), code: truce.CodeSchemaViolation, check: pointers("/title")},
		{name: "a document written before the schema is kept as it was", write: func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			d, err := svc.Get(ctx, "notes", "old")
			return truce.WriteResult{Document: d}, err
		}, version: 1, body: `{"n":"not an integer"}`},
		{name: "and must satisfy it when next written", write: mergePatch("notes", "old", `{"title":"t"}`, none), code: truce.CodeSchemaViolation, check: pointers("/n")},
		{name: "reserved fields are not seen", write: put("strict", "x", `{"a":2,"_id":"x","_version":1}`, none), version: 2, body: `{"a":2}`},
		{name: "a document read is written back", write: func(ctx context.Context, svc *truce.Service) (truce.WriteResult, error) {
			d, err := svc.Get(ctx, "strict", "x")
			if err != nil {
				return truce.WriteResult{}, err
			}
			return svc.Put(ctx, "strict", "x", bytes.Clone(d.JSON()), none, nil)
		}, version: 2, body: `{"a":1}`},
		{name: "an unknown field", write: put("strict", "y", `{"b":1}`, none), code: truce.CodeSchemaViolation},
	})
}
