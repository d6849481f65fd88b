-- GIN indexes (targets, description words) take new entries into a pending
-- list that every search reads through before the index proper; at the
-- default 4 MB limit that cost a target search 4–9 ms at 10 M events. A
-- small limit keeps searches fast and still batches inserts.
ALTER INDEX proj_activity_targets SET (gin_pending_list_limit = 256);
ALTER INDEX proj_activity_description_folded SET (gin_pending_list_limit = 256);
SELECT gin_clean_pending_list('proj_activity_targets'::regclass);
SELECT gin_clean_pending_list('proj_activity_description_folded'::regclass);
