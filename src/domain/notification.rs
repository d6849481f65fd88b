//! Notifications: who gets which e-mail, and what it says.
//!
//! Every e-mail the product sends (an invitation, a password reset, "your
//! access was revoked", a daily or weekly digest) is itself an event,
//! `notification.queued` on its own `notification-<id>` stream, appended in
//! the same atomic append as the command that caused it. So the log proves
//! what the service told whom, and the outbox read model is just a
//! projection. Secrets (signup codes) never go into the event: its body
//! holds a placeholder, and only the e-mail handed to the sender carries
//! the code.
//!
//! Preferences are per user: a frequency (daily, or weekly — delivered
//! Monday morning) and categories; none selected means none sent.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{NotificationId, UserId};

/// How often digests come.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Daily,
    Weekly,
}

/// What a digest may be about. Every activity type belongs to one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Users,
    Security,
    Licenses,
    Servers,
    Organizations,
    Tickets,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Users,
        Category::Security,
        Category::Licenses,
        Category::Servers,
        Category::Organizations,
        Category::Tickets,
    ];

    /// The category of an activity-log action type (its display name).
    pub fn of_action_type(action_type: &str) -> Option<Category> {
        Some(match action_type {
            "Invite User"
            | "Update User Profile"
            | "Update User Permissions"
            | "Update User Groups"
            | "Delete User"
            | "Restore User"
            | "Purge User"
            | "Revoke Invitation"
            | "Accept Invitation"
            | "Update Password" => Category::Users,
            "Open Session" | "Close Session" | "Force Logout" | "Update Trusted Connection" => {
                Category::Security
            }
            "Update License" => Category::Licenses,
            "Server Action" | "Update Server" | "Update Configuration" | "Backup Machine Data" => {
                Category::Servers
            }
            "Update Organization" | "Delete Organization" => Category::Organizations,
            "Update Tickets" => Category::Tickets,
            _ => return None,
        })
    }

    pub fn title(self) -> &'static str {
        match self {
            Category::Users => "Users",
            Category::Security => "Security",
            Category::Licenses => "Licenses",
            Category::Servers => "Servers",
            Category::Organizations => "Organizations",
            Category::Tickets => "Tickets",
        }
    }
}

/// A user's digest settings.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, schemars::JsonSchema,
)]
pub struct Preferences {
    pub frequency: Frequency,
    pub categories: BTreeSet<Category>,
}

/// Which e-mail a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Invitation,
    PasswordReset,
    AccessRevoked,
    Digest,
    SignInCode,
    QuoteSent,
    /// A customer's grant to its partner ends soon.
    GrantEnding,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Invitation => "invitation",
            Kind::PasswordReset => "password_reset",
            Kind::AccessRevoked => "access_revoked",
            Kind::Digest => "digest",
            Kind::SignInCode => "sign_in_code",
            Kind::QuoteSent => "quote_sent",
            Kind::GrantEnding => "grant_ending",
        }
    }
}

/// The one event of a `notification-<id>` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum NotificationEvent {
    /// An e-mail handed to the sender. `recipient_subject` names whose
    /// personal data the recipient and body are (`user-…` or
    /// `invitation-…`), which seals them under that person's key.
    #[serde(rename = "notification.queued")]
    Queued {
        kind: Kind,
        recipient_subject: String,
        recipient_user_id: Option<UserId>,
        recipient: String,
        subject: String,
        body: String,
    },
}

impl NotificationEvent {
    pub const TYPES: [&'static str; 1] = ["notification.queued"];
}

/// An e-mail as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub subject: String,
    pub body: String,
}

/// What stands in the logged invitation body for the signup code.
pub const CODE_PLACEHOLDER: &str = "<single-use code, sent only in the e-mail>";

/// The invitation e-mail; `code` is [`CODE_PLACEHOLDER`] in the log.
pub fn invitation(code: &str, expires_at: DateTime<Utc>) -> Message {
    Message {
        kind: Kind::Invitation,
        subject: "You are invited".to_owned(),
        body: format!(
            "You have been invited. Complete your signup with this single-use code before {}:\n\n{code}\n",
            expires_at.to_rfc3339()
        ),
    }
}

