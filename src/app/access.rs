//! "Who could do what, and why": for an account (optionally one of its
//! servers) at a moment, every user and service account with access
//! (`kind`), their role, what the permission matrix lets them do there,
//! and the events that made it so — the role (creation, role change,
//! restore), the customer assignment of a partner's staff (a service
//! account's customer limit), the customer's partner-access grant on a
//! server.
//!
//! A partner's access to one of its customers is the customer's answer
//! narrowed to the partner's staff (`customer_of`).
//!
//! Computed from the log as of the moment (like `app::history`), through
//! the same `permissions::authorize` every command uses, so the answer is
//! what the service would have allowed then.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::history::AsOf;
use crate::app::ledger::{Ledger, LedgerError};
use crate::app::members::MemberKind;
use crate::domain::account::{self, AccountEvent, AccountState};
use crate::domain::codec::decode;
use crate::domain::ids::{AccountId, ServerId, ServiceAccountId, UserId};
use crate::domain::permissions::{self, Action, Relation};
use crate::domain::role::AccountKind;
use crate::domain::role::Role;
use crate::domain::server::{self, ServerEvent, ServerState};
use crate::domain::service_account::{self, ServiceAccountEvent, ServiceAccountState};
use crate::domain::user::{self, Status, UserEvent, UserState};
use crate::event::RecordedEvent;

/// What a partner's staff do to or read of a customer's server only while
/// its grant stands.
const SERVER_ACTIONS: [Action; 5] = [
    Action::ViewServers,
    Action::UpdateServer,
    Action::ServerAction,
    Action::BackupServer,
    Action::ManageLicenses,
];

/// An event that is part of the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Because {
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
    pub event_type: String,
    /// What it established, in words.
    pub established: String,
}

/// One person or service account with access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Access {
    /// `user` or `service_account`.
    pub kind: &'static str,
    /// A person's id (absent for a service account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// A service account's id and name (absent for a person).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<ServiceAccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub email: Option<String>,
    /// The user's own account.
    pub account_id: AccountId,
    pub role: String,
    /// `own`, `customer` (a partner's staff) or `platform`.
    pub relation: &'static str,
    /// What the matrix allows them here.
    #[schema(value_type = Vec<String>)]
    pub actions: Vec<Action>,
    pub because: Vec<Because>,
}

fn because(event: &RecordedEvent, established: String) -> Because {
    Because {
        position: event.position,
        recorded_at: event.recorded_at,
        event_type: event.event_type.to_string(),
        established,
    }
}

/// A user at the moment, with the events behind their role and their
/// customer assignment.
struct UserAt {
    state: UserState,
    role_event: Option<Because>,
    assignment_event: Option<Because>,
}

/// What `role`, related by `relation`, may do in an account of the
/// target's kind (what the commands would not refuse for the tenancy),
/// less a server's actions while its grant to a partner does not stand.
fn allowed_actions(
    target: &AccountState,
    role: Role,
    relation: Relation,
    server_grant_stands: bool,
) -> Vec<Action> {
    let mut actions: Vec<Action> = Action::ALL
        .iter()
        .copied()
        .filter(|a| {
            target
                .kind
                .is_some_and(|kind| permissions::exists_in(*a, kind))
        })
        .filter(|a| permissions::authorize(role, *a, relation).is_ok())
        .collect();
    if !server_grant_stands {
        // Everything done to or read of the server waits for the grant
        // (`ServerFacts`, `authorize_read`).
        actions.retain(|a| !SERVER_ACTIONS.contains(a));
    }
    actions
}

impl Ledger {
    async fn events_as_of(
        &self,
        stream: &crate::event::StreamId,
        as_of: AsOf,
    ) -> Result<Vec<RecordedEvent>, LedgerError> {
        let mut events = self.read_stream(stream).await?;
        events.retain(|e| as_of.includes(e));
        Ok(events)
    }

    async fn account_at(&self, id: AccountId, as_of: AsOf) -> Result<AccountState, LedgerError> {
        let mut state = AccountState::default();
        for event in self.events_as_of(&id.stream(), as_of).await? {
            state = account::evolve(state, &decode::<AccountEvent>(&event)?);
        }
        Ok(state)
    }

