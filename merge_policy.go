package truce

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/trucedb/truce/merge"
)

// MergeInfo says that a write with a stale body version was merged: its
// changes relative to version Base were combined with the changes that
// brought the document to version Current.
type MergeInfo struct {
	Base    int64
	Current int64
}

// MergeConflict is one path that the request and the current document
// changed differently since the base version. A nil value (omitted in
// JSON) is absent on that side.
type MergeConflict struct {
	Path     string          `json:"path"`
	Base     json.RawMessage `json:"base,omitempty"`
	Current  json.RawMessage `json:"current,omitempty"`
	Proposed json.RawMessage `json:"proposed,omitempty"`
}

// mergeStale applies the merge policy to a write whose body version is
// stale: the request's result computed on the base version it names is
// merged three ways with the current document. Overlapping changes are a
// CodeMergeConflict listing each path.
func mergeStale(tx ReadTx, w writeRequest, cur *Document, settings *Settings) ([]byte, *MergeInfo, error) {
	ref := refString(w.collection, w.id)
	from := keptFrom(settings, cur)
	if w.pre.Version > cur.Version {
		return nil, nil, &Error{Code: CodeVersionConflict, Current: cur,
			Detail: ref + " is at version " + itoa(cur.Version) + "; the request names version " + itoa(w.pre.Version) + ", which does not exist yet"}
	}
	base, err := tx.Version(w.collection, w.id, w.pre.Version)
	if errors.Is(err, ErrNoRecord) || (err == nil && w.pre.Version < from) {
		return nil, nil, &Error{Code: CodeVersionConflict, Current: cur,
			Detail: ref + " is at version " + itoa(cur.Version) + "; the request was based on version " + itoa(w.pre.Version) +
				", which history no longer keeps (it keeps versions from " + itoa(from) + " on), so it cannot be merged: re-apply your change to the current document"}
	}
	if err != nil {
		return nil, nil, err
	}
	baseBody := base.Body
	if base.Deleted {
		baseBody = []byte("{}")
	}
	proposed, del, err := w.produce(tx, base)
	if err != nil {
		return nil, nil, err
	}
	info := &MergeInfo{Base: w.pre.Version, Current: cur.Version}
	manual := settings.Policy() == PolicyManual
	draft := func(paths []MergeConflict, proposed []byte) *Conflict {
		if !manual {
			return nil
		}
		return &Conflict{Collection: w.collection, DocID: w.id, BaseVersion: w.pre.Version, CurrentVersion: cur.Version,
			Base: baseBody, Current: cur.Body, Proposed: proposed, Paths: paths}
	}
	if del {
		cs := []MergeConflict{{Path: "", Base: baseBody, Current: cur.Body}}
		return nil, nil, &Error{Code: CodeMergeConflict, Current: cur, Conflicts: cs, conflict: draft(cs, nil),
			Detail: ref + " changed since version " + itoa(w.pre.Version) + " (it is at " + itoa(cur.Version) + "); a delete does not merge with those changes: re-read it and delete again"}
	}
	merged, conflicts, err := merge.Merge3(baseBody, cur.Body, proposed)
	if err != nil {
		return nil, nil, err
	}
	if len(conflicts) > 0 {
		cs := make([]MergeConflict, len(conflicts))
		for i, c := range conflicts {
			cs[i] = MergeConflict{Path: c.Path, Base: c.Base, Current: c.Current, Proposed: c.Proposed}
		}
		return nil, nil, &Error{Code: CodeMergeConflict, Current: cur, Conflicts: cs, conflict: draft(cs, proposed),
			Detail: ref + ": the request (based on version " + itoa(w.pre.Version) + ") and version " + itoa(cur.Version) +
				" changed " + strconv.Itoa(len(cs)) + " path(s) differently, first " + pointerOrRoot(cs[0].Path) + "; resolve them and send the result with _version " + itoa(cur.Version)}
	}
	return merged, info, nil
}
