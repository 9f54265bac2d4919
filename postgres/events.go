package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/trucedb/truce"
)

// Events implements truce.ReadTx.
func (t *tx) Events(after int64, limit int) ([]*truce.Event, error) {
	if err := t.check(); err != nil || limit <= 0 {
		return nil, err
	}
	var out []*truce.Event
	err := t.query(func(rows pgx.Rows) error {
		for rows.Next() {
			e := &truce.Event{}
			var typ string
			if err := rows.Scan(&e.Seq, &typ, &e.Collection, &e.ID, &e.Version, &e.ETag, &e.Time, &e.ConflictID,
				&e.Info, &e.Document); err != nil {
				return err
			}
			e.Type, e.Time = truce.EventType(typ), e.Time.UTC()
			out = append(out, e)
		}
		return nil
	}, "SELECT seq, type, collection, id, version, etag, time, conflict_id, info, document FROM events "+
		"WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	return out, err
}

// LastSeq implements truce.ReadTx. Inside an Update it includes the seqs
// that the Update allocated, as reads there include its own writes.
func (t *tx) LastSeq() (int64, error) {
	if t.write {
		if err := t.begin(); err != nil {
			return 0, err
		}
		return t.last, nil
	}
	var seq int64
	_, err := t.get("SELECT seq FROM meta WHERE id = 1", nil, &seq)
	return seq, err
}

// EventsTrimmed implements truce.ReadTx.
func (t *tx) EventsTrimmed() (int64, error) {
	if t.write {
		if err := t.begin(); err != nil {
			return 0, err
		}
		return t.trimmedTo, nil
	}
	var seq int64
	_, err := t.get("SELECT trimmed FROM meta WHERE id = 1", nil, &seq)
	return seq, err
}

// NextSeq implements truce.Tx. The seq is written to the meta row at the
// commit, so an Update that fails consumes nothing.
func (t *tx) NextSeq() (int64, error) {
	if err := t.writer(); err != nil {
		return 0, err
	}
	if err := t.begin(); err != nil {
		return 0, err
	}
	t.last++
	return t.last, nil
}

// AppendEvent implements truce.Tx. It refuses a seq that this Update did
// not allocate, which would overwrite or pre-empt another commit's event.
func (t *tx) AppendEvent(e *truce.Event) error {
	if err := t.writer(); err != nil {
		return err
	}
	if !t.begun || e.Seq <= t.from || e.Seq > t.last {
		return fmt.Errorf("postgres: event seq %d was not allocated by this transaction (NextSeq)", e.Seq)
	}
	return t.exec(sqlAppendEvent, e.Seq, string(e.Type), e.Collection, e.ID, e.Version, e.ETag, e.Time, e.ConflictID, e.Info, e.Document)
}

const sqlAppendEvent = "INSERT INTO events (seq, type, collection, id, version, etag, time, conflict_id, info, document) " +
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"

// TrimEvents implements truce.Tx.
func (t *tx) TrimEvents(through int64) error {
	if err := t.writer(); err != nil {
		return err
	}
	if err := t.begin(); err != nil {
		return err
	}
	if through > t.last {
		return fmt.Errorf("postgres: trim events through %d: the last seq is %d", through, t.last)
	}
	if through <= t.trimmedTo {
		return nil
	}
	t.trimmedTo = through
	return t.exec("DELETE FROM events WHERE seq <= $1", through)
}
