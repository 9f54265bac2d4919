package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/trucedb/truce/client"
)

func TestQuery(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)
	if _, err := c.PutCollection(ctx, "orders", client.Settings{Indexes: [][]string{{"status", "total"}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		status := "open"
		if i%3 == 0 {
			status = "closed"
		}
		if _, err := c.Put(ctx, "orders", fmt.Sprintf("o%d", i), map[string]any{"status": status, "total": 10 * i}); err != nil {
			t.Fatal(err)
		}
	}
	q := client.Query{
		Where:   map[string]any{"status": "open", "total": map[string]any{"$gte": 10}},
		OrderBy: []client.OrderBy{{Field: "total", Desc: true}},
		Limit:   2,
	}
	var ids []string
	for d, err := range c.Query(ctx, "orders", q) {
		if err != nil {
			t.Fatal(err)
		}
		if d.Version != 1 || d.Collection != "orders" {
			t.Errorf("document %+v", d)
		}
		ids = append(ids, d.ID)
	}
	if want := []string{"o5", "o4", "o2", "o1"}; !slices.Equal(ids, want) {
		t.Errorf("Query: %v, want %v", ids, want)
	}
	// Stopping early stops reading pages.
	for d, err := range c.Query(ctx, "orders", q) {
		if err != nil || d.ID != "o5" {
			t.Fatal(d, err)
		}
		break
	}
	page, err := c.QueryPage(ctx, "orders", client.Query{Where: json.RawMessage(`{"status":"closed"}`), Fields: []string{"total"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 3 || page.Next != "" || page.AsOf != 8 || string(page.Items[0].Raw) != `{"_id":"o0","_version":1,"_etag":"\"1-2\"","total":0}` || page.Items[0].ETag != `"1-2"` {
		t.Errorf("QueryPage: %+v %s", page, page.Items[0].Raw)
	}
	// An item's ETag is what a conditional write needs, and the item, sent
	// back as it came (its _etag with it), is a valid document.
	item := page.Items[0]
	if _, err := c.Put(ctx, "orders", item.ID, item.Raw, client.IfMatch(item.ETag)); err != nil {
		t.Errorf("Put of a query item with If-Match: its ETag: %v", err)
	}
	if _, err := c.Put(ctx, "orders", item.ID, item.Raw, client.IfMatch(item.ETag)); !client.IsPreconditionFailed(err) {
		t.Errorf("a second Put with the item's ETag: %v, want precondition_failed", err)
	}
	// Errors are typed.
	for _, tc := range []struct {
		q    client.Query
		code string
	}{
		{client.Query{Where: map[string]any{"total": 5}}, client.CodeIndexRequired},
		{client.Query{Where: map[string]any{"total": map[string]any{"$bad": 5}}}, client.CodeInvalidQuery},
	} {
		for _, err := range c.Query(ctx, "orders", tc.q) {
			var e *client.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Status != 400 {
				t.Errorf("%+v: %v, want %s", tc.q, err, tc.code)
			}
			break
		}
	}
	col, err := c.GetCollection(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if col.Building || !slices.EqualFunc(col.Settings.Indexes, [][]string{{"status", "total"}}, slices.Equal) {
		t.Errorf("collection: %+v", col)
	}
}
