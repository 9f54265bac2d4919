// Package broadcast wakes every goroutine waiting for the next occurrence
// of something, such as a commit, without a goroutine or a channel per
// waiter: the stores' change notifications are made of it.
package broadcast

import "sync"

// Signal hands out one channel to all who wait, and closes it at the next
// Notify. The zero value is ready to use; a Signal must not be copied.
type Signal struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next Notify; nil when nobody waits
}

// Wait returns a channel that is closed by the next Notify after the call.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Notify wakes everyone who called Wait since the last Notify. Nobody
// waiting costs nothing.
func (s *Signal) Notify() {
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}
