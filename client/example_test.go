package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/client"
	trucehttp "github.com/trucedb/truce/http"
	"github.com/trucedb/truce/pebble"
)

// serverURL is the address of the truce server the examples talk to: a
// real one, started in this process by TestMain.
var serverURL string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "truce-client-examples-")
	if err != nil {
		log.Fatal(err)
	}
	store, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(trucehttp.NewHandler(truce.NewService(store, truce.Options{}), trucehttp.Options{}))
	serverURL = srv.URL
	code := m.Run()
	srv.Close()
	if err := store.Close(); err != nil {
		log.Print(err)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func Example() {
	ctx := context.Background()
	c, err := client.New(serverURL) // such as "http://127.0.0.1:8080"
	if err != nil {
		log.Fatal(err)
	}

	type Note struct {
		Title string   `json:"title"`
		Items []string `json:"items"`
	}
	doc, err := c.Create(ctx, "notes", Note{Title: "Groceries", Items: []string{"milk"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created version", doc.Version)

	doc, err = c.Get(ctx, "notes", doc.ID)
	if err != nil {
		log.Fatal(err)
	}
	var n Note
	if err := doc.Decode(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.Title, n.Items)
	// Output:
	// created version 1
	// Groceries [milk]
}

// Update is the way to change a document that others change too. Here 8
// goroutines add 10 each to one counter: every increment counts, because
// each write says which version it changes, and a write based on a stale
// version is applied again to the current one.
func ExampleClient_Update() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Put(ctx, "counters", "visits", map[string]int{"n": 0}); err != nil {
		log.Fatal(err)
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				_, err := c.Update(ctx, "counters", "visits", func(doc *client.Doc) error {
					// Decode into a type that holds every field you
					// want to keep: Set replaces the whole document.
					var v struct {
						N int `json:"n"`
					}
					if err := doc.Decode(&v); err != nil {
						return err
					}
					v.N++
					return doc.Set(v)
				})
				if err != nil {
					log.Fatal(err)
				}
			}
		})
	}
	wg.Wait()

	doc, err := c.Get(ctx, "counters", "visits")
	if err != nil {
		log.Fatal(err)
	}
	var v struct {
		N int `json:"n"`
	}
	if err := doc.Decode(&v); err != nil {
		log.Fatal(err)
	}
	fmt.Println("n =", v.N, "at version", doc.Version)
	// Output:
	// n = 80 at version 81
}

// With CreateIfMissing, Update creates the document the first time: fn
// starts from an empty document.
func ExampleClient_Update_createIfMissing() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	addTag := func(tag string) func(*client.Doc) error {
		return func(doc *client.Doc) error {
			var v struct {
				Tags []string `json:"tags"`
			}
			if err := doc.Decode(&v); err != nil {
				return err
			}
			v.Tags = append(v.Tags, tag)
			return doc.Set(v)
		}
	}
	for _, tag := range []string{"red", "green"} {
		doc, err := c.Update(ctx, "labels", "l1", addTag(tag), client.CreateIfMissing())
		if err != nil {
			log.Fatal(err)
		}
		var v struct {
			Tags []string `json:"tags"`
		}
		_ = doc.Decode(&v)
		fmt.Println(doc.Version, v.Tags)
	}
	// Output:
	// 1 [red]
	// 2 [red green]
}

// A write with IfMatch fails when someone else changed the document since
// it was read; the error carries the document as it is now.
func ExampleIsConflict() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	mine, err := c.Put(ctx, "docs", "d1", map[string]string{"title": "draft"})
	if err != nil {
		log.Fatal(err)
	}
	// Someone else saves first.
	if _, err := c.Put(ctx, "docs", "d1", map[string]string{"title": "their edit"}); err != nil {
		log.Fatal(err)
	}

	_, err = c.Put(ctx, "docs", "d1", map[string]string{"title": "my edit"}, client.IfMatch(mine.ETag))
	if client.IsConflict(err) {
		var e *client.Error
		errors.As(err, &e)
		var now struct {
			Title string `json:"title"`
		}
		_ = e.Current.Decode(&now)
		fmt.Printf("%d %s: the document is at version %d: %q\n", e.Status, e.Code, e.Current.Version, now.Title)
	}
	// Output:
	// 412 precondition_failed: the document is at version 2: "their edit"
}