/// The second factor of a sign-in from a new location; `code` is
/// [`CODE_PLACEHOLDER`] in the log.
pub fn sign_in_code(code: &str, ip: &str, expires_at: DateTime<Utc>) -> Message {
    Message {
        kind: Kind::SignInCode,
        subject: "Sign-in from a new location".to_owned(),
        body: format!(
            "Someone signed in to your account from {ip}, which is not one of your trusted \
             locations. If it was you, enter this code before {} to trust it:\n\n{code}\n\n\
             If it was not you, change your password.",
            expires_at.to_rfc3339()
        ),
    }
}

pub fn password_reset() -> Message {
    Message {
        kind: Kind::PasswordReset,
        subject: "Your password was reset".to_owned(),
        body: "An administrator reset your password and signed you out everywhere. \
               Sign in with the temporary password they give you, then choose a new one."
            .to_owned(),
    }
}

pub fn access_revoked(account_name: &str) -> Message {
    Message {
        kind: Kind::AccessRevoked,
        subject: "Your access was revoked".to_owned(),
        body: format!(
            "Your access to {account_name} was revoked and your sessions were ended. \
             An administrator can restore it within the retention period."
        ),
    }
}

/// A quote sent to a customer's admins: what, how much, until when.
/// How long before a grant's end its customer's admins are reminded.
pub const GRANT_REMINDERS: [(i64, &str); 2] = [(7, "7 days"), (1, "1 day")];

/// The reminder that a customer's grant to its partner ends: `ahead` is
/// how long before (`7 days`, `1 day`).
pub fn grant_ending(server: &str, ends: DateTime<Utc>, ahead: &str) -> Message {
    Message {
        kind: Kind::GrantEnding,
        subject: format!("Partner access to {server} ends in {ahead}"),
        body: format!(
            "Your partner's access to the server {server} ends at {}. After that your partner \
             can no longer see or operate it. To keep it, extend the grant in the portal; to \
             end it now, revoke it.",
            ends.to_rfc3339()
        ),
    }
}

