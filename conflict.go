package truce

import (
	"encoding/json"
	"time"
)

// ConflictStatus says whether a recorded conflict still waits for a decision.
type ConflictStatus string

// The states of a recorded conflict. A conflict opens once and closes once.
const (
	ConflictOpen      ConflictStatus = "open"
	ConflictResolved  ConflictStatus = "resolved"
	ConflictDismissed ConflictStatus = "dismissed"
)

// The resolution strategies of Service.ResolveConflict.
const (
	// StrategyKeepCurrent writes the current document's content again as a
	// new version, so that the history shows the decision.
	StrategyKeepCurrent = "keep-current"
	// StrategyTakeProposed writes the refused request's result (a delete
	// when the refused request was a delete).
	StrategyTakeProposed = "take-proposed"
	// StrategyMerge merges base, the document as it is now and the proposed
	// result three ways, taking the PROPOSED value on every path that both
	// sides changed differently (a proposed delete deletes the document).
	StrategyMerge = "merge"
	// StrategyCustom writes the document the caller sends.
	StrategyCustom = "custom"
)

// Conflict is a write that a collection with the manual policy could not
// merge, recorded for a person or a program to resolve later.
type Conflict struct {
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	DocID      string         `json:"docId"`
	Status     ConflictStatus `json:"status"`
	// BaseVersion is the version the refused write was based on;
	// CurrentVersion the version the document had when it was refused.
	BaseVersion    int64 `json:"baseVersion"`
	CurrentVersion int64 `json:"currentVersion"`
	// Base, Current and Proposed are the user fields of the base version,
	// of the current version and of the refused write's result (null for
	// a delete), as JSON objects.
	Base     json.RawMessage `json:"base"`
	Current  json.RawMessage `json:"current"`
	Proposed json.RawMessage `json:"proposed"`
	// Paths lists the paths that the two sides changed differently.
	Paths     []MergeConflict `json:"paths"`
	CreatedAt time.Time       `json:"createdAt"`
	// ClosedAt is when the conflict was resolved or dismissed.
	ClosedAt   time.Time   `json:"closedAt,omitzero"`
	Resolution *Resolution `json:"resolution,omitempty"`
}

// Resolution is how a conflict was resolved: the strategy and the document
// version the resolution wrote.
type Resolution struct {
	Strategy string `json:"strategy"`
	Version  int64  `json:"version"`
}

// ConflictFilter selects recorded conflicts; empty fields match all.
type ConflictFilter struct {
	Collection string
	DocID      string
	Status     ConflictStatus
	// Readable, when set, keeps only conflicts of the collections it
	// accepts: what a caller may read.
	Readable func(collection string) bool
}

// Match reports whether c passes the filter.
func (f ConflictFilter) Match(c *Conflict) bool {
	return (f.Collection == "" || f.Collection == c.Collection) &&
		(f.DocID == "" || f.DocID == c.DocID) &&
		(f.Status == "" || f.Status == c.Status) &&
		(f.Readable == nil || f.Readable(c.Collection))
}

// ConflictPage is one page of recorded conflicts; Next is the cursor of the
// next page, "" at the end.
type ConflictPage struct {
	Items []*Conflict
	Next  string
}
