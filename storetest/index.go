package storetest

import (
	"testing"

	"github.com/trucedb/truce"
)

var indexTests = []test{
	{"Unique", testUnique},
	{"Referrers", testReferrers},
}

func testUnique(t *testing.T, h *harness) {
	type entry struct {
		col, field, value, id string
	}
	entries := []entry{
		{"u", "email", `"ann@example.com"`, "ann"},
		{"u", "email", `"bob@example.com"`, "bob"},
		{"u", "handle", `"ann@example.com"`, "x"}, // same value, other field
		{"uu", "email", `"ann@example.com"`, "y"}, // same field and value, other collection
		// Field and value must not run together: ("ab", "c") is not ("a", "bc").
		{"u", "ab", `c`, "ab-c"},
		{"u", "a", `bc`, "a-bc"},
		{"u", "n", `1`, "one"},
		{"u", "n", `1.0`, "one-point-zero"},
		{"u", "bin", "\x00\xff", "binary"},
	}
	h.update(func(tx truce.Tx) error {
		for _, e := range entries {
			if err := tx.PutUnique(e.col, e.field, []byte(e.value), e.id); err != nil {
				return err
			}
		}
		return nil
	})
	h.read(func(tx truce.ReadTx) error {
		for _, e := range entries {
			got, err := tx.UniqueHolder(e.col, e.field, []byte(e.value))
			check(t, "UniqueHolder", err)
			if got != e.id {
				t.Errorf("UniqueHolder(%s, %s, %s) = %q, want %q", e.col, e.field, e.value, got, e.id)
			}
		}
		for _, miss := range []entry{
			{col: "u", field: "email", value: `"carl@example.com"`},
			{col: "u", field: "emai", value: `l"ann@example.com"`},
			{col: "u", field: "email", value: `"ann@example.com`},
			{col: "v", field: "email", value: `"ann@example.com"`},
			{col: "u", field: "n", value: `10`},
		} {
			_, err := tx.UniqueHolder(miss.col, miss.field, []byte(miss.value))
			noRecord(t, "UniqueHolder("+miss.col+", "+miss.field+", "+miss.value+")", err)
		}
		return nil
	})

	// Moving a value to another holder, and deleting one.
	h.update(func(tx truce.Tx) error {
		if err := tx.PutUnique("u", "email", []byte(`"bob@example.com"`), "robert"); err != nil {
			return err
		}
		if err := tx.DeleteUnique("u", "email", []byte(`"ann@example.com"`)); err != nil {
			return err
		}
		_, err := tx.UniqueHolder("u", "email", []byte(`"ann@example.com"`))
		noRecord(t, "UniqueHolder after DeleteUnique in the same Update", err)
		return tx.DeleteUnique("u", "email", []byte(`"nobody@example.com"`)) // absent: no error
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.UniqueHolder("u", "email", []byte(`"bob@example.com"`))
		check(t, "UniqueHolder", err)
		diff(t, "new holder", "robert", got)
		_, err = tx.UniqueHolder("u", "email", []byte(`"ann@example.com"`))
		noRecord(t, "UniqueHolder after DeleteUnique", err)
		got, err = tx.UniqueHolder("uu", "email", []byte(`"ann@example.com"`))
		check(t, "UniqueHolder", err)
		diff(t, "holder in the other collection", "y", got)
		return nil
	})
}

func ref(fromCol, fromID, field, toCol, toID string) truce.Reference {
	return truce.Reference{
		From: truce.DocRef{Collection: fromCol, ID: fromID, Field: field},
		To:   truce.DocRef{Collection: toCol, ID: toID},
	}
}

func testReferrers(t *testing.T, h *harness) {
	refs := []truce.Reference{
		ref("posts", "p2", "author", "users", "u1"),
		ref("posts", "p1", "editor", "users", "u1"),
		ref("posts", "p1", "author", "users", "u1"),
		ref("comments", "c1", "user", "users", "u1"),
		ref("posts", "p1", "author", "users", "u10"),  // u1 is a prefix of u10
		ref("posts", "p1", "author", "users-x", "u1"), // users is a prefix of users-x
		ref("posts", "p1", "author", "user", "su1"),
		ref("posts", "p10", "author", "users", "u1"),
	}
	h.update(func(tx truce.Tx) error {
		for _, r := range refs {
			if err := tx.PutReference(r); err != nil {
				return err
			}
		}
		return tx.PutReference(refs[0]) // again: still one reference
	})
	want := []truce.Reference{
		ref("comments", "c1", "user", "users", "u1"),
		ref("posts", "p1", "author", "users", "u1"),
		ref("posts", "p1", "editor", "users", "u1"),
		ref("posts", "p10", "author", "users", "u1"),
		ref("posts", "p2", "author", "users", "u1"),
	}
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Referrers("users", "u1", 100)
		check(t, "Referrers", err)
		diff(t, "Referrers(users, u1)", want, got)
		got, err = tx.Referrers("users", "u1", 2)
		check(t, "Referrers", err)
		diff(t, "Referrers(users, u1, limit 2)", want[:2], got)
		got, err = tx.Referrers("users", "u10", 100)
		check(t, "Referrers", err)
		diff(t, "Referrers(users, u10)", refs[4:5], got)
		got, err = tx.Referrers("users", "nobody", 100)
		check(t, "Referrers", err)
		if len(got) != 0 {
			t.Errorf("Referrers of an unreferenced document = %v", got)
		}
		return nil
	})
	h.update(func(tx truce.Tx) error {
		if err := tx.DeleteReference(ref("posts", "p1", "author", "users", "u1")); err != nil {
			return err
		}
		got, err := tx.Referrers("users", "u1", 100)
		check(t, "Referrers", err)
		diff(t, "Referrers in the Update that deleted one", []truce.Reference{want[0], want[2], want[3], want[4]}, got)
		return nil
	})
	h.reopen()
	h.read(func(tx truce.ReadTx) error {
		got, err := tx.Referrers("users", "u1", 100)
		check(t, "Referrers", err)
		diff(t, "Referrers after DeleteReference", []truce.Reference{want[0], want[2], want[3], want[4]}, got)
		return nil
	})
}
