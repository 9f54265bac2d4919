package truce

import "sync"

// lockWaiters orders the lock requests that wait for a document's lock:
// first come, first served. Only the request at the head of a document's
// queue tries to take the lock; the others wait for their turn, so a
// request that arrives later never overtakes one that waits.
//
// This queue is in process: FIFO holds among the requests of one Service,
// which learns of every release from its own commits. It serves a Store
// that one Service owns (Pebble). Over a SharedStore, which several nodes
// use at once, Lock queues in the store instead (lock_queue.go).
type lockWaiters interface {
	// join appends a waiter to the queue of key and returns it.
	join(key string) *lockWaiter
	// leave removes w from its queue; if w was at the head, the next
	// waiter becomes the head and is kicked.
	leave(w *lockWaiter)
	// isHead reports whether w is at the head of its queue.
	isHead(w *lockWaiter) bool
	// notify kicks the head waiter of key: the lock may be free.
	notify(key string)
	// waiting returns how many requests wait in the queue of key.
	waiting(key string) int
}

// lockWaiter is one waiting lock request.
type lockWaiter struct {
	key string
	// kick is signalled (never blocking, never lost: it holds one) when
	// the waiter becomes the head or the lock may have been released.
	kick chan struct{}
}

func (w *lockWaiter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// lockQueues is the in-process lockWaiters.
type lockQueues struct {
	mu sync.Mutex
	q  map[string][]*lockWaiter
}

func newLockQueues() *lockQueues { return &lockQueues{q: make(map[string][]*lockWaiter)} }

func (l *lockQueues) join(key string) *lockWaiter {
	w := &lockWaiter{key: key, kick: make(chan struct{}, 1)}
	l.mu.Lock()
	l.q[key] = append(l.q[key], w)
	l.mu.Unlock()
	return w
}

func (l *lockQueues) leave(w *lockWaiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.q[w.key]
	for i, x := range q {
		if x != w {
			continue
		}
		q = append(q[:i:i], q[i+1:]...)
		if len(q) == 0 {
			delete(l.q, w.key)
			return
		}
		l.q[w.key] = q
		if i == 0 {
			q[0].wake()
		}
		return
	}
}

func (l *lockQueues) isHead(w *lockWaiter) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.q[w.key]
	return len(q) > 0 && q[0] == w
}

func (l *lockQueues) notify(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if q := l.q[key]; len(q) > 0 {
		q[0].wake()
	}
}

func (l *lockQueues) waiting(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.q[key])
}
