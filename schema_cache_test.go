package truce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/trucedb/truce"
)

// TestSchemaCacheBounded: a collection whose schema is replaced, or which is
// dropped and created again with another schema, many times keeps one
// compiled schema at most, and none once it is dropped; every write is
// checked against the schema in force, not an older one.
func TestSchemaCacheBounded(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	for i := range 1000 {
		// Each schema accepts n == i only, so a write checked against an
		// earlier schema fails.
		schema := json.RawMessage(fmt.Sprintf(`{"type":"object","properties":{"n":{"const":%d}}}`, i))
		if _, _, err := svc.PutCollection(ctx, "c", truce.Settings{Schema: schema}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Put(ctx, "c", "d", fmt.Appendf(nil, `{"n":%d}`, i), truce.Precondition{}, nil); err != nil {
			t.Fatalf("schema %d: %v", i, err)
		}
		if _, err := svc.Put(ctx, "c", "d", fmt.Appendf(nil, `{"n":%d}`, i+1), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeSchemaViolation {
			t.Fatalf("schema %d: a body it refuses: %v", i, err)
		}
		if n := truce.SchemaCacheLen(svc); n != 1 {
			t.Fatalf("after schema %d the cache holds %d schemas, want 1", i, n)
		}
		if i%10 == 9 { // dropped and created again
			if err := svc.DeleteCollection(ctx, "c", true); err != nil {
				t.Fatal(err)
			}
			if n := truce.SchemaCacheLen(svc); n != 0 {
				t.Fatalf("after the drop the cache holds %d schemas, want 0", n)
			}
		}
	}
	if _, _, err := svc.PutCollection(ctx, "c", truce.Settings{}); err != nil {
		t.Fatal(err)
	}
	if n := truce.SchemaCacheLen(svc); n != 0 {
		t.Fatalf("with no schema the cache holds %d schemas, want 0", n)
	}
	if _, err := svc.Put(ctx, "c", "d", []byte(`{"n":"anything"}`), truce.Precondition{}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSchemaConcurrentWriters: writers in many goroutines share a compiled
// schema while the collection's schema keeps changing; run with -race. Every
// schema used accepts the good body and refuses the bad one.
func TestSchemaConcurrentWriters(t *testing.T) {
	svc, _ := mustService(t)
	ctx := context.Background()
	schemas := []string{
		`{"type":"object","properties":{"n":{"type":"integer"}}}`,
		`{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}`,
		`{"type":"object","required":["n"],"properties":{"n":{"type":"integer"}}}`,
	}
	if _, _, err := svc.PutCollection(ctx, "c", truce.Settings{Schema: json.RawMessage(schemas[0])}); err != nil {
		t.Fatal(err)
	}
	const writers, writes = 8, 50
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("d", g)
			for i := range writes {
				if _, err := svc.Put(ctx, "c", id, fmt.Appendf(nil, `{"n":%d}`, i), truce.Precondition{}, nil); err != nil {
					t.Errorf("%s: good body: %v", id, err)
					return
				}
				if _, err := svc.Put(ctx, "c", id, []byte(`{"n":"x"}`), truce.Precondition{}, nil); truce.ErrorCode(err) != truce.CodeSchemaViolation {
					t.Errorf("%s: bad body: %v", id, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 3 * writes {
			s := json.RawMessage(schemas[i%len(schemas)])
			if _, _, err := svc.PutCollection(ctx, "c", truce.Settings{Schema: s}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	if n := truce.SchemaCacheLen(svc); n != 1 {
		t.Fatalf("the cache holds %d schemas, want 1", n)
	}
}
