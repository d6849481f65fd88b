-- Notification preferences (on the user's row) and the outbox.

-- Digest settings: daily | weekly (NULL: never set), and the chosen
-- categories as a JSON array (empty: no digests).
ALTER TABLE proj_users ADD COLUMN notify_frequency text;
ALTER TABLE proj_users ADD COLUMN notify_categories jsonb;
CREATE INDEX proj_users_notify ON proj_users (notify_frequency) WHERE notify_frequency IS NOT NULL;

-- Every e-mail the service sent (one `notification.queued` event each).
CREATE TABLE proj_outbox (
    notification_id    text        PRIMARY KEY,
    kind               text        NOT NULL,  -- invitation | password_reset | access_revoked | digest
    account_id         text,                  -- the account of the command that sent it
    recipient_subject  text        NOT NULL,  -- user-<id> | invitation-<id>
    recipient_user_id  text,
    recipient          text        NOT NULL,  -- the address it went to
    subject            text        NOT NULL,
    body               text        NOT NULL,  -- signup codes are never stored
    queued_at          timestamptz NOT NULL,
    position           bigint      NOT NULL
);
CREATE INDEX proj_outbox_recipient ON proj_outbox (recipient_subject);
CREATE INDEX proj_outbox_account ON proj_outbox (account_id, position DESC);
CREATE INDEX proj_activity_account_time ON proj_activity (account_id, recorded_at);
