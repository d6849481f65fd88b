//! Time travel over the log: an entity's history with a before/after view
//! of the fields each event changed, and the state of accounts, users,
//! licenses and servers *as of* a past position or time — computed from the
//! log, not from read models (which only know the present).
//!
//! Both rest on one idea: fold the entity's events with the domain's own
//! `evolve` and render the state as a JSON *view*; a history entry is the
//! difference between the views before and after one event, and an as-of
//! read is the view after the last event at or before the moment.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::app::ledger::{Ledger, LedgerError};
use crate::domain::account::{self, AccountEvent, AccountState};
use crate::domain::codec::decode;
use crate::domain::ids::{
    AccountId, LicenseId, QuoteId, ServerId, ServiceAccountId, TicketId, UserId,
};
use crate::domain::license::{self, LicenseEvent, LicenseState};
use crate::domain::quote::{self, QuoteEvent, QuoteState};
use crate::domain::server::{self, ServerEvent, ServerState};
use crate::domain::service_account::{self, ServiceAccountEvent, ServiceAccountState};
use crate::domain::ticket::{self, TicketEvent, TicketState};
use crate::domain::user::{self, Status, UserEvent, UserState};
use crate::event::{RecordedEvent, StreamId};

/// A moment in the log: a position, or a time (`recorded_at` at or before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Position(u64),
    Time(DateTime<Utc>),
}

impl AsOf {
    /// `123` is a position, anything else an RFC 3339 time.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Ok(position) = text.trim().parse::<u64>() {
            return Ok(AsOf::Position(position));
        }
        DateTime::parse_from_rfc3339(text.trim())
            .map(|t| AsOf::Time(t.with_timezone(&Utc)))
            .map_err(|_| format!("as_of {text:?} is neither a position nor an RFC 3339 time"))
    }

    pub fn includes(&self, event: &RecordedEvent) -> bool {
        match self {
            AsOf::Position(p) => event.position <= *p,
            AsOf::Time(t) => event.recorded_at <= *t,
        }
    }
}

/// The kinds of entity with a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User(UserId),
    Account(AccountId),
    License(LicenseId),
    Server(ServerId),
    Ticket(TicketId),
    Quote(QuoteId),
    ServiceAccount(ServiceAccountId),
}

impl Entity {
    /// From a path's type and id (`user`, `account`, `license`, `server`,
    /// `ticket`, `quote`, `service_account`).
    pub fn parse(kind: &str, id: &str) -> Option<Self> {
        let id = uuid::Uuid::parse_str(id).ok()?;
        Some(match kind {
            "user" => Entity::User(UserId(id)),
            "account" => Entity::Account(AccountId(id)),
            "license" => Entity::License(LicenseId(id)),
            "server" => Entity::Server(ServerId(id)),
            "ticket" => Entity::Ticket(TicketId(id)),
            "quote" => Entity::Quote(QuoteId(id)),
            "service_account" => Entity::ServiceAccount(ServiceAccountId(id)),
            _ => return None,
        })
    }

    fn stream(&self) -> StreamId {
        match self {
            Entity::User(id) => id.stream(),
            Entity::Account(id) => id.stream(),
            Entity::License(id) => id.stream(),
            Entity::Server(id) => id.stream(),
            Entity::Ticket(id) => id.stream(),
            Entity::Quote(id) => id.stream(),
            Entity::ServiceAccount(id) => id.stream(),
        }
    }
}

fn ids<T: ToString>(items: impl IntoIterator<Item = T>) -> Value {
    Value::Array(
        items
            .into_iter()
            .map(|i| Value::String(i.to_string()))
            .collect(),
    )
}

pub fn user_view(state: &UserState) -> Value {
    json!({
        "user_id": state.user_id.map(|i| i.to_string()),
        "account_id": state.account_id.map(|i| i.to_string()),
        "email": state.email.as_ref().map(|e| e.to_string()),
        "name": (!state.name.is_empty()).then(|| state.name.clone()),
        "username": state.username.as_ref().map(|u| u.as_str().to_owned()),
        "role": state.role.map(|r| r.as_str()),
        "status": match state.status {
            Status::Absent => "absent",
            Status::Active => "active",
            Status::Deleted { .. } => "deleted",
            Status::Purged => "purged",
        },
        "licenses": ids(&state.licenses),
        "assigned_customers": ids(&state.assigned_customers),
        "trusted_locations": ids(&state.trusted_locations),
        "notifications": state.notifications.as_ref().map(|p| json!({
            "frequency": p.frequency,
            "categories": p.categories,
        })),
    })
}

