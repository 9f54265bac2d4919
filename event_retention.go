package truce

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EventRetention says how much of the change log to keep. An event goes
// once it is older than MaxAge or once more than MaxCount seqs follow it,
// whichever comes first; a zero field sets no limit of its kind.
type EventRetention struct {
	MaxAge   time.Duration
	MaxCount int64
}

// ParseEventRetention parses a retention as people write it (truce
// serve's --event-retention): an age ("168h"), a count
// ("1000000"), both separated by a comma ("168h,1000000"), or "0" (keep
// every event).
func ParseEventRetention(s string) (EventRetention, error) {
	var r EventRetention
	s = strings.TrimSpace(s)
	if s == "0" {
		return r, nil
	}
	if s == "" {
		return r, fmt.Errorf("empty event retention: give an age (168h), a count (1000000), both (168h,1000000), or 0 to keep every event")
	}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if n, err := strconv.ParseInt(part, 10, 64); err == nil {
			if n <= 0 || r.MaxCount != 0 {
				return r, fmt.Errorf("event retention %q: the count must be one positive number of events", s)
			}
			r.MaxCount = n
			continue
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 || r.MaxAge != 0 {
			return r, fmt.Errorf("event retention %q: %q is neither a positive age (168h) nor a count (1000000); give an age, a count, or both separated by a comma", s, part)
		}
		r.MaxAge = d
	}
	return r, nil
}

// String renders r as ParseEventRetention reads it.
func (r EventRetention) String() string {
	var parts []string
	if r.MaxAge > 0 {
		// "168h", not "168h0m0s": the form people write, which
		// ParseEventRetention reads back.
		d := r.MaxAge.String()
		if strings.HasSuffix(d, "m0s") {
			d = d[:len(d)-2]
		}
		if strings.HasSuffix(d, "h0m") {
			d = d[:len(d)-2]
		}
		parts = append(parts, d)
	}
	if r.MaxCount > 0 {
		parts = append(parts, strconv.FormatInt(r.MaxCount, 10))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, ",")
}

// trimBatch bounds the events one trimming commit removes, so that the
// trimmer never holds writers for long, whatever the store.
const trimBatch = 10000

// TrimEvents removes the events that r no longer keeps, in commits of at
// most trimBatch events each, and returns the seq the log is trimmed
// through. A resume from before that seq is CodeEventsExpired.
func (s *Service) TrimEvents(ctx context.Context, r EventRetention) (int64, error) {
	for {
		var trimmed, through int64
		err := s.store.View(ctx, func(tx ReadTx) (err error) {
			if trimmed, err = tx.EventsTrimmed(); err != nil {
				return err
			}
			last, err := tx.LastSeq()
			if err != nil {
				return err
			}
			through = trimmed
			if r.MaxCount > 0 {
				through = max(through, last-r.MaxCount)
			}
			through = min(through, trimmed+trimBatch)
			if r.MaxAge > 0 && through < trimmed+trimBatch {
				// Reading events means reading their documents: fewer.
				// Events are in commit order, so their times are (nearly)
				// ordered: trim the prefix that is older than the cutoff.
				cutoff := s.now().Add(-r.MaxAge)
				evs, err := tx.Events(through, trimBatch/10)
				if err != nil {
					return err
				}
				for _, e := range evs {
					if !e.Time.Before(cutoff) {
						break
					}
					through = max(through, e.Seq)
				}
			}
			return nil
		})
		if err != nil || through <= trimmed {
			return trimmed, err
		}
		if err := s.store.Update(ctx, func(tx Tx) error { return tx.TrimEvents(through) }); err != nil {
			return trimmed, err
		}
	}
}
