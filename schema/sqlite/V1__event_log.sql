-- The event log of the embedded store. One row per event; see
-- ARCHITECTURE.md for the meaning of every column and the hash chain.
CREATE TABLE events (
    position        INTEGER PRIMARY KEY CHECK (position > 0),
    event_id        BLOB    NOT NULL UNIQUE CHECK (length(event_id) = 16),
    stream_id       TEXT    NOT NULL CHECK (stream_id <> ''),
    category        TEXT    NOT NULL GENERATED ALWAYS AS (
                        CASE WHEN instr(stream_id, '-') > 0
                             THEN substr(stream_id, 1, instr(stream_id, '-') - 1)
                             ELSE stream_id END) STORED,
    stream_version  INTEGER NOT NULL CHECK (stream_version > 0),
    event_type      TEXT    NOT NULL CHECK (event_type <> ''),
    schema_version  INTEGER NOT NULL CHECK (schema_version > 0),
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    recorded_at     INTEGER NOT NULL,  -- microseconds since the Unix epoch, UTC
    prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_category_position ON events (category, position);

-- The log is append-only: the database itself refuses to change or remove
-- an event. (SQLite has no TRUNCATE; an unqualified DELETE fires the delete
-- trigger like any other.)
CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'portal-ledger: events are append-only, UPDATE refused');
END;

CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'portal-ledger: events are append-only, DELETE refused');
END;
