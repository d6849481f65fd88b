-- The event log on PostgreSQL. One row per event; see ARCHITECTURE.md for
-- the meaning of every column and the hash chain.
CREATE TABLE events (
    position        bigint      PRIMARY KEY CHECK (position > 0),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL CHECK (stream_id <> ''),
    category        text        NOT NULL GENERATED ALWAYS AS (split_part(stream_id, '-', 1)) STORED,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL CHECK (event_type <> ''),
    schema_version  bigint      NOT NULL CHECK (schema_version BETWEEN 1 AND 4294967295),
    -- `json`, not `jsonb`: the stored text is the canonical text that was
    -- hashed, byte for byte.
    payload         json        NOT NULL,
    metadata        json        NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_category_position ON events (category, position);

-- The log is append-only: the database itself refuses to change or remove
-- an event, whoever asks (only a superuser disabling triggers gets past).
CREATE FUNCTION events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'portal-ledger: events are append-only, % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
