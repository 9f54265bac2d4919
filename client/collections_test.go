package client_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trucedb/truce/client"
)

func TestCollections(t *testing.T) {
	c := mustClient(t, mustServe(t))
	ctx := testCtx(t)

	settings := client.Settings{
		RequirePreconditions: true,
		Unique:               []string{"email"},
		Schema:               json.RawMessage(`{"type":"object","required":["email"]}`),
		HistoryLimit:         10,
	}
	col, err := c.PutCollection(ctx, "users", settings)
	if err != nil {
		t.Fatalf("PutCollection: %v", err)
	}
	if col.Name != "users" || col.CreatedAt.IsZero() || col.Settings.ConflictPolicy != "reject" ||
		!col.Settings.RequirePreconditions || !cmp.Equal(col.Settings.Unique, []string{"email"}) ||
		col.Settings.HistoryLimit != 10 || len(col.Settings.Schema) == 0 {
		t.Errorf("PutCollection = %+v", col)
	}

	// The settings apply: the schema refuses a document without email.
	_, err = c.Put(ctx, "users", "ann", map[string]string{"name": "Ann"}, client.IfNoneMatch("*"))
	if client.Code(err) != client.CodeSchemaViolation {
		t.Errorf("schema violation: %v", err)
	}
	if _, err := c.Put(ctx, "users", "ann", map[string]string{"email": "ann@example.com"}, client.IfNoneMatch("*")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "notes", "n1", note{Title: "x"}); err != nil {
		t.Fatal(err)
	}

	got, err := c.GetCollection(ctx, "users")
	if err != nil {
		t.Fatalf("GetCollection: %v", err)
	}
	if got.Counts.Documents != 1 || got.Settings.HistoryLimit != 10 || !got.CreatedAt.Equal(col.CreatedAt) {
		t.Errorf("GetCollection = %+v", got)
	}

	// Replacing the settings.
	col2, err := c.PutCollection(ctx, "users", client.Settings{ConflictPolicy: "last-write-wins"})
	if err != nil {
		t.Fatal(err)
	}
	if col2.Settings.ConflictPolicy != "last-write-wins" || col2.Settings.RequirePreconditions || len(col2.Settings.Unique) != 0 {
		t.Errorf("replaced settings = %+v", col2.Settings)
	}

	all, err := c.ListCollections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, col := range all {
		names = append(names, col.Name)
	}
	if !cmp.Equal(names, []string{"notes", "users"}) {
		t.Errorf("ListCollections = %v", names)
	}

	// Delete: not_empty, then Force.
	if err := c.DeleteCollection(ctx, "users"); client.Code(err) != client.CodeNotEmpty {
		t.Errorf("DeleteCollection(non-empty) = %v", err)
	}
	if err := c.DeleteCollection(ctx, "users", client.Force()); err != nil {
		t.Fatalf("DeleteCollection(Force): %v", err)
	}
	if _, err := c.GetCollection(ctx, "users"); !client.IsNotFound(err) {
		t.Errorf("GetCollection after delete = %v", err)
	}
	if _, err := c.PutCollection(ctx, "empty", client.Settings{}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteCollection(ctx, "empty"); err != nil {
		t.Errorf("DeleteCollection(empty) = %v", err)
	}
	if err := c.DeleteCollection(ctx, ""); err == nil {
		t.Error("DeleteCollection(\"\") succeeded")
	}
}
