//! `PurgeUser`: once a deleted user's retention period is over (the system
//! does this, see `app::retention`), their personal data is destroyed —
//! their key and their invitation's — and only the fact of the purge
//! stays in the log.

use super::{UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::UserId;
use crate::domain::permissions::Action;
use crate::domain::user::{self, UserEvent};
use crate::privacy::subject::Subject;
use chrono::{DateTime, Utc};

/// Purges `user_id` as of `now`.
#[derive(Debug, Clone)]
pub struct PurgeUser {
    pub user_id: UserId,
    pub now: DateTime<Utc>,
}

impl UserCommand for PurgeUser {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, _: &UserFacts) -> Action {
        Action::DeleteUser
    }
}

impl Command for PurgeUser {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let decided = user::decide_purge(facts.state(), self.now, facts.retention)?;
        let erased = purged_subjects(self.user_id, &decided.user);
        Ok(facts
            .decision(
                ActivityType::PurgeUser,
                format!("Purged user {} after the retention period", self.user_id),
                decided,
            )?
            .erasing(erased))
    }
}

/// The subjects whose keys a purge destroys: the user's and the invitation
/// they signed up through.
fn purged_subjects(user_id: UserId, events: &[UserEvent]) -> Vec<Subject> {
    events
        .iter()
        .filter_map(|e| match e {
            UserEvent::Purged { invitation_id } => Some(
                std::iter::once(Subject::user(user_id))
                    .chain(invitation_id.map(Subject::invitation))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}
