// Package drain owns the gate a store closes behind the transactions in
// progress: Close waits for them, and nothing new starts after it.
package drain

import (
	"sync"
	"sync/atomic"
)

// closedBit marks a closed gate in state, above any count of users.
const closedBit = 1 << 62

// Gate counts the users inside and lets Close wait for them. The zero
// value is an open gate; a Gate must not be copied.
type Gate struct {
	// state counts the users inside, plus closedBit once Close is called;
	// drained is closed when the count falls to zero after that.
	state     atomic.Int64
	makeOnce  sync.Once
	closeOnce sync.Once // a refused Enter leaves a drained gate again
	drained   chan struct{}
}

// Enter lets a user in, unless the gate is closed: then it returns false
// and the user must not call Leave.
func (g *Gate) Enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.Leave()
		return false
	}
	return true
}

// Leave lets a user out; the last one out of a closed gate wakes Close.
func (g *Gate) Leave() {
	if g.state.Add(-1) == closedBit {
		g.closeOnce.Do(func() { close(g.done()) })
	}
}

// Closed reports whether Close has been called.
func (g *Gate) Closed() bool { return g.state.Load()&closedBit != 0 }

// Close closes the gate and waits until every user inside has left. It
// returns false, at once, when the gate was closed already.
func (g *Gate) Close() bool {
	done := g.done() // made before the close, so Leave never races to make it
	old := g.state.Or(closedBit)
	if old&closedBit != 0 {
		return false
	}
	if old != 0 {
		<-done
	}
	return true
}

// done returns the channel that the last user out of a closed gate closes.
func (g *Gate) done() chan struct{} {
	g.makeOnce.Do(func() { g.drained = make(chan struct{}) })
	return g.drained
}
