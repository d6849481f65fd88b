//! The catalog of domain event types published at `GET /v1/event-types`:
//! per type its current schema version, the activity action types it is
//! recorded under, and a JSON Schema of its payload for every version —
//! generated from the Rust types (schemars), the old versions from the
//! types that describe their shape here.
//!
//! Why generated: a portal back end or an auditor reading the log for
//! years needs the shapes the service really writes and reads, not a
//! document that drifts from them. The current schema of a type is cut
//! out of its aggregate's event enum (which is internally tagged by
//! `type`, the envelope's `event_type`, so the payload is the variant's
//! other fields).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::account::AccountEvent;
use crate::domain::ids::{AccountId, ServerId};
use crate::domain::invitation::InvitationEvent;
use crate::domain::license::LicenseEvent;
use crate::domain::notification::NotificationEvent;
use crate::domain::partner_kit::KitEvent;
use crate::domain::quote::QuoteEvent;
use crate::domain::server::ServerEvent;
use crate::domain::service_account::ServiceAccountEvent;
use crate::domain::session::SessionEvent;
use crate::domain::ticket::TicketEvent;
use crate::domain::upcast::{current_version, STEPS};
use crate::domain::user::{EmailEvent, UserEvent, UsernameEvent};

/// One event type as the catalog lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventTypeEntry {
    pub event_type: String,
    /// The version new events are appended at.
    pub schema_version: u32,
    /// The activity log's action types a command appending it records.
    pub action_types: Vec<&'static str>,
    /// What changed at each version after the first.
    pub changes: Vec<VersionChange>,
    /// A JSON Schema (2020-12) of the payload, per version (`"1"`, `"2"`, …).
    #[schema(value_type = Object)]
    pub schemas: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionChange {
    pub version: u32,
    pub change: &'static str,
}

