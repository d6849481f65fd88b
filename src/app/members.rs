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

use chrono::{DateTime, Utc};

use crate::app::history::AsOf;
use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::ids::AccountId;
use crate::event::EventType;
pub use crate::read_ports::{IndexedMember, MemberIndex, MemberKind, SharedMemberIndex};
use crate::store::{ReadFilter, StoreError};

/// Creating events read per page of the tail.
const TAIL_PAGE: usize = 1000;

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
