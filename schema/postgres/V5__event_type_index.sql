-- Reading one kind of event across streams (as-of lists: every
-- `user.created` up to a position) without scanning the whole log.
CREATE INDEX events_type_position ON events (event_type, position);
