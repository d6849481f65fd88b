//! `SetPartnerAccess`: the customer grants its partner access to a server
//! (until an end, or until revoked), moves the end of a grant, or revokes
//! it; `ExpirePartnerAccess`: the service records that a grant's end has
//! passed.
//!
//! Why the expiry is an event although the clock already decides: a
//! grant stops standing at its end whether or not anything is appended
//! (every check asks `ServerState::grant_stands(now)`), but histories, the
//! activity log and "who could" explain the past from events — so the
//! sweep (`Ledger::sweep_partner_grants`) appends one once the end passed.

use chrono::{DateTime, Utc};

use crate::app::command::{Command, Decision, OnEntity};
use crate::app::context::ActivityType;
use crate::app::ledger::{Authorized, LedgerError};
use crate::app::servers::ServerFacts;
use crate::domain::ids::ServerId;
use crate::domain::permissions::Action;
use crate::domain::server::{self, ServerEvent};

#[derive(Debug, Clone)]
pub struct SetPartnerAccess {
    pub server_id: ServerId,
    pub granted: bool,
    /// When the grant ends (`None`: until revoked).
    pub until: Option<DateTime<Utc>>,
    /// The moment the command is decided at (an end must lie after it).
    pub now: DateTime<Utc>,
}

impl OnEntity<ServerId> for SetPartnerAccess {
    const ACTION: Action = Action::GrantPartnerAccess;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

fn end(until: Option<DateTime<Utc>>) -> String {
    until.map_or_else(
        || " until revoked".to_owned(),
        |t| format!(" until {}", t.to_rfc3339()),
    )
}

impl Command for SetPartnerAccess {
    type Facts = ServerFacts;

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_partner_access(state, self.granted, self.until, self.now)?;
        let what = match events.first() {
            Some(ServerEvent::PartnerAccessGranted { until }) => {
                format!("Granted partner access{}", end(*until))
            }
            Some(ServerEvent::PartnerAccessExtended { until }) => {
                format!("Changed the end of partner access to{}", end(*until))
            }
            _ => "Revoked partner access".to_owned(),
        };
        facts.decision(
            ActivityType::UpdateServer,
            format!("{what} (server {})", state.name),
            &events,
        )
    }
}

/// The service records that the grant on `server_id` ran out (asked of
/// nobody: the system acts).
#[derive(Debug, Clone)]
pub struct ExpirePartnerAccess {
    pub server_id: ServerId,
    pub now: DateTime<Utc>,
}

impl OnEntity<ServerId> for ExpirePartnerAccess {
    const ACTION: Action = Action::GrantPartnerAccess;

    fn entity(&self) -> ServerId {
        self.server_id
    }
}

impl Command for ExpirePartnerAccess {
    type Facts = ServerFacts;

    fn decide(&self, facts: &ServerFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = server::decide_expiry(state, self.now)?;
        facts.decision(
            ActivityType::UpdateServer,
            format!("Partner access to server {} expired", state.name),
            &events,
        )
    }
}