// IfNoneMatch("*") makes Put create only: it never replaces a document.
func ExampleClient_Put_createOnly() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		_, err := c.Put(ctx, "seats", "12A", map[string]string{"holder": name}, client.IfNoneMatch("*"))
		switch {
		case err == nil:
			fmt.Println(name, "got the seat")
		case client.IsPreconditionFailed(err):
			fmt.Println(name, "was too late")
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// first got the seat
	// second was too late
}

// Errors carry the problem's code; Code reads it from any error.
func ExampleCode() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.PutCollection(ctx, "accounts", client.Settings{Unique: []string{"email"}}); err != nil {
		log.Fatal(err)
	}
	_, err = c.Create(ctx, "accounts", map[string]string{"email": "ann@example.com"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.Create(ctx, "accounts", map[string]string{"email": "ann@example.com"})
	switch client.Code(err) {
	case client.CodeUniqueViolation:
		// The raw problem has the members this package does not model.
		var e *client.Error
		errors.As(err, &e)
		var p struct {
			Field string `json:"field"`
		}
		_ = json.Unmarshal(e.Problem, &p)
		fmt.Println("taken:", p.Field)
	case "":
		fmt.Println("no error from the server:", err)
	}
	// Output:
	// taken: email
}

func ExampleClient_Patch() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	doc, err := c.Put(ctx, "tasks", "t1", map[string]any{"title": "Write docs", "done": false})
	if err != nil {
		log.Fatal(err)
	}
	// A merge patch changes the fields it names.
	doc, err = c.Patch(ctx, "tasks", "t1", client.MergePatch(map[string]any{"done": true}), client.IfMatch(doc.ETag))
	if err != nil {
		log.Fatal(err)
	}
	// A JSON Patch applies operations; test guards them.
	doc, err = c.Patch(ctx, "tasks", "t1", client.JSONPatch([]client.PatchOp{
		{Op: "test", Path: "/done", Value: json.RawMessage(`true`)},
		{Op: "add", Path: "/doneBy", Value: json.RawMessage(`"ann"`)},
	}))
	if err != nil {
		log.Fatal(err)
	}
	var t struct {
		Title  string `json:"title"`
		Done   bool   `json:"done"`
		DoneBy string `json:"doneBy"`
	}
	_ = doc.Decode(&t)
	fmt.Printf("%+v at version %d\n", t, doc.Version)
	// Output:
	// {Title:Write docs Done:true DoneBy:ann} at version 3
}

func ExampleClient_List() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range []string{"b", "a", "c"} {
		if _, err := c.Put(ctx, "letters", id, map[string]string{"letter": id}); err != nil {
			log.Fatal(err)
		}
	}
	// The loop fetches pages as it goes; here two documents per page.
	for doc, err := range c.List(ctx, "letters", client.PageSize(2)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(doc.ID, doc.Version)
	}
	// Output:
	// a 1
	// b 1
	// c 1
}

// Every version is kept: list them, read one, see what changed, and bring
// an old one back.
func ExampleClient_Versions() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	for _, title := range []string{"v one", "v two", "v three"} {
		if _, err := c.Put(ctx, "pages", "home", map[string]string{"title": title}); err != nil {
			log.Fatal(err)
		}
	}
	for v, err := range c.Versions(ctx, "pages", "home") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("version", v.Version)
	}
	ops, err := c.Diff(ctx, "pages", "home", 1, 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, op := range ops {
		fmt.Println(op.Op, op.Path, string(op.Value))
	}
	doc, err := c.Restore(ctx, "pages", "home", 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("restored as version", doc.Version)
	// Output:
	// version 3
	// version 2
	// version 1
	// replace /title "v three"
	// restored as version 4
}

// The retry policy bounds retries; what is retried is fixed: transport
// errors and answers the server marks retryable, never conflicts.
func ExampleWithRetry() {
	c, err := client.New(serverURL,
		client.WithToken(os.Getenv("TRUCE_TOKEN")),
		client.WithRetry(client.RetryPolicy{
			MaxAttempts: 3,
			MaxElapsed:  10 * time.Second,
			BaseDelay:   50 * time.Millisecond,
			MaxDelay:    time.Second,
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Get(ctx, "notes", "missing")
	fmt.Println(client.IsNotFound(err))
	// Output:
	// true
}
