//! The retention sweep: purging every deleted user whose retention period
//! is over, as the `system` actor.
//!
//! Why from the log and not a read model: which users are deleted, and
//! since when, is what the `user.deleted` / `user.restored` /
//! `user.purged` events say, and the log answers that without waiting for
//! a projection to catch up (a read model that lags could make the sweep
//! miss a user until the next run, or purge one an admin just restored).
//! Each purge is then decided on the user's own stream as usual, so a
//! restore that races the sweep wins or the purge is refused, and running
//! the sweep twice — or from two processes — purges each user once.
//!
//! Every purge records the deletion that caused it: its causation id is the
//! `user.deleted` event's id and its correlation id the deletion command's,
//! so an auditor can follow "deleted by an admin, purged by the service
//! because of that deletion".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::context::CommandContext;
use crate::app::ledger::{Ledger, LedgerError};
use crate::app::users::PurgeUser;
use crate::domain::ids::UserId;
use crate::domain::DomainError;
use crate::event::{EventType, RecordedEvent};
use crate::store::ReadFilter;

/// Events read per page while looking for deletions.
const PAGE: usize = 5_000;

/// A deletion that has not been undone (restored) or completed (purged).
#[derive(Debug, Clone, Copy)]
struct PendingDeletion {
    at: DateTime<Utc>,
    event_id: Uuid,
    correlation_id: Option<Uuid>,
}

fn user_of(event: &RecordedEvent) -> Option<UserId> {
    event.stream_id.as_str().strip_prefix("user-")?.parse().ok()
}

fn correlation_of(event: &RecordedEvent) -> Option<Uuid> {
    event
        .metadata
        .to_value()
        .get("correlation_id")?
        .as_str()?
        .parse()
        .ok()
}

impl Ledger {
    /// Users deleted and neither restored nor purged since, with their
    /// deletion, from the log.
    async fn pending_deletions(&self) -> Result<BTreeMap<UserId, PendingDeletion>, LedgerError> {
        let types = ["user.deleted", "user.restored", "user.purged"]
            .into_iter()
            .map(EventType::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                LedgerError::Store(crate::store::StoreError::Unavailable(e.to_string()))
            })?;
        let filter = ReadFilter {
            categories: vec![],
            event_types: types,
        };
        let mut pending = BTreeMap::new();
        let mut from = 1;
        loop {
            let page = self.store().read_all(from, PAGE, &filter).await?;
            for event in &page {
                let Some(user) = user_of(event) else {
                    continue;
                };
                if event.event_type.as_str() == "user.deleted" {
                    pending.insert(
                        user,
                        PendingDeletion {
                            at: event.recorded_at,
                            event_id: event.event_id,
                            correlation_id: correlation_of(event),
                        },
                    );
                } else {
                    pending.remove(&user);
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.position + 1,
                _ => return Ok(pending),
            }
        }
    }

    /// Purges every deleted user whose retention period (this ledger's,
    /// see [`with_retention`](Self::with_retention)) is over at `now`.
    /// Returns how many were purged; users purged already, restored, or
    /// still within their retention are left alone, so the sweep is
    /// idempotent.
    pub async fn purge_due(&self, now: DateTime<Utc>) -> Result<usize, LedgerError> {
        let mut purged = 0;
        for (user_id, deletion) in self.pending_deletions().await? {
            if now <= deletion.at + self.retention {
                continue;
            }
            let context = CommandContext {
                correlation_id: deletion.correlation_id,
                causation_id: Some(deletion.event_id),
                ..CommandContext::system()
            };
            match self.run(&context, PurgeUser { user_id, now }).await {
                Ok(_) => purged += 1,
                // Restored or purged (by another process) since the scan.
                Err(LedgerError::Domain(
                    DomainError::UserNotDeleted
                    | DomainError::UserPurged
                    | DomainError::RetentionNotExpired,
                )) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(purged)
    }
}
