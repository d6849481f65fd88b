//! Notifications in the application layer: recording an e-mail in the log
//! with the command that causes it, handing it to the sender once the
//! append succeeded, digest settings, and the digest run.
//!
//! Why here and not in a projector: an e-mail is something the service
//! *did*, so it is an event (`notification.queued`, see
//! `domain::notification`) appended atomically with its cause; the outbox
//! read model is built from those events. Delivery happens after the
//! append, so an e-mail is never sent for a command that did not happen.

use chrono::{DateTime, Utc};

use crate::app::context::{ActivityType, CommandContext, EventMetadata};
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::codec::encode;
use crate::domain::email::Email;
use crate::domain::ids::{InvitationId, NotificationId, UserId};
use crate::domain::notification::{self, Message, NotificationEvent};
use crate::domain::role::Role;
use crate::domain::user;
use crate::notify::OutgoingEmail;
use crate::privacy::subject::Subject;
pub use crate::read_ports::ActivitySource;
use crate::store::{ExpectedVersion, StoreError, StreamAppend};

/// Who an e-mail goes to.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub user: Option<UserId>,
    /// The invitation, when the recipient is not a user yet.
    pub invitation: Option<InvitationId>,
    pub email: Email,
}

impl Recipient {
    pub fn user(user: UserId, email: Email) -> Self {
        Self {
            user: Some(user),
            invitation: None,
            email,
        }
    }

    pub fn invitee(invitation: InvitationId, email: Email) -> Self {
        Self {
            user: None,
            invitation: Some(invitation),
            email,
        }
    }

    fn subject(&self) -> Option<Subject> {
        self.user
            .map(Subject::user)
            .or_else(|| self.invitation.map(Subject::invitation))
    }
}

/// An e-mail recorded with a command, delivered after it is appended.
#[derive(Debug, Clone)]
pub struct Notice {
    pub recipient: Recipient,
    /// As the log records it (no secrets).
    pub logged: Message,
    /// As it is sent (with the secret, if any).
    pub sent: Message,
}

impl Notice {
    /// An e-mail with nothing secret in it.
    pub fn plain(recipient: Recipient, message: Message) -> Self {
        Self {
            recipient,
            logged: message.clone(),
            sent: message,
        }
    }

    /// The append recording it on a new `notification-<id>` stream.
    pub(crate) fn append(
        &self,
        id: NotificationId,
        metadata: &EventMetadata,
    ) -> Result<StreamAppend, LedgerError> {
        let event = NotificationEvent::Queued {
            kind: self.logged.kind,
            recipient_subject: self
                .recipient
                .subject()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            recipient_user_id: self.recipient.user,
            recipient: self.recipient.email.to_string(),
            subject: self.logged.subject.clone(),
            body: self.logged.body.clone(),
        };
        let metadata = metadata.clone().with_target("notification", id).to_json();
        Ok(StreamAppend::new(
            id.stream(),
            ExpectedVersion::NoStream,
            vec![encode(&event, &metadata)?],
        ))
    }
}

impl Ledger {
    /// Hands a recorded e-mail to the sender.
    pub(crate) fn deliver(&self, notice: &Notice) {
        self.notifier.send(OutgoingEmail {
            to: notice.recipient.email.to_string(),
            subject: notice.sent.subject.clone(),
            body: notice.sent.body.clone(),
        });
    }

    /// Sends the digests due at `now` to every user who chose categories,
    /// counting activity in the read model through `source`. Each digest
    /// has a fixed id per user and period, so running this again — or from
    /// two processes — sends each once; its causation id is the user's
    /// `user.notification_preferences_changed` event that asked for it.
    /// Returns how many were sent.
    pub async fn send_digests(
        &self,
        now: DateTime<Utc>,
        source: &dyn ActivitySource,
    ) -> Result<usize, LedgerError> {
        let mut sent = 0;
        for user_id in source.digest_recipients().await? {
            // The digest is caused by the preferences that asked for it.
            let (loaded, chosen) = self
                .load_user_noting(user_id, |e| {
                    matches!(e, user::UserEvent::NotificationPreferencesChanged { .. })
                })
                .await?;
            let state = loaded.state;
            let (Some(preferences), Ok((account_id, role)), Some(email)) =
                (&state.notifications, state.active(), state.email.clone())
            else {
                continue;
            };
            let Some(period) = notification::due_period(preferences.frequency, now) else {
                continue;
            };
            // Their own account, and for staff the customers they work for;
            // Marketing users see no customer data.
            let mut accounts = vec![account_id];
            if role != Role::Marketing {
                for customer in source.customers_of(account_id).await? {
                    if user::works_for(&state, customer) {
                        accounts.push(customer);
                    }
                }
            }
            let counted = source.activity_counts(&accounts, period).await?;
            let by_category: Vec<_> = counted
                .iter()
                .filter_map(|(action, n)| {
                    notification::Category::of_action_type(action).map(|c| (c, *n))
                })
                .collect();
            let Some(message) = notification::digest(
                preferences.frequency,
                period,
                &preferences.categories,
                &by_category,
            ) else {
                continue;
            };
            let notice = Notice::plain(Recipient::user(user_id, email), message);
            let metadata = EventMetadata::new(
                &CommandContext::system(),
                None,
                None,
                account_id,
                ActivityType::SendDigest,
                "Sent an activity digest".to_owned(),
                None,
            )
            .with_target("user", user_id)
            .names_nobody()
            .caused_by(chosen);
            let id = notification::digest_id(user_id, preferences.frequency, period);
            if self.send_once(&notice, id, &metadata).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// Records `notice` as the notification `id` (a stream of its own, so
    /// an id already used appends nothing) and delivers it; `false` when it
    /// was sent already, by this or another process.
    pub(crate) async fn send_once(
        &self,
        notice: &Notice,
        id: NotificationId,
        metadata: &EventMetadata,
    ) -> Result<bool, LedgerError> {
        match self
            .store()
            .append(vec![self.seal_one(notice.append(id, metadata)?).await?])
            .await
        {
            Ok(_) => {
                self.deliver(notice);
                Ok(true)
            }
            Err(StoreError::WrongExpectedVersion { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn seal_one(&self, append: StreamAppend) -> Result<StreamAppend, LedgerError> {
        let mut appends = [append];
        self.personal_data().seal(&mut appends).await?;
        let [append] = appends;
        Ok(append)
    }
}
