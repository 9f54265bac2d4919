// Package truce is the domain of the truce document server: documents and
// their versions, collections and their settings, the change-log events, the
// error model, the Store port that backends implement, and the Service that
// enforces every rule of the HTTP contract (docs/api.md) exactly once.
//
// The rules live here and nowhere else. A Store gives atomic, durable,
// serializable transactions over typed records; the Service uses them to check
// preconditions, unique and reference constraints and schemas, to write the
// current document, its history entry and its change-log event in one commit,
// and to trim history. The http package translates HTTP to Service calls and
// back; it decides nothing.
//
// A Go program can embed truce directly. Run does the background upkeep
// (lock expiry, sweeping expired idempotency answers and transactions,
// trimming the change log); start it beside the writes and stop it before
// closing the store:
//
//	store, err := pebble.Open("./data", pebble.Options{})
//	...
//	svc := truce.NewService(store, truce.Options{Logger: slog.Default()})
//	ctx, stop := context.WithCancel(context.Background())
//	done := make(chan error, 1)
//	go func() { done <- svc.Run(ctx) }()
//	defer func() { stop(); <-done; store.Close() }()
//	doc, err := svc.Create(ctx, "notes", []byte(`{"title":"hello"}`))
//
// The package's Example runs this program.
package truce
