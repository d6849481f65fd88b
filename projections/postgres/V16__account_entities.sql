-- Which users, licenses and servers were created in which account, and
-- when: what an as-of list ("this organization's users on 3 March") and
-- "who could do what" start from, instead of scanning every creation event
-- in the log. Rows are never deleted (a deleted or purged user was still
-- created there; the row holds ids only, nothing personal).
CREATE TABLE proj_account_entities (
    entity_id   text        PRIMARY KEY, -- a UUID: unique across kinds
    kind        text        NOT NULL,    -- user | license | server
    account_id  text        NOT NULL,
    position    bigint      NOT NULL, -- of the creating event
    recorded_at timestamptz NOT NULL
);
CREATE INDEX proj_account_entities_account ON proj_account_entities (account_id, kind, position);
