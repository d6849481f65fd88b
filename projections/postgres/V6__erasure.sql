-- Erasing a purged person from the activity log (see src/privacy/mod.rs).
--
-- `personal_subject` names the person whose data the description holds
-- (`user-<id>` or `invitation-<id>`, NULL when it names nobody); on
-- `user.purged` the projector blanks those descriptions and the actor
-- e-mail, IP and user agent of that user's own actions.
ALTER TABLE proj_activity ADD COLUMN personal_subject text;
CREATE INDEX proj_activity_personal_subject ON proj_activity (personal_subject);
CREATE INDEX proj_activity_actor ON proj_activity (actor_user_id);
