-- PostgreSQL's V17 tunes its GIN indexes; SQLite has none. Kept so both
-- backends' projections carry the same versions.
SELECT 1;
