package truce_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
)

// A program that embeds truce: the store, the Service, its background
// upkeep with Run, and a write guarded by the version it read.
func Example() {
	dir, err := os.MkdirTemp("", "truce-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		log.Fatal(err)
	}
	svc := truce.NewService(store, truce.Options{Logger: slog.Default()})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { stop(); <-done; store.Close() }()

	doc, err := svc.Create(ctx, "notes", []byte(`{"_id":"n1","title":"hello"}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc.ID, doc.Version)
	// A second writer that read version 1 too is told, not overwritten.
	_, err = svc.Put(ctx, "notes", "n1", []byte(`{"title":"hi"}`), truce.Precondition{IfMatch: []string{doc.ETag()}}, nil)
	fmt.Println(err == nil)
	_, err = svc.Put(ctx, "notes", "n1", []byte(`{"title":"hey"}`), truce.Precondition{IfMatch: []string{doc.ETag()}}, nil)
	fmt.Println(truce.ErrorCode(err))
	// Output:
	// n1 1
	// true
	// precondition_failed
}
