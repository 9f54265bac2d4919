package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/trucedb/truce/client"
)

// ExampleClient_WithLock edits a document that nobody else may write
// meanwhile: the lock renews itself while the function runs, and the
// writes carry its token.
func ExampleClient_WithLock() {
	ctx := context.Background()
	c, err := client.New(serverURL)
	if err != nil {
		log.Fatal(err)
	}
	err = c.WithLock(ctx, "forms", "f1", 30*time.Second, func(ctx context.Context, l *client.Lock) error {
		// Others get 423 locked on any write to forms/f1 until the lock is released.
		_, err := c.Put(ctx, "forms", "f1", map[string]string{"step": "reviewed"}, client.LockToken(l.Token()))
		if err != nil {
			return err
		}
		_, err = c.Put(ctx, "forms", "f1", map[string]string{"step": "sneaky"})
		fmt.Println("a write without the token:", client.Code(err))
		return nil
	}, client.LockOwner("alice"), client.LockWait(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetLock(ctx, "forms", "f1")
	fmt.Println("after WithLock the lock is gone:", client.IsNotFound(err))
	// Output:
	// a write without the token: locked
	// after WithLock the lock is gone: true
}