/// The activity action types each event type is recorded under (the
/// `ActivityType` of every command that appends it); checked against the
/// log every role × action test writes (`tests/api/authorization.rs`).
const ACTION_TYPES: &[(&str, &[&str])] = &[
    (
        "account.created",
        &["Update Organization", "Accept Invitation"],
    ),
    ("account.renamed", &["Update Organization"]),
    ("account.deleted", &["Delete Organization"]),
    (
        "account.admin_added",
        &[
            "Update User Groups",
            "Invite User",
            "Update User Profile",
            "Import User",
            "Accept Invitation",
            "Restore User",
        ],
    ),
    (
        "account.admin_removed",
        &[
            "Update User Groups",
            "Delete User",
            "Update User Permissions",
        ],
    ),
    (
        "account.ownership_transferred",
        &["Update User Permissions"],
    ),
    (
        "user.created",
        &[
            "Invite User",
            "Update User Profile",
            "Import User",
            "Accept Invitation",
        ],
    ),
    ("user.role_changed", &["Update User Groups"]),
    ("user.profile_updated", &["Update User Profile"]),
    ("user.deleted", &["Delete User"]),
    ("user.restored", &["Restore User"]),
    ("user.purged", &["Purge User"]),
    (
        "user.sessions_revoked",
        &[
            "Force Logout",
            "Update Password",
            "Update User Profile",
            "Delete User",
        ],
    ),
    ("user.password_changed", &["Update Password"]),
    (
        "user.license_assigned",
        &["Update License", "Import User", "Restore User"],
    ),
    ("user.license_released", &["Update License", "Delete User"]),
    ("user.customers_assigned", &["Update User Permissions"]),
    (
        "user.notification_preferences_changed",
        &["Update User Profile"],
    ),
    ("user.location_challenged", &["Open Session"]),
    (
        "user.trusted_location_added",
        &["Update Trusted Connection", "Open Session"],
    ),
    (
        "user.trusted_location_removed",
        &["Update Trusted Connection"],
    ),
    (
        "email.claimed",
        &[
            "Invite User",
            "Import User",
            "Accept Invitation",
            "Update User Profile",
            "Restore User",
        ],
    ),
    (
        "email.released",
        &["Update User Profile", "Delete User", "Purge User"],
    ),
    (
        "username.claimed",
        &[
            "Invite User",
            "Import User",
            "Accept Invitation",
            "Update User Profile",
            "Restore User",
        ],
    ),
    (
        "username.released",
        &["Update User Profile", "Delete User", "Purge User"],
    ),
    ("license.created", &["Update License"]),
    ("license.seats_changed", &["Update License"]),
    (
        "license.assigned",
        &["Update License", "Import User", "Restore User"],
    ),
    ("license.released", &["Update License", "Delete User"]),
    ("license.cancelled", &["Update License"]),
    ("license.server_attached", &["Update License"]),
    (
        "license.server_detached",
        &["Update License", "Decommission Server"],
    ),
    ("server.registered", &["Update Server"]),
    ("server.renamed", &["Update Server"]),
    ("server.location_updated", &["Update Server"]),
    ("server.notifications_updated", &["Update Server"]),
    ("server.partner_access_granted", &["Update Server"]),
    ("server.partner_access_revoked", &["Update Server"]),
    ("server.partner_access_extended", &["Update Server"]),
    ("server.partner_access_expired", &["Update Server"]),
    ("server.action_performed", &["Server Action"]),
    ("server.configuration_updated", &["Update Configuration"]),
    ("server.backup_made", &["Backup Machine Data"]),
    ("server.backup_restored", &["Backup Machine Data"]),
    (
        "server.license_changed",
        &["Update License", "Decommission Server"],
    ),
    ("server.decommissioned", &["Decommission Server"]),
    ("invitation.created", &["Invite User"]),
    ("invitation.resent", &["Invite User"]),
    ("invitation.revoked", &["Revoke Invitation"]),
    ("invitation.accepted", &["Accept Invitation"]),
    ("kit.published", &["Update Partner Kit"]),
    ("kit.updated", &["Update Partner Kit"]),
    ("kit.withdrawn", &["Update Partner Kit"]),
    ("quote.created", &["Update Quotes"]),
    ("quote.updated", &["Update Quotes"]),
    ("quote.sent", &["Update Quotes"]),
    ("quote.withdrawn", &["Update Quotes"]),
    ("quote.accepted", &["Update Quotes"]),
    ("quote.declined", &["Update Quotes"]),
    ("session.opened", &["Open Session"]),
    ("session.closed", &["Close Session"]),
    ("service_account.created", &["Update Service Accounts"]),
    ("service_account.changed", &["Update Service Accounts"]),
    ("service_account.deactivated", &["Update Service Accounts"]),
    ("service_account.key_issued", &["Update Service Accounts"]),
    ("service_account.key_revoked", &["Update Service Accounts"]),
    ("ticket.opened", &["Update Tickets"]),
    ("ticket.updated", &["Update Tickets"]),
    ("ticket.closed", &["Update Tickets"]),
    (
        "notification.queued",
        &[
            "Invite User",
            "Update Password",
            "Send Digest",
            "Update Quotes",
            "Open Session",
            "Force Logout",
            "Delete User",
            "Update Server",
        ],
    ),
];

/// The shape of `server.registered` at version 1, before the grant could
/// end (`partner_access` was a plain flag).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ServerRegisteredV1 {
    server_id: ServerId,
    account_id: AccountId,
    name: String,
    location: Option<String>,
    partner_access: bool,
}

/// The shape of `server.partner_access_granted` at version 1: no fields.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct PartnerAccessGrantedV1 {}

/// The schemas of shapes that are no longer current, by type and version.
fn old_schemas() -> Vec<(&'static str, u32, Value)> {
    vec![
        (
            "server.registered",
            1,
            schemars::schema_for!(ServerRegisteredV1).to_value(),
        ),
        (
            "server.partner_access_granted",
            1,
            schemars::schema_for!(PartnerAccessGrantedV1).to_value(),
        ),
    ]
}

