package pebble

import (
	"fmt"

	"github.com/trucedb/truce"
)

// metaTrimKey holds the seq through which the change log was trimmed (BE8).
var metaTrimKey = []byte("m\x00evtrim")

// EventsTrimmed implements truce.ReadTx.
func (t *tx) EventsTrimmed() (int64, error) {
	var seq int64
	_, err := t.get(metaTrimKey, func(v []byte) (err error) {
		seq, err = decodeSeq(v)
		return err
	})
	if err != nil {
		return 0, err
	}
	// The mark carries no seq of its own: what was read must be as durable
	// as the last commit the tx could see.
	t.observeAll()
	return seq, nil
}

// TrimEvents implements truce.Tx. It writes one range deletion, whatever the
// number of events, so the write lock is held for as long as a point write.
func (t *tx) TrimEvents(through int64) error {
	b, err := t.writer()
	if err != nil {
		return err
	}
	if through > t.last {
		return fmt.Errorf("pebble: trim events through %d: the last seq is %d", through, t.last)
	}
	trimmed, err := t.EventsTrimmed()
	if err != nil {
		return err
	}
	if through <= trimmed {
		return nil
	}
	if err := b.DeleteRange(eventKey(nil, 0), eventKey(nil, through+1), nil); err != nil {
		return wrap("trim events", err)
	}
	return wrap("trim events", b.Set(metaTrimKey, binaryBE8(through), nil))
}

// Changed implements truce.ChangeNotifier: the channel it returns is closed
// once a commit that allocated seqs (and so may have appended events) after
// the call is durable; a View started after that sees its events.
func (s *Store) Changed() <-chan struct{} { return s.changes.Wait() }

var _ truce.ChangeNotifier = (*Store)(nil)
