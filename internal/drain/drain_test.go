package drain

import (
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	var g Gate
	if !g.Enter() || !g.Enter() {
		t.Fatal("an open gate refused a user")
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	for !g.Closed() {
		time.Sleep(time.Millisecond)
	}
	if g.Enter() {
		t.Fatal("a closed gate let a user in")
	}
	g.Leave()
	select {
	case <-closed:
		t.Fatal("Close returned with a user inside")
	case <-time.After(20 * time.Millisecond):
	}
	g.Leave()
	if !<-closed {
		t.Fatal("the first Close returned false")
	}
	if g.Close() {
		t.Fatal("a second Close returned true")
	}
	if g.Enter() { // refused after the drain: its Leave must not close again
		t.Fatal("a drained gate let a user in")
	}
}
