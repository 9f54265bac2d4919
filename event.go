package truce

import "time"

// EventType names what happened in a change-log event.
type EventType string

// The event types written to the change log.
const (
	EventDocumentCreated EventType = "document.created"
	EventDocumentUpdated EventType = "document.updated"
	EventDocumentDeleted EventType = "document.deleted"
	// Conflict events carry the document's Collection and ID, the
	// document's version at the time (Version, ETag) and the ConflictID.
	EventConflictOpened    EventType = "conflict.opened"
	EventConflictResolved  EventType = "conflict.resolved"
	EventConflictDismissed EventType = "conflict.dismissed"
	// Lock events carry the document's Collection and ID and, in Info,
	// what the feed says about the lock (its owner and expiry).
	EventLockAcquired EventType = "lock.acquired"
	EventLockReleased EventType = "lock.released"
	EventLockExpired  EventType = "lock.expired"
	// EventTransactionCommitted follows the document events of a
	// transaction's commit; Info says which transaction and what it wrote.
	EventTransactionCommitted EventType = "transaction.committed"
)

// EventTypes returns every event type, in the order docs/api.md lists them.
func EventTypes() []EventType {
	return []EventType{EventDocumentCreated, EventDocumentUpdated, EventDocumentDeleted,
		EventConflictOpened, EventConflictResolved, EventConflictDismissed,
		EventLockAcquired, EventLockReleased, EventLockExpired, EventTransactionCommitted}
}

// Event is one entry of the change log. Every committed write appends its
// events with consecutive, store-wide sequence numbers in the same atomic
// commit, so the log is exactly the history of what was committed.
type Event struct {
	Seq        int64
	Type       EventType
	Collection string
	ID         string
	Version    int64
	ETag       string
	Time       time.Time
	// Document is the document's JSON as clients see it (Document.AppendJSON)
	// for created and updated events; nil for deletes.
	Document []byte
	// ConflictID names the conflict of a conflict event; "" otherwise.
	ConflictID string
	// Info is a JSON object with what a lock or transaction event says
	// beyond the fields above; nil when there is nothing more.
	Info []byte
}
