package pebble

import (
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Value separation. Every write stores the document three times: as the
// current document, as a stored version and in its change-log event. The
// versions and the events are never overwritten, only appended (and
// trimmed), yet an LSM rewrites every value at each compaction that passes
// it down a level: under a write-heavy load that made compactions a large
// share of the server's CPU, growing with the database (figures in
// docs/benchmarks.md). Pebble can store large values in blob files that
// compactions leave in place, moving only a small handle with the key; it
// does so here for the versions and the events. Current documents and every
// other record stay inline, since they are read on every request and a blob
// lookup would add a second read to each.
const (
	// separateMinValue is the size from which a version or an event's value
	// goes to a blob file; smaller ones cost less inline than their handle.
	separateMinValue = 256
	// blobReferenceDepth bounds how many blob files one table may refer to
	// across a key range before a compaction rewrites the values. Each
	// flush makes a blob file, and every document's versions span the
	// whole version key range, so a table there refers to every blob file
	// flushed since its values were last rewritten. At 10 (Pebble's
	// example) compactions rewrote the values about every ten flushes,
	// which under a steady write load came as bursts of CPU that showed in
	// the p99 latency; at 100 they are rare (docs/benchmarks.md), and a
	// point read still opens only the one blob file its handle names.
	blobReferenceDepth = 100
	// blobGarbageRatio is the share of values in blob files that nothing
	// refers to any more (trimmed history, expired events) past which the
	// files are rewritten to give back the space.
	blobGarbageRatio = 0.2
)

// blobRewriteAge is how old a blob file must be before it is rewritten;
// a variable so that a test can rewrite at once.
var blobRewriteAge = 5 * time.Minute

// valueSeparation is the store's ValueSeparationPolicy.
func valueSeparation() pebble.ValueSeparationPolicy {
	return pebble.ValueSeparationPolicy{
		Enabled:               true,
		MinimumSize:           separateMinValue,
		MaxBlobReferenceDepth: blobReferenceDepth,
		RewriteMinimumAge:     blobRewriteAge,
		TargetGarbageRatio:    blobGarbageRatio,
	}
}

// separatedTags are the key tags whose values may go to blob files, in
// ascending order.
var separatedTags = [...]byte{tagEvent, tagVersion}

// spanPolicy is the store's SpanPolicyFunc: the span of each tag in
// separatedTags may have its values separated; every other span keeps them
// in place. Keys are not versioned by suffix, so the suffix rule is off.
func spanPolicy(start []byte) (pebble.SpanPolicy, []byte, error) {
	inline := pebble.SpanPolicy{ValueStoragePolicy: pebble.ValueStorageLowReadLatency, DisableValueSeparationBySuffix: true}
	separated := pebble.SpanPolicy{DisableValueSeparationBySuffix: true}
	for _, tag := range separatedTags {
		switch {
		case len(start) > 0 && start[0] == tag:
			return separated, []byte{tag + 1}, nil
		case len(start) == 0 || start[0] < tag:
			return inline, []byte{tag}, nil
		}
	}
	return inline, nil, nil
}