pub fn account_view(state: &AccountState) -> Value {
    json!({
        "account_id": state.account_id.map(|i| i.to_string()),
        "kind": state.kind,
        "name": state.name,
        "parent_id": state.parent.map(|i| i.to_string()),
        "deleted": state.deleted,
        "primary_admin_id": state.primary_admin.map(|i| i.to_string()),
        "admins": ids(&state.admins),
    })
}

pub fn license_view(state: &LicenseState) -> Value {
    json!({
        "license_id": state.license_id.map(|i| i.to_string()),
        "account_id": state.account_id.map(|i| i.to_string()),
        "product": state.product,
        "seats": state.seats,
        "assigned": ids(&state.assigned),
        "cancelled": state.cancelled,
        "servers": ids(&state.servers),
    })
}

pub fn server_view(state: &ServerState) -> Value {
    json!({
        "server_id": state.server_id.map(|i| i.to_string()),
        "account_id": state.account_id.map(|i| i.to_string()),
        "name": state.name,
        "location": state.location,
        "notifications": state.notifications,
        "partner_access": state.partner_access,
        "partner_access_until": state.partner_access_until,
        // As the events left it: `expired` once the sweep recorded the end.
        "partner_access_state": match (state.partner_access, state.partner_access_until) {
            (true, _) => "granted",
            (false, Some(_)) => "expired",
            (false, None) => "none",
        },
        "backups": state.backups,
        "license_id": state.license.map(|i| i.to_string()),
        "decommissioned": state.decommissioned,
    })
}

pub fn ticket_view(state: &TicketState) -> Value {
    json!({
        "ticket_id": state.ticket_id.map(|i| i.to_string()),
        "account_id": state.account_id.map(|i| i.to_string()),
        "subject": state.subject,
        "closed": state.closed,
    })
}

/// A service account's view: its keys by id with name, expiry and
/// revocation — never their hashes.
pub fn service_account_view(state: &ServiceAccountState) -> Value {
    let keys: serde_json::Map<String, Value> = state
        .keys
        .iter()
        .map(|(id, key)| {
            (
                id.to_string(),
                json!({
                    "name": key.name,
                    "issued_at": key.issued_at,
                    "expires_at": key.expires_at,
                    "revoked_at": key.revoked_at,
                }),
            )
        })
        .collect();
    json!({
        "service_account_id": state.service_account_id.map(|i| i.to_string()),
        "account_id": state.account_id.map(|i| i.to_string()),
        "name": state.name,
        "role": state.role.map(|r| r.to_string()),
        "customers": state.customers.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "status": if state.deactivated_at.is_some() { "deactivated" } else { "active" },
        "keys": keys,
    })
}

pub fn quote_view(state: &QuoteState) -> Value {
    let terms = state.terms.as_ref();
    json!({
        "quote_id": state.quote_id.map(|i| i.to_string()),
        "account_id": state.account_id.map(|i| i.to_string()),
        "product": terms.map(|t| t.product.as_str()),
        "seats": terms.map(|t| t.seats.get()),
        "unit_price_cents": terms.map(|t| t.unit_price.cents()),
        "currency": terms.map(|t| t.currency.as_str()),
        "total_cents": state.total_cents(),
        "valid_until": terms.and_then(|t| t.valid_until).map(|d| d.to_string()),
        "note": terms.and_then(|t| t.note.as_ref()).map(|n| n.as_str()),
        "status": state.status.as_str(),
    })
}

/// One event of an entity's history.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
    pub event_type: String,
    pub action_type: Option<String>,
    pub description: Option<String>,
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    /// The changed fields as they were before the event.
    #[schema(value_type = Object)]
    pub before: Value,
    /// The changed fields as the event left them.
    #[schema(value_type = Object)]
    pub after: Value,
}

/// The fields whose values differ between two views.
fn changed(before: &Value, after: &Value) -> (Value, Value) {
    let (mut b, mut a) = (Map::new(), Map::new());
    if let (Some(before), Some(after)) = (before.as_object(), after.as_object()) {
        for (key, new) in after {
            let old = before.get(key).unwrap_or(&Value::Null);
            if old != new {
                b.insert(key.clone(), old.clone());
                a.insert(key.clone(), new.clone());
            }
        }
    }
    (Value::Object(b), Value::Object(a))
}

