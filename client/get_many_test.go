package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/trucedb/truce/client"
)

func TestGetMany(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	a, err := c.Put(ctx, "m", "a", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "m", "b", map[string]any{"n": 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "m", "b"); err != nil {
		t.Fatal(err)
	}
	l, err := c.GetMany(ctx, "m", []string{"b", "a", "zz"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 3 || l.AsOf != 3 {
		t.Fatalf("GetMany: %+v", l)
	}
	if l.Items[0].ID != "b" || l.Items[0].Doc != nil || l.Items[2].ID != "zz" || l.Items[2].Doc != nil {
		t.Errorf("missing ids: %+v", l.Items)
	}
	got := l.Items[1].Doc
	if got == nil || got.ID != "a" || got.ETag != a.ETag || got.Version != 1 || got.Collection != "m" {
		t.Fatalf("found a: %+v, want ETag %s", got, a.ETag)
	}
	if docs := l.Docs(); len(docs) != 1 || docs[0] != got {
		t.Errorf("Docs: %v", docs)
	}
	// The ETag serves a conditional write.
	if _, err := c.Put(ctx, "m", "a", map[string]any{"n": 3}, client.IfMatch(got.ETag)); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetMany(ctx, "m", []string{"bad id"})
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "invalid_id" {
		t.Fatalf("a bad id: %v", err)
	}
	_, err = c.GetMany(ctx, "nope", []string{"a"})
	if !client.IsNotFound(err) {
		t.Fatalf("a missing collection: %v", err)
	}
}

func ExampleClient_GetMany() {
	ctx := context.Background()
	c, err := client.New(serverURL) // such as "http://127.0.0.1:8080"
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"ann", "bob"} {
		if _, err := c.Put(ctx, "example-people", id, map[string]string{"name": id}); err != nil {
			log.Fatal(err)
		}
	}
	// One round trip, one snapshot: each document with its ETag, in order.
	l, err := c.GetMany(ctx, "example-people", []string{"bob", "zoe", "ann"})
	if err != nil {
		log.Fatal(err)
	}
	for _, it := range l.Items {
		if it.Doc == nil {
			fmt.Println(it.ID, "not found")
			continue
		}
		fmt.Println(it.ID, "version", it.Doc.Version)
	}
	// Output:
	// bob version 1
	// zoe not found
	// ann version 1
}
