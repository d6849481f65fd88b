-- Notification preferences and the outbox (see projections/postgres/V7__notifications.sql).
ALTER TABLE proj_users ADD COLUMN notify_frequency TEXT;
ALTER TABLE proj_users ADD COLUMN notify_categories TEXT;
CREATE TABLE proj_outbox (
    notification_id    TEXT    PRIMARY KEY,
    kind               TEXT    NOT NULL,
    account_id         TEXT,
    recipient_subject  TEXT    NOT NULL,
    recipient_user_id  TEXT,
    recipient          TEXT    NOT NULL,
    subject            TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    queued_at          TEXT    NOT NULL,
    position           INTEGER NOT NULL
);
CREATE INDEX proj_outbox_recipient ON proj_outbox (recipient_subject);
CREATE INDEX proj_outbox_account ON proj_outbox (account_id, position DESC);
CREATE INDEX proj_activity_account_time ON proj_activity (account_id, recorded_at);
