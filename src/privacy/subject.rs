//! Whose personal data a sealed value is: a *subject* owns one key.
//!
//! Subjects are users (`user-<id>`) and invitations (`invitation-<id>`, the
//! invitee before a user exists). The text form is the subject's stream id,
//! so a sealed value names its subjects in words an auditor can follow.

use std::fmt;

use crate::domain::ids::{InvitationId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(String);

impl Subject {
    pub fn user(id: UserId) -> Self {
        Subject(format!("{}-{}", UserId::CATEGORY, id.0))
    }

    pub fn invitation(id: InvitationId) -> Self {
        Subject(format!("{}-{}", InvitationId::CATEGORY, id.0))
    }

    /// A subject from its text form (a stream id of a person's stream);
    /// `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (category, id) = text.split_once('-')?;
        let id = uuid::Uuid::parse_str(id).ok()?;
        match category {
            c if c == UserId::CATEGORY => Some(Self::user(UserId(id))),
            c if c == InvitationId::CATEGORY => Some(Self::invitation(InvitationId(id))),
            _ => None,
        }
    }

    /// A subject from an activity-log target (`{"type": "user", "id": …}`).
    pub fn of_target(kind: &str, id: &str) -> Option<Self> {
        Self::parse(&format!("{kind}-{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_people_are_subjects() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(
            Subject::parse(&format!("user-{id}")),
            Some(Subject::user(UserId(id)))
        );
        assert_eq!(
            Subject::of_target("invitation", &id.to_string()),
            Some(Subject::invitation(InvitationId(id)))
        );
        assert_eq!(Subject::parse(&format!("account-{id}")), None);
        assert_eq!(Subject::parse("user-not-a-uuid"), None);
        assert_eq!(Subject::parse("user"), None);
    }
}
