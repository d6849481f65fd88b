//! `SetNotificationPreferences`: which activity digests a user receives,
//! and how often (their own, or an admin for them). The digests themselves
//! are sent by `app::notifications`.

use super::{UserCommand, UserFacts};
use crate::app::command::{Command, Decision};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::domain::ids::UserId;
use crate::domain::notification::Preferences;
use crate::domain::permissions::Action;
use crate::domain::user;

/// Sets `user_id`'s digest settings to `preferences`.
#[derive(Debug, Clone)]
pub struct SetNotificationPreferences {
    pub user_id: UserId,
    pub preferences: Preferences,
}

impl UserCommand for SetNotificationPreferences {
    fn user(&self) -> UserId {
        self.user_id
    }

    fn action(&self, facts: &UserFacts) -> Action {
        facts.unless_own(Action::UpdateUserProfile)
    }
}

impl Command for SetNotificationPreferences {
    type Facts = UserFacts;

    fn decide(&self, facts: &UserFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let decided =
            user::decide_notification_preferences(facts.state(), self.preferences.clone())?;
        facts.decision(
            ActivityType::UpdateUserProfile,
            format!("Set the notification preferences of {}", facts.shown()),
            decided,
        )
    }
}
