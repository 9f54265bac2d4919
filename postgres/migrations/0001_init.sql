-- truce schema, version 1. Names, ids and index keys compare by their bytes
-- (COLLATE "C" for text, bytea for anything that may hold \x00), as every
-- truce Store orders them. Times are kept to the microsecond.

-- meta is one row: the last committed seq and the seq through which the
-- change log was trimmed. Every Update locks this row first (store.go),
-- and every commit that allocates seqs updates it: the free space of its
-- page keeps those updates HOT (no index change, old versions pruned in
-- place). Likewise for documents, updated in place at each write.
CREATE TABLE meta (
	id      int    PRIMARY KEY CHECK (id = 1),
	seq     bigint NOT NULL,
	trimmed bigint NOT NULL
) WITH (fillfactor = 10);
INSERT INTO meta (id, seq, trimmed) VALUES (1, 0, 0);

CREATE TABLE collections (
	name       text COLLATE "C" PRIMARY KEY,
	seq        bigint      NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	settings   bytea       NOT NULL -- JSON of truce.Settings, byte for byte
);

-- documents holds the current version of each document; versions its
-- history (the current version included). body is the exact bytes given
-- (NULL for a tombstone); doc is reserved for a jsonb copy of the body, for
-- queries by SQL, and is not written yet (see the package doc).
CREATE TABLE documents (
	collection text COLLATE "C" NOT NULL,
	id         text COLLATE "C" NOT NULL,
	version    bigint      NOT NULL,
	seq        bigint      NOT NULL,
	deleted    boolean     NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	updated_by text        NOT NULL,
	body       bytea,
	doc        jsonb,
	PRIMARY KEY (collection, id)
) WITH (fillfactor = 80);

CREATE TABLE versions (
	collection text COLLATE "C" NOT NULL,
	id         text COLLATE "C" NOT NULL,
	version    bigint      NOT NULL,
	seq        bigint      NOT NULL,
	deleted    boolean     NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL,
	updated_by text        NOT NULL,
	body       bytea,
	PRIMARY KEY (collection, id, version)
);

CREATE TABLE events (
	seq         bigint PRIMARY KEY,
	type        text        NOT NULL,
	collection  text        NOT NULL,
	id          text        NOT NULL,
	version     bigint      NOT NULL,
	etag        text        NOT NULL,
	time        timestamptz NOT NULL,
	conflict_id text        NOT NULL,
	info        bytea,
	document    bytea
);

CREATE TABLE uniques (
	collection text COLLATE "C" NOT NULL,
	field      bytea NOT NULL,
	value      bytea NOT NULL,
	id         text  NOT NULL,
	PRIMARY KEY (collection, field, value)
);

CREATE TABLE refs (
	to_collection   text COLLATE "C" NOT NULL,
	to_id           text COLLATE "C" NOT NULL,
	from_collection text COLLATE "C" NOT NULL,
	from_id         text COLLATE "C" NOT NULL,
	field           bytea NOT NULL,
	PRIMARY KEY (to_collection, to_id, from_collection, from_id, field)
);

-- Secondary indexes for queries (issue 20): keys in byte order.
CREATE TABLE index_entries (
	collection text COLLATE "C" NOT NULL,
	index_name text COLLATE "C" NOT NULL,
	key        bytea NOT NULL,
	id         text  NOT NULL,
	PRIMARY KEY (collection, index_name, key)
);

CREATE TABLE conflicts (
	id     text COLLATE "C" PRIMARY KEY,
	record bytea NOT NULL -- JSON of truce.Conflict
);

CREATE TABLE locks (
	collection  text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	token       text        NOT NULL,
	owner       text        NOT NULL,
	acquired_at timestamptz NOT NULL,
	expires_at  timestamptz NOT NULL,
	fence       bigint      NOT NULL,
	PRIMARY KEY (collection, id)
);
CREATE INDEX locks_expiry ON locks (expires_at, collection, id);

CREATE TABLE idempotency (
	caller     bytea NOT NULL,
	key        bytea NOT NULL,
	expires_at timestamptz NOT NULL,
	record     bytea NOT NULL, -- JSON (records.go)
	PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_expiry ON idempotency (expires_at);

CREATE TABLE transactions (
	id         text COLLATE "C" PRIMARY KEY,
	expires_at timestamptz NOT NULL,
	record     bytea NOT NULL -- JSON (records.go)
);
CREATE INDEX transactions_expiry ON transactions (expires_at);