/// The one id of the reminder `days` before `ends` to `admin` about
/// `server` (a second run appends nothing: the stream exists).
pub fn grant_reminder_id(
    server: crate::domain::ids::ServerId,
    ends: DateTime<Utc>,
    days: i64,
    admin: UserId,
) -> NotificationId {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"grant-ending");
    hasher.update(server.0.as_bytes());
    hasher.update(ends.timestamp_micros().to_be_bytes());
    hasher.update(days.to_be_bytes());
    hasher.update(admin.0.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    NotificationId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

pub fn quote_sent(
    partner_name: &str,
    product: &str,
    seats: u32,
    total_cents: u64,
    currency: &str,
    valid_until: Option<chrono::NaiveDate>,
) -> Message {
    let validity = valid_until.map_or_else(String::new, |d| format!(" It is valid until {d}."));
    Message {
        kind: Kind::QuoteSent,
        subject: format!("A quote from {partner_name}: {product}"),
        body: format!(
            "{partner_name} sent you a quote for {seats} seats of {product}, {}.{:02} {currency} \
             in total.{validity} Accept or decline it in the portal.",
            total_cents / 100,
            total_cents % 100
        ),
    }
}

/// The period a digest covers: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The period a digest sent at `now` covers, if one is due: daily digests
/// cover the previous UTC day; weekly ones the previous Monday-to-Monday
/// week, and are due on Mondays only ("Monday morning").
pub fn due_period(frequency: Frequency, now: DateTime<Utc>) -> Option<Period> {
    let midnight = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()?;
    match frequency {
        Frequency::Daily => Some(Period {
            from: midnight - Duration::days(1),
            to: midnight,
        }),
        Frequency::Weekly if now.weekday() == Weekday::Mon => Some(Period {
            from: midnight - Duration::days(7),
            to: midnight,
        }),
        Frequency::Weekly => None,
    }
}

/// The id of the digest for `user` over `period`: the same every time, so
/// running digests twice sends each one once (the stream exists already).
pub fn digest_id(user: UserId, frequency: Frequency, period: Period) -> NotificationId {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(user.0.as_bytes());
    hasher.update([frequency as u8]);
    hasher.update(period.from.timestamp().to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    NotificationId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

/// A digest of activity counts per category (only the chosen categories;
/// `None` when there is nothing to tell).
pub fn digest(
    frequency: Frequency,
    period: Period,
    chosen: &BTreeSet<Category>,
    counts: &[(Category, u64)],
) -> Option<Message> {
    let lines: Vec<String> = Category::ALL
        .iter()
        .filter(|c| chosen.contains(c))
        .filter_map(|c| {
            let n: u64 = counts.iter().filter(|(k, _)| k == c).map(|(_, n)| n).sum();
            (n > 0).then(|| {
                format!(
                    "- {}: {n} change{}",
                    c.title(),
                    if n == 1 { "" } else { "s" }
                )
            })
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let name = match frequency {
        Frequency::Daily => "Daily",
        Frequency::Weekly => "Weekly",
    };
    Some(Message {
        kind: Kind::Digest,
        subject: format!("{name} activity digest"),
        body: format!(
            "Activity from {} to {}:\n{}\n",
            period.from.to_rfc3339(),
            period.to.to_rfc3339(),
            lines.join("\n")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn weekly_digests_come_on_monday_mornings_daily_ones_every_day() {
        // 2026-11-23 is a Monday.
        let monday = at(2026, 11, 23, 7);
        let weekly = due_period(Frequency::Weekly, monday).unwrap();
        assert_eq!(
            (weekly.from, weekly.to),
            (at(2026, 11, 16, 0), at(2026, 11, 23, 0))
        );
        assert_eq!(due_period(Frequency::Weekly, at(2026, 11, 24, 7)), None);
        let daily = due_period(Frequency::Daily, at(2026, 11, 25, 3)).unwrap();
        assert_eq!(
            (daily.from, daily.to),
            (at(2026, 11, 24, 0), at(2026, 11, 25, 0))
        );
    }

    #[test]
    fn a_digest_counts_only_chosen_categories_and_none_means_none() {
        let period = due_period(Frequency::Daily, at(2026, 11, 25, 3)).unwrap();
        let counts = [
            (Category::Servers, 3),
            (Category::Users, 1),
            (Category::Servers, 2),
        ];
        let chosen: BTreeSet<_> = [Category::Servers, Category::Tickets].into();
        let message = digest(Frequency::Daily, period, &chosen, &counts).unwrap();
        assert!(message.body.contains("- Servers: 5 changes"));
        assert!(!message.body.contains("Users"));
        assert_eq!(
            digest(Frequency::Daily, period, &BTreeSet::new(), &counts),
            None
        );
        assert_eq!(
            digest(
                Frequency::Daily,
                period,
                &[Category::Tickets].into(),
                &counts
            ),
            None
        );
    }

    #[test]
    fn every_action_type_has_a_category() {
        for name in [
            "Invite User",
            "Update User Profile",
            "Update User Permissions",
            "Update User Groups",
            "Update Organization",
            "Delete Organization",
            "Delete User",
            "Restore User",
            "Purge User",
            "Open Session",
            "Close Session",
            "Force Logout",
            "Update Password",
            "Revoke Invitation",
            "Accept Invitation",
            "Update License",
            "Server Action",
            "Update Server",
            "Update Configuration",
            "Backup Machine Data",
            "Update Tickets",
            "Update Trusted Connection",
            "Update User Groups",
        ] {
            assert!(Category::of_action_type(name).is_some(), "{name}");
        }
    }

    #[test]
    fn digest_ids_are_stable_per_user_and_period() {
        let user = UserId(uuid::Uuid::from_u128(1));
        let p = due_period(Frequency::Daily, at(2026, 11, 25, 3)).unwrap();
        let q = due_period(Frequency::Daily, at(2026, 11, 26, 3)).unwrap();
        assert_eq!(
            digest_id(user, Frequency::Daily, p),
            digest_id(user, Frequency::Daily, p)
        );
        assert_ne!(
            digest_id(user, Frequency::Daily, p),
            digest_id(user, Frequency::Daily, q)
        );
    }
}
