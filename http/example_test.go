package http_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/trucedb/truce"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// A Go program can embed truce: open a store, build the service, and mount
// the API in its own mux next to its own routes.
func ExampleNewHandler() {
	dir, err := os.MkdirTemp("", "truce-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		log.Fatal(err)
	}
	svc := truce.NewService(store, truce.Options{})
	// Run does the background upkeep (lock expiry, sweeps, trimming the
	// change log) until its context ends; stop it before closing the store.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { stop(); <-done; store.Close() }()

	mux := http.NewServeMux()
	mux.Handle("/v1/", trucehttp.NewHandler(svc, trucehttp.Options{}))
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hi") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("PUT", srv.URL+"/v1/collections/notes/docs/n1", strings.NewReader(`{"title":"hello"}`))
	req.Header.Set("If-None-Match", "*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Location"))

	// The same service answers Go calls directly.
	doc, err := svc.Get(req.Context(), "notes", "n1")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := doc.MarshalJSON()
	fmt.Println(doc.Version, strings.Contains(string(body), `"title":"hello"`))
	// Output:
	// 201 Created /v1/collections/notes/docs/n1
	// 1 true
}