/// Every variant of an internally tagged event enum as a schema of its
/// own, keyed by its `type` tag (which the payload does not hold).
fn variants<E: JsonSchema>() -> Vec<(String, Value)> {
    let root = schemars::schema_for!(E).to_value();
    let definitions = root.get("$defs").cloned();
    let Some(variants) = root.get("oneOf").and_then(Value::as_array) else {
        return Vec::new();
    };
    variants
        .iter()
        .filter_map(|variant| {
            let mut variant = variant.as_object()?.clone();
            let tag = variant
                .get_mut("properties")?
                .as_object_mut()?
                .remove("type")?;
            let event_type = tag
                .get("const")
                .or_else(|| tag.get("enum").and_then(|e| e.get(0)))?
                .as_str()?
                .to_owned();
            if let Some(Value::Array(required)) = variant.get_mut("required") {
                required.retain(|r| r != "type");
            }
            variant.insert(
                "$schema".into(),
                Value::String("https://json-schema.org/draft/2020-12/schema".into()),
            );
            variant.insert("title".into(), Value::String(event_type.clone()));
            if let Some(definitions) = &definitions {
                variant.insert("$defs".into(), definitions.clone());
            }
            Some((event_type, Value::Object(variant)))
        })
        .collect()
}

/// Every domain event type, in a stable order (by type).
pub fn catalog() -> Vec<EventTypeEntry> {
    let mut current: Vec<(String, Value)> = Vec::new();
    current.extend(variants::<AccountEvent>());
    current.extend(variants::<UserEvent>());
    current.extend(variants::<EmailEvent>());
    current.extend(variants::<UsernameEvent>());
    current.extend(variants::<LicenseEvent>());
    current.extend(variants::<ServerEvent>());
    current.extend(variants::<InvitationEvent>());
    current.extend(variants::<KitEvent>());
    current.extend(variants::<QuoteEvent>());
    current.extend(variants::<SessionEvent>());
    current.extend(variants::<TicketEvent>());
    current.extend(variants::<ServiceAccountEvent>());
    current.extend(variants::<NotificationEvent>());
    let old = old_schemas();
    let mut entries: Vec<EventTypeEntry> = current
        .into_iter()
        .map(|(event_type, schema)| {
            let version = current_version(&event_type);
            let mut schemas = Map::new();
            for (_, v, s) in old.iter().filter(|(t, ..)| *t == event_type) {
                schemas.insert(v.to_string(), s.clone());
            }
            schemas.insert(version.to_string(), schema);
            EventTypeEntry {
                action_types: action_types(&event_type).to_vec(),
                changes: STEPS
                    .iter()
                    .filter(|s| s.event_type == event_type)
                    .map(|s| VersionChange {
                        version: s.from + 1,
                        change: s.change,
                    })
                    .collect(),
                schema_version: version,
                schemas,
                event_type,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.event_type.cmp(&b.event_type));
    entries
}

/// The action types `event_type` is recorded under (none for a type this
/// catalog does not know).
pub fn action_types(event_type: &str) -> &'static [&'static str] {
    ACTION_TYPES
        .iter()
        .find(|(t, _)| *t == event_type)
        .map_or(&[], |(_, a)| a)
}

/// Whether `event_type` is one of the domain's.
pub fn knows(event_type: &str) -> bool {
    ACTION_TYPES.iter().any(|(t, _)| *t == event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_schema_per_version_and_action_types() {
        let entries = catalog();
        let types: Vec<&str> = entries.iter().map(|e| e.event_type.as_str()).collect();
        let listed: Vec<&str> = ACTION_TYPES.iter().map(|(t, _)| *t).collect();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort_unstable();
        assert_eq!(types, listed_sorted, "the enums and the action-type table");
        for entry in &entries {
            assert_eq!(
                entry.schemas.len() as u32,
                entry.schema_version,
                "{}",
                entry.event_type
            );
            assert!(!entry.action_types.is_empty(), "{}", entry.event_type);
            let current = &entry.schemas[&entry.schema_version.to_string()];
            assert!(current["properties"].get("type").is_none(), "{current}");
        }
        let registered = entries
            .iter()
            .find(|e| e.event_type == "server.registered")
            .expect("listed");
        assert_eq!(registered.schema_version, 2);
        assert_eq!(
            registered.schemas["1"]["properties"]["partner_access"]["type"],
            "boolean"
        );
        assert!(registered.schemas["2"]["properties"]["partner_access"].is_object());
    }
}
