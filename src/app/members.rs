//! Which users, licenses and servers an account had at a moment: where an
//! as-of list ("this organization's users on 3 March") and "who could do
//! what, and why" start.
//!
//! The log alone answers it — every entity of these kinds is created in one
//! account and never moves, so the creating events say it all — but finding
//! them means reading every creating event of the whole log (15 s at 10 M
//! events). So a read model indexes them (`proj_account_entities`, behind
//! [`MemberIndex`]) and the log is read only *after* the index's checkpoint:
//! the index answers for the prefix it has applied, the log for the tail it
//! has not. The answer is exact however far behind the index is (a fresh
//! index is a full scan, a caught-up one a few rows), and a ledger without
//! an index (tools, tests) scans the log as before.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::app::history::AsOf;
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::ids::AccountId;
use crate::event::EventType;
use crate::store::{ReadFilter, StoreError};

/// Creating events read per page of the tail.
const TAIL_PAGE: usize = 1000;

/// The kinds of entity an account holds and lists as of a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberKind {
    User,
    License,
    Server,
}

impl MemberKind {
    pub const ALL: [MemberKind; 3] = [MemberKind::User, MemberKind::License, MemberKind::Server];

    /// As the API and the read model name it.
    pub fn name(self) -> &'static str {
        match self {
            MemberKind::User => "user",
            MemberKind::License => "license",
            MemberKind::Server => "server",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The event that creates one, and the payload field holding its id
    /// (the account is the payload's `account_id`).
    pub fn created_by(self) -> (&'static str, &'static str) {
        match self {
            MemberKind::User => ("user.created", "user_id"),
            MemberKind::License => ("license.created", "license_id"),
            MemberKind::Server => ("server.registered", "server_id"),
        }
    }
}

/// One entity the index knows, with its creating event's place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedMember {
    pub id: String,
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
}

/// The read model of who was created where.
#[async_trait]
pub trait MemberIndex: Send + Sync {
    /// The position through which the index is complete, and the entities
    /// of `kind` created in `account` at or before it, in log order.
    async fn members(
        &self,
        kind: MemberKind,
        account: AccountId,
    ) -> Result<(u64, Vec<IndexedMember>), LedgerError>;
}

pub type SharedMemberIndex = Arc<dyn MemberIndex>;

impl AsOf {
    /// Whether an event at `position`, recorded at `recorded_at`, is at or
    /// before this moment.
    pub fn includes_at(&self, position: u64, recorded_at: DateTime<Utc>) -> bool {
        match self {
            AsOf::Position(p) => position <= *p,
            AsOf::Time(t) => recorded_at <= *t,
        }
    }
}

impl Ledger {
    /// The ids of the entities of `kind` created in `account` up to
    /// `as_of`, in log order: from the member index up to its checkpoint,
    /// from the log after it.
    pub async fn created_in_account(
        &self,
        kind: MemberKind,
        account: AccountId,
        as_of: AsOf,
    ) -> Result<Vec<String>, LedgerError> {
        let (through, indexed) = match &self.members {
            Some(index) => index.members(kind, account).await?,
            None => (0, Vec::new()),
        };
        let mut found: Vec<String> = indexed
            .into_iter()
            .filter(|m| m.position <= through && as_of.includes_at(m.position, m.recorded_at))
            .map(|m| m.id)
            .collect();
        if matches!(as_of, AsOf::Position(p) if p <= through) {
            return Ok(found);
        }
        let (event_type, id_field) = kind.created_by();
        let filter = ReadFilter {
            categories: vec![],
            event_types: vec![EventType::parse(event_type)
                .map_err(|e| LedgerError::Store(StoreError::Unavailable(e.to_string())))?],
        };
        let account = account.to_string();
        let mut from = through + 1;
        loop {
            let page = self.store().read_all(from, TAIL_PAGE, &filter).await?;
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            for event in &page {
                if !as_of.includes(event) {
                    return Ok(found);
                }
                let payload = event.payload.to_value();
                if payload["account_id"] == account.as_str() {
                    if let Some(id) = payload[id_field].as_str() {
                        found.push(id.to_owned());
                    }
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in MemberKind::ALL {
            assert_eq!(MemberKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(MemberKind::parse("ticket"), None);
    }

    #[test]
    fn as_of_includes_by_position_or_by_time() {
        let t: DateTime<Utc> = "2026-03-03T00:00:00Z".parse().unwrap();
        assert!(AsOf::Position(5).includes_at(5, t));
        assert!(!AsOf::Position(5).includes_at(6, t));
        assert!(AsOf::Time(t).includes_at(99, t));
        assert!(!AsOf::Time(t).includes_at(1, t + chrono::Duration::microseconds(1)));
    }
}
