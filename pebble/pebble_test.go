package pebble_test

import (
	"testing"

	"github.com/trucedb/truce"
	"github.com/trucedb/truce/pebble"
	"github.com/trucedb/truce/storetest"
)

// mustOpen opens a store in dir and fails the test if it cannot.
func mustOpen(tb testing.TB, dir string) *pebble.Store {
	tb.Helper()
	s, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dir string) truce.Store { return mustOpen(t, dir) })
}
