//! Which fields of which events are personal, and whose they are.
//!
//! This table is the whole policy: a field listed here is sealed on every
//! append and opened on every read; nothing else is. Adding an event type
//! that carries personal data means adding its fields here (a test lists the
//! event types that do).

use serde_json::Value;

use crate::privacy::subject::Subject;

/// Text readers see for a value whose key was destroyed.
pub const ERASED_TEXT: &str = "[erased]";
/// The domain of the placeholder address of an erased e-mail (`.invalid` is
/// reserved and never delivers).
pub const ERASED_EMAIL_DOMAIN: &str = "erased.invalid";

/// What kind of value a field holds, which decides its placeholder once
/// erased: an e-mail field must still hold a valid address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Text,
    /// A username: its placeholder must still parse as one.
    Username,
}

impl Kind {
    /// The placeholder of an erased value owned by `subjects`: distinct per
    /// subject for e-mails (two erased people are not one address).
    pub fn erased(self, subjects: &[Subject]) -> String {
        match self {
            Kind::Text => ERASED_TEXT.to_owned(),
            Kind::Email => format!("{}@{ERASED_EMAIL_DOMAIN}", erased_handle(subjects)),
            Kind::Username => erased_handle(subjects),
        }
    }
}

/// `erased-<12 hex digits>`, distinct per subject.
fn erased_handle(subjects: &[Subject]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for subject in subjects {
        hasher.update(subject.as_str().as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    format!("erased-{}", hex::encode(&digest[..6]))
}

/// Where in the envelope a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Payload,
    Metadata,
}

/// Whose data a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The person whose stream the event is in (`user-…`, `invitation-…`).
    Stream,
    /// The acting user (or, when no user acts, the people the command is
    /// about).
    Actor,
    /// The people the command is about: its `user` and `invitation`
    /// targets. Descriptions name at most these.
    Described,
    /// The person a payload field names (as a subject text): the recipient
    /// of a notification.
    PayloadSubject(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub section: Section,
    pub path: &'static [&'static str],
    pub kind: Kind,
    pub owner: Owner,
}

impl Field {
    /// The path as text (`payload.email`), which also goes into the nonce.
    pub fn label(&self) -> String {
        let section = match self.section {
            Section::Payload => "payload",
            Section::Metadata => "metadata",
        };
        std::iter::once(section)
            .chain(self.path.iter().copied())
            .collect::<Vec<_>>()
            .join(".")
    }
}

const fn payload(path: &'static [&'static str], kind: Kind) -> Field {
    Field {
        section: Section::Payload,
        path,
        kind,
        owner: Owner::Stream,
    }
}

/// Personal fields every command's metadata may carry.
pub const METADATA_FIELDS: [Field; 4] = [
    Field {
        section: Section::Metadata,
        path: &["actor", "email"],
        kind: Kind::Email,
        owner: Owner::Actor,
    },
    Field {
        section: Section::Metadata,
        path: &["ip"],
        kind: Kind::Text,
        owner: Owner::Actor,
    },
    Field {
        section: Section::Metadata,
        path: &["user_agent"],
        kind: Kind::Text,
        owner: Owner::Actor,
    },
    Field {
        section: Section::Metadata,
        path: &["description"],
        kind: Kind::Text,
        owner: Owner::Described,
    },
];

const EMAIL_AND_NAME: [Field; 3] = [
    payload(&["email"], Kind::Email),
    payload(&["name"], Kind::Text),
    payload(&["username"], Kind::Username),
];
const EMAIL: [Field; 1] = [payload(&["email"], Kind::Email)];
const IP: [Field; 1] = [payload(&["ip"], Kind::Text)];
const RECIPIENT: [Field; 2] = [
    Field {
        section: Section::Payload,
        path: &["recipient"],
        kind: Kind::Email,
        owner: Owner::PayloadSubject("recipient_subject"),
    },
    Field {
        section: Section::Payload,
        path: &["body"],
        kind: Kind::Text,
        owner: Owner::PayloadSubject("recipient_subject"),
    },
];

/// The personal payload fields of an event type.
pub fn payload_fields(event_type: &str) -> &'static [Field] {
    match event_type {
        "user.created" | "user.profile_updated" => &EMAIL_AND_NAME,
        "invitation.created" => &EMAIL,
        "user.trusted_location_added"
        | "user.trusted_location_removed"
        | "user.location_challenged" => &IP,
        "notification.queued" => &RECIPIENT,
        _ => &[],
    }
}