    async fn user_at(&self, id: UserId, as_of: AsOf) -> Result<UserAt, LedgerError> {
        let mut at = UserAt {
            state: UserState::default(),
            role_event: None,
            assignment_event: None,
        };
        for event in self.events_as_of(&id.stream(), as_of).await? {
            let decoded = decode::<UserEvent>(&event)?;
            match &decoded {
                UserEvent::Created { role, .. } => {
                    at.role_event = Some(because(&event, format!("created with role {role}")))
                }
                UserEvent::RoleChanged { from, to } => {
                    at.role_event =
                        Some(because(&event, format!("role changed from {from} to {to}")))
                }
                UserEvent::Restored { role, .. } => {
                    at.role_event = Some(because(&event, format!("restored with role {role}")))
                }
                UserEvent::CustomersAssigned { customers } => {
                    at.assignment_event = Some(because(
                        &event,
                        if customers.is_empty() {
                            "works for all of the partner's customers".to_owned()
                        } else {
                            format!("assigned to {} customer(s)", customers.len())
                        },
                    ))
                }
                _ => {}
            }
            at.state = user::evolve(at.state, &decoded, event.recorded_at);
        }
        Ok(at)
    }

    /// A service account at the moment, with the events behind its role
    /// and its customer limit.
    async fn service_account_at(
        &self,
        id: ServiceAccountId,
        as_of: AsOf,
    ) -> Result<(ServiceAccountState, Option<Because>, Option<Because>), LedgerError> {
        let (mut state, mut role_event, mut limit_event) =
            (ServiceAccountState::default(), None, None);
        for event in self.events_as_of(&id.stream(), as_of).await? {
            let decoded = decode::<ServiceAccountEvent>(&event)?;
            match &decoded {
                ServiceAccountEvent::Created {
                    role, customers, ..
                } => {
                    role_event = Some(because(
                        &event,
                        format!("service account created with role {role}"),
                    ));
                    if !customers.is_empty() {
                        limit_event = Some(because(
                            &event,
                            format!("limited to {} customer(s)", customers.len()),
                        ));
                    }
                }
                ServiceAccountEvent::Changed {
                    role, customers, ..
                } => {
                    if let Some(role) = role {
                        role_event = Some(because(&event, format!("role changed to {role}")));
                    }
                    if let Some(customers) = customers {
                        limit_event = Some(because(
                            &event,
                            if customers.is_empty() {
                                "works for all of the partner's customers".to_owned()
                            } else {
                                format!("limited to {} customer(s)", customers.len())
                            },
                        ));
                    }
                }
                _ => {}
            }
            state = service_account::evolve(state, &decoded, event.recorded_at);
        }
        Ok((state, role_event, limit_event))
    }

    /// Whether `customer` was a customer organization of `partner` at
    /// `as_of` (so the partner's staff reach it as `customer`).
    pub async fn customer_of(
        &self,
        customer: AccountId,
        partner: AccountId,
        as_of: AsOf,
    ) -> Result<bool, LedgerError> {
        let state = self.account_at(customer, as_of).await?;
        Ok(state.account_id.is_some()
            && state.kind == Some(AccountKind::Organization)
            && state.parent == Some(partner))
    }

