-- truce schema, version 2: the queues of lock requests waiting for a
-- document's lock, shared by every node (truce.LockWaiter).
CREATE TABLE lock_waiters (
	collection text COLLATE "C" NOT NULL,
	id         text COLLATE "C" NOT NULL,
	ticket     bigint      NOT NULL,
	waiter     text        NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (collection, id, ticket)
);