/// Every personal field of an event type.
pub fn fields(event_type: &str) -> impl Iterator<Item = &'static Field> {
    payload_fields(event_type)
        .iter()
        .chain(METADATA_FIELDS.iter())
}

/// The subjects that own `field` in an event of `stream` with `metadata`;
/// empty when nobody does (the field is then left as it is).
pub fn owners(field: &Field, stream: &str, payload: &Value, metadata: &Value) -> Vec<Subject> {
    match field.owner {
        Owner::PayloadSubject(key) => payload[key]
            .as_str()
            .and_then(Subject::parse)
            .into_iter()
            .collect(),
        Owner::Stream => Subject::parse(stream).into_iter().collect(),
        Owner::Actor => match metadata["actor"]["user_id"].as_str() {
            Some(user) => Subject::of_target("user", user).into_iter().collect(),
            None => described(metadata),
        },
        Owner::Described if metadata["description_names_nobody"] == true => vec![],
        Owner::Described => described(metadata),
    }
}

/// The people a command is about, from its targets, in order.
pub fn described(metadata: &Value) -> Vec<Subject> {
    described_by_targets(&metadata["targets"])
}

/// [`described`], given the metadata's `targets` alone.
pub fn described_by_targets(targets: &Value) -> Vec<Subject> {
    let mut subjects: Vec<Subject> = targets
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Subject::of_target(t["type"].as_str()?, t["id"].as_str()?))
        .collect();
    subjects.dedup();
    subjects
}

/// The value at `path` inside `root`.
pub fn get<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, key| v.get(key))
}

pub fn get_mut<'a>(root: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |v, key| v.get_mut(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;
    use serde_json::json;

    #[test]
    fn event_types_with_personal_payloads() {
        let personal: Vec<&str> = crate::domain::user::UserEvent::TYPES
            .iter()
            .chain(crate::domain::invitation::InvitationEvent::TYPES.iter())
            .chain(crate::domain::notification::NotificationEvent::TYPES.iter())
            .copied()
            .filter(|t| !payload_fields(t).is_empty())
            .collect();
        assert_eq!(
            personal,
            [
                "user.created",
                "user.profile_updated",
                "user.location_challenged",
                "user.trusted_location_added",
                "user.trusted_location_removed",
                "invitation.created",
                "notification.queued"
            ]
        );
    }

    #[test]
    fn erased_emails_are_valid_and_distinct() {
        let a = [Subject::user(UserId(uuid::Uuid::from_u128(1)))];
        let b = [Subject::user(UserId(uuid::Uuid::from_u128(2)))];
        let (ea, eb) = (Kind::Email.erased(&a), Kind::Email.erased(&b));
        assert_ne!(ea, eb);
        assert!(crate::domain::email::Email::parse(&ea).is_ok());
        assert_eq!(Kind::Text.erased(&a), ERASED_TEXT);
    }

    #[test]
    fn owners_follow_stream_actor_and_targets() {
        let user = uuid::Uuid::from_u128(5);
        let invitation = uuid::Uuid::from_u128(6);
        let metadata = json!({
            "actor": {"kind": "user", "user_id": user.to_string()},
            "targets": [
                {"type": "account", "id": uuid::Uuid::from_u128(7).to_string()},
                {"type": "invitation", "id": invitation.to_string()}
            ]
        });
        let [actor_email, _, _, description] = METADATA_FIELDS;
        assert_eq!(
            owners(&actor_email, "account-x", &json!({}), &metadata),
            [Subject::parse(&format!("user-{user}")).unwrap()]
        );
        assert_eq!(
            owners(&description, "account-x", &json!({}), &metadata),
            [Subject::parse(&format!("invitation-{invitation}")).unwrap()]
        );
        let anonymous = json!({"actor": {"kind": "system"}, "targets": []});
        assert!(owners(&actor_email, "account-x", &json!({}), &anonymous).is_empty());
        assert_eq!(
            owners(
                &payload(&["email"], Kind::Email),
                &format!("user-{user}"),
                &json!({}),
                &anonymous
            ),
            [Subject::parse(&format!("user-{user}")).unwrap()]
        );
    }
}
