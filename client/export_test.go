package client

import (
	"context"
	"time"
)

// SetSleep replaces the wait between retries, so that tests can record
// the waits instead of sleeping.
func SetSleep(c *Client, f func(ctx context.Context, d time.Duration) error) { c.sleep = f }

// SetJitter replaces the random choice of a wait in [0, d].
func SetJitter(c *Client, f func(d time.Duration) time.Duration) { c.jitter = f }
