-- See schema/postgres/V5__event_type_index.sql.
CREATE INDEX events_type_position ON events (event_type, position);
