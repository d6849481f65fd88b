CREATE TABLE proj_quotes (
    quote_id          TEXT    PRIMARY KEY,
    account_id        TEXT    NOT NULL,
    product           TEXT    NOT NULL,
    seats             INTEGER NOT NULL,
    unit_price_cents  INTEGER NOT NULL,
    currency          TEXT    NOT NULL,
    total_cents       INTEGER NOT NULL,
    valid_until       TEXT,
    note              TEXT,
    status            TEXT    NOT NULL,
    decline_reason    TEXT,
    created_at        TEXT    NOT NULL,
    sent_at           TEXT,
    decided_at        TEXT,
    updated_at        TEXT    NOT NULL,
    position          INTEGER NOT NULL
);
CREATE INDEX proj_quotes_account ON proj_quotes (account_id, created_at DESC);

CREATE TABLE proj_partner_kit (
    item_id       TEXT    PRIMARY KEY,
    title         TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    url           TEXT,
    content       TEXT,
    category      TEXT    NOT NULL,
    published_at  TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    position      INTEGER NOT NULL
);
CREATE INDEX proj_partner_kit_category ON proj_partner_kit (category, title);

ALTER TABLE proj_servers ADD COLUMN license_id TEXT;
