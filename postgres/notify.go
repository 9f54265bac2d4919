package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Change notifications. A commit that allocated seqs calls pg_notify on the
// schema's channel in its own transaction, so that the notification is
// sent only if it commits, and after it is visible. Each Store, once asked
// for Changed, keeps one connection of its own (outside the pool) that
// LISTENs on the channel and wakes its waiters at each notification. A
// lost notification (the listener reconnecting) only delays: the listener
// also wakes its waiters whenever it (re)connects, the feed reads events
// from the events table, never from notifications, and it polls anyway.
// Commits made through this Store wake its waiters directly, without the
// round trip through the server.

// channelName is the NOTIFY channel of a schema: an identifier of at most
// 63 bytes, so a long or non-ASCII schema name is replaced by a hash of
// it.
func channelName(schema string) string {
	c := "truce_changes_" + schema
	ascii := true
	for i := range len(schema) {
		if schema[i] >= utf8.RuneSelf {
			ascii = false
		}
	}
	if len(c) > 63 || !ascii {
		sum := sha256.Sum256([]byte(schema))
		c = "truce_changes_" + hex.EncodeToString(sum[:16])
	}
	return c
}

// Changed implements truce.ChangeNotifier: the channel it returns is
// closed once a commit that allocated seqs, through any Store on the same
// schema, is visible to Views. The first call starts the listener.
func (s *Store) Changed() <-chan struct{} {
	ch := s.changes.Wait()
	s.listen.Do(func() {
		if s.gate.Closed() {
			close(s.listened)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.stopList = cancel
		go s.listenLoop(ctx)
	})
	return ch
}

// stopListener stops the listener if it runs and waits for it.
func (s *Store) stopListener() {
	s.listen.Do(func() { close(s.listened) }) // never started: now it cannot
	if s.stopList != nil {
		s.stopList()
	}
	<-s.listened
}

// Listener reconnection delays.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
)

// listenLoop listens until ctx ends, reconnecting after failures.
func (s *Store) listenLoop(ctx context.Context) {
	defer close(s.listened)
	backoff := listenMinBackoff
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, func() { backoff = listenMinBackoff })
		if ctx.Err() != nil {
			return
		}
		// Whatever was sent while not listening is lost: wake the
		// waiters, who read the events table.
		s.changes.Notify()
		s.log.Warn("postgres: change notifications interrupted; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenOnce connects, LISTENs and wakes the waiters at each notification
// until the connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, connected func()) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	// Commits between the last notification heard and the LISTEN were
	// not heard.
	s.changes.Notify()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if strings.EqualFold(n.Channel, s.channel) {
			s.changes.Notify()
		}
	}
}
