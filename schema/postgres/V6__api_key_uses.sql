-- When each API key was last used (to the minute), for the service-account
-- views.
--
-- Outside the event log on purpose, like `credentials`: recording every
-- request as an event would drown the log in noise and hash-chain nothing
-- an auditor needs (what a key *did* is in the log, with the key's id in
-- each event's metadata). Rows only move forward in time
-- (`GREATEST`), so any number of service processes may write them.
CREATE TABLE api_key_uses (
    key_id        uuid        PRIMARY KEY,
    last_used_at  timestamptz NOT NULL
);