    /// Who could act in `account` (and on `server`, if given) at `as_of`,
    /// and why. Users who could do nothing there are left out.
    pub async fn who_could(
        &self,
        account: AccountId,
        server: Option<ServerId>,
        as_of: AsOf,
    ) -> Result<Vec<Access>, LedgerError> {
        let target = self.account_at(account, as_of).await?;
        if target.account_id.is_none() {
            return Ok(vec![]);
        }
        // The server's partner-access grant at the moment, and its reason:
        // the last event that decided it, read at that moment (a grant
        // whose end had passed did not stand, recorded or not).
        let mut grant: Option<(bool, Because)> = None;
        if let Some(server_id) = server {
            let moment = self.moment_of(as_of).await?;
            let mut state = ServerState::default();
            let mut decided_by = None;
            for event in self.events_as_of(&server_id.stream(), as_of).await? {
                let decoded = decode::<ServerEvent>(&event)?;
                state = server::evolve(state, &decoded);
                if matches!(
                    decoded,
                    ServerEvent::Registered { .. }
                        | ServerEvent::PartnerAccessGranted { .. }
                        | ServerEvent::PartnerAccessRevoked
                        | ServerEvent::PartnerAccessExtended { .. }
                        | ServerEvent::PartnerAccessExpired { .. }
                ) {
                    decided_by = Some(event);
                }
            }
            if let Some(event) = decided_by {
                let stands = state.grant_stands(moment);
                let words = match (stands, state.partner_access_until) {
                    (true, None) => {
                        "the customer granted its partner access to this server".to_owned()
                    }
                    (true, Some(end)) => format!(
                        "the customer granted its partner access to this server until {}",
                        end.to_rfc3339()
                    ),
                    (false, Some(end)) => format!(
                        "the customer's grant to its partner expired at {}",
                        end.to_rfc3339()
                    ),
                    (false, None) => {
                        "the customer did not grant (or revoked) partner access".to_owned()
                    }
                };
                grant = Some((stands, because(&event, words)));
            }
            if state.account_id != Some(account) {
                return Ok(vec![]);
            }
        }
        // Whose staff reaches this account: its own, its partner's (for a
        // customer organization), the platform's.
        let mut populations: Vec<(AccountId, &'static str)> = vec![(account, "own")];
        let mut parent = target.parent;
        while let Some(p) = parent {
            let state = self.account_at(p, as_of).await?;
            match state.kind {
                Some(AccountKind::Partner) if target.kind == Some(AccountKind::Organization) => {
                    populations.push((p, "customer"))
                }
                Some(AccountKind::Platform) => populations.push((p, "platform")),
                _ => {}
            }
            parent = state.parent;
        }
        let mut out = Vec::new();
        for (population, relation_name) in populations {
            let users = self
                .created_in_account(MemberKind::User, population, as_of)
                .await?;
            for id in users {
                let Ok(id) = id.parse().map(UserId) else {
                    continue;
                };
                let at = self.user_at(id, as_of).await?;
                let (Some(role), Status::Active) = (at.state.role, at.state.status) else {
                    continue;
                };
                let relation = match relation_name {
                    "own" => Relation::Own,
                    "customer" => Relation::Customer {
                        assigned: user::works_for(&at.state, account),
                    },
                    _ => Relation::Platform,
                };
                let partner_grant = grant.as_ref().filter(|_| relation_name == "customer");
                let actions = allowed_actions(
                    &target,
                    role,
                    relation,
                    partner_grant.is_none_or(|(granted, _)| *granted),
                );
                let mut reasons: Vec<Because> = at.role_event.clone().into_iter().collect();
                if relation_name == "customer" {
                    if let Some(assignment) = &at.assignment_event {
                        reasons.push(assignment.clone());
                    }
                }
                if let Some((_, why)) = partner_grant {
                    reasons.push(why.clone());
                }
                if actions.is_empty() {
                    continue;
                }
                out.push(Access {
                    kind: "user",
                    user_id: Some(id),
                    service_account_id: None,
                    name: None,
                    email: at.state.email.as_ref().map(|e| e.to_string()),
                    account_id: population,
                    role: role.as_str().to_owned(),
                    relation: relation_name,
                    actions,
                    because: reasons,
                });
            }
            // Service accounts, under the same matrix; a service account's
            // customer limit is a hard boundary (`Acting::reaches`).
            let machines = self
                .created_in_account(MemberKind::ServiceAccount, population, as_of)
                .await?;
            for id in machines {
                let Ok(id) = id.parse().map(ServiceAccountId) else {
                    continue;
                };
                let (state, role_event, limit_event) = self.service_account_at(id, as_of).await?;
                let Ok((_, role)) = state.active() else {
                    continue;
                };
                let relation = match relation_name {
                    "own" => Relation::Own,
                    "customer" if state.works_for(account) => Relation::Customer { assigned: true },
                    "customer" => continue,
                    _ => Relation::Platform,
                };
                let partner_grant = grant.as_ref().filter(|_| relation_name == "customer");
                let actions = allowed_actions(
                    &target,
                    role,
                    relation,
                    partner_grant.is_none_or(|(granted, _)| *granted),
                );
                if actions.is_empty() {
                    continue;
                }
                let mut reasons: Vec<Because> = role_event.into_iter().collect();
                if relation_name == "customer" {
                    reasons.extend(limit_event);
                }
                if let Some((_, why)) = partner_grant {
                    reasons.push(why.clone());
                }
                out.push(Access {
                    kind: "service_account",
                    user_id: None,
                    service_account_id: Some(id),
                    name: Some(state.name),
                    email: None,
                    account_id: population,
                    role: role.as_str().to_owned(),
                    relation: relation_name,
                    actions,
                    because: reasons,
                });
            }
        }
        Ok(out)
    }
}

impl Ledger {
    /// The time an as-of question is asked at: the time given, or the
    /// time of the event at the position (now, at or past the head).
    pub(crate) async fn moment_of(&self, as_of: AsOf) -> Result<DateTime<Utc>, LedgerError> {
        match as_of {
            AsOf::Time(time) => Ok(time),
            AsOf::Position(position) => {
                let at = self
                    .store()
                    .read_all(position.max(1), 1, &crate::store::ReadFilter::all())
                    .await?;
                Ok(match at.first() {
                    Some(event) if event.position == position => event.recorded_at,
                    _ => Utc::now(),
                })
            }
        }
    }
}