/// Folds `events` with `evolve`, rendering `view` after each; returns the
/// entries and the last view (`None` when there were no events).
fn replay<E, S>(
    events: &[RecordedEvent],
    evolve: impl Fn(S, &E, DateTime<Utc>) -> S,
    view: impl Fn(&S) -> Value,
) -> Result<(Vec<HistoryEntry>, Option<Value>), LedgerError>
where
    E: serde::de::DeserializeOwned,
    S: Default,
{
    let mut state = S::default();
    let mut current = view(&state);
    let mut entries = Vec::with_capacity(events.len());
    for event in events {
        state = evolve(state, &decode::<E>(event)?, event.recorded_at);
        let next = view(&state);
        let (before, after) = changed(&current, &next);
        let meta = event.metadata.to_value();
        let text = |v: &Value| v.as_str().map(str::to_owned);
        entries.push(HistoryEntry {
            position: event.position,
            recorded_at: event.recorded_at,
            event_type: event.event_type.to_string(),
            action_type: text(&meta["action_type"]),
            description: text(&meta["description"]),
            actor_user_id: text(&meta["actor"]["user_id"]),
            actor_email: text(&meta["actor"]["email"]),
            before,
            after,
        });
        current = next;
    }
    let last = (!events.is_empty()).then_some(current);
    Ok((entries, last))
}

impl Ledger {
    async fn replay_entity(
        &self,
        entity: Entity,
        as_of: Option<AsOf>,
    ) -> Result<(Vec<HistoryEntry>, Option<Value>), LedgerError> {
        let mut events = self.read_stream(&entity.stream()).await?;
        if let Some(as_of) = as_of {
            events.retain(|e| as_of.includes(e));
        }
        match entity {
            Entity::User(_) => replay(
                &events,
                |s, e: &UserEvent, at| user::evolve(s, e, at),
                user_view,
            ),
            Entity::Account(_) => replay(
                &events,
                |s, e: &AccountEvent, _| account::evolve(s, e),
                account_view,
            ),
            Entity::License(_) => replay(
                &events,
                |s, e: &LicenseEvent, _| license::evolve(s, e),
                license_view,
            ),
            Entity::Server(_) => replay(
                &events,
                |s, e: &ServerEvent, _| server::evolve(s, e),
                server_view,
            ),
            Entity::Ticket(_) => replay(
                &events,
                |s, e: &TicketEvent, _| ticket::evolve(s, e),
                ticket_view,
            ),
            Entity::Quote(_) => replay(
                &events,
                |s, e: &QuoteEvent, _| quote::evolve(s, e),
                quote_view,
            ),
            Entity::ServiceAccount(_) => replay(
                &events,
                |s, e: &ServiceAccountEvent, at| service_account::evolve(s, e, at),
                service_account_view,
            ),
        }
    }

    /// Every event of an entity, oldest first, with before/after views.
    pub async fn history(&self, entity: Entity) -> Result<Vec<HistoryEntry>, LedgerError> {
        Ok(self.replay_entity(entity, None).await?.0)
    }

    /// The entity as it was at `as_of` (`None` if it did not exist yet).
    /// A server's grant whose end had passed then shows `expired`, whether
    /// or not the sweep had recorded it yet (as `grant_stands` decided).
    pub async fn view_as_of(
        &self,
        entity: Entity,
        as_of: AsOf,
    ) -> Result<Option<Value>, LedgerError> {
        let mut view = self.replay_entity(entity, Some(as_of)).await?.1;
        if let (Entity::Server(_), Some(view)) = (entity, view.as_mut()) {
            let ended = view["partner_access_until"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            if let Some(end) = ended {
                let given = view["partner_access"] == true;
                let moment = self.moment_of(as_of).await?;
                let state = server::grant_state(given, Some(end.with_timezone(&Utc)), moment);
                view["partner_access_state"] = Value::from(state);
            }
        }
        Ok(view)
    }

    /// The account an entity belongs to (for authorization), now.
    pub async fn account_of(&self, entity: Entity) -> Result<Option<AccountId>, LedgerError> {
        let (_, view) = self.replay_entity(entity, None).await?;
        Ok(match entity {
            Entity::Account(id) => view.map(|_| id),
            _ => view
                .and_then(|v| v["account_id"].as_str().and_then(|a| a.parse().ok()))
                .map(AccountId),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_parses_positions_and_times() {
        assert_eq!(AsOf::parse("42"), Ok(AsOf::Position(42)));
        assert!(matches!(
            AsOf::parse("2026-03-03T00:00:00Z"),
            Ok(AsOf::Time(_))
        ));
        assert!(AsOf::parse("March 3rd").is_err());
    }

    #[test]
    fn a_history_entry_shows_only_what_changed() {
        let before = json!({"name": "A", "role": "admin", "status": "active"});
        let after = json!({"name": "A", "role": "support", "status": "active"});
        let (b, a) = changed(&before, &after);
        assert_eq!(b, json!({"role": "admin"}));
        assert_eq!(a, json!({"role": "support"}));
    }
}
