package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/trucedb/truce/client"
)

// A transfer between two accounts that never loses money: RunTransaction reads both
// balances, stages both writes, and commits them only if neither account
// changed in the meantime; otherwise it runs the function again.
func ExampleClient_RunTransaction() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	type Account struct {
		Balance int `json:"balance"`
	}
	for _, id := range []string{"alice", "bob"} {
		if _, err := c.Put(ctx, "example-accounts", id, Account{100}); err != nil {
			log.Fatal(err)
		}
	}
	err = c.RunTransaction(ctx, func(tx *client.Transaction) error {
		var from, to Account
		for id, acc := range map[string]*Account{"alice": &from, "bob": &to} {
			d, err := tx.Get(ctx, "example-accounts", id)
			if err != nil {
				return err
			}
			if err := d.Decode(acc); err != nil {
				return err
			}
		}
		if from.Balance < 30 {
			return fmt.Errorf("alice has only %d", from.Balance)
		}
		if _, err := tx.Put(ctx, "example-accounts", "alice", Account{from.Balance - 30}); err != nil {
			return err
		}
		_, err := tx.Put(ctx, "example-accounts", "bob", Account{to.Balance + 30})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err := c.Get(ctx, "example-accounts", "bob")
	if err != nil {
		log.Fatal(err)
	}
	var bob Account
	_ = d.Decode(&bob)
	fmt.Println("bob:", bob.Balance)
	// Output: bob: 130
}

// A batch applies all of its operations in one commit, or none of them.
func ExampleClient_Batch() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	var b client.Batch
	b.Put("example-stock", "widget", map[string]int{"count": 9}, client.IfNoneMatch("*")).
		Create("example-orders", map[string]any{"item": "widget", "qty": 1})
	res, err := c.Batch(ctx, &b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0].Status, res[1].Status)

	// The same again: the stock exists now, so op 0 fails and no second
	// order is created.
	_, err = c.Batch(ctx, &b)
	i, _ := client.FailedOp(err)
	fmt.Println(i, client.Code(err))
	// Output:
	// 201 201
	// 0 precondition_failed
}
