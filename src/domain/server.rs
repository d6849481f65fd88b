//! Servers: registered in an organization, configured, acted on, backed up
//! — and reachable by the organization's partner only while the customer's
//! grant stands (given at setup or later, revocable).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, LicenseId, ServerId};
use crate::domain::license::{LicenseEvent, LicenseState};
use crate::domain::text::{self, Lines};
use crate::domain::DomainError;

/// Longest free-text field (location, action, configuration summary).
pub const MAX_TEXT: usize = 500;

/// A customer's grant of access to its partner: whether it stands, and
/// until when (`None`: until revoked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerGrant {
    pub granted: bool,
    pub until: Option<DateTime<Utc>>,
}

/// What happened to a server. `server.registered` and
/// `server.partner_access_granted` are at schema version 2 (the grant may
/// end; see `upcast.rs`), the others at 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ServerEvent {
    #[serde(rename = "server.registered")]
    Registered {
        server_id: ServerId,
        account_id: AccountId,
        name: String,
        location: Option<String>,
        partner_access: PartnerGrant,
    },
    #[serde(rename = "server.renamed")]
    Renamed { name: String },
    #[serde(rename = "server.location_updated")]
    LocationUpdated { location: Option<String> },
    #[serde(rename = "server.notifications_updated")]
    NotificationsUpdated { enabled: bool },
    #[serde(rename = "server.partner_access_granted")]
    PartnerAccessGranted { until: Option<DateTime<Utc>> },
    #[serde(rename = "server.partner_access_revoked")]
    PartnerAccessRevoked,
    /// The end of a grant moved (later, earlier, or away: `None`).
    #[serde(rename = "server.partner_access_extended")]
    PartnerAccessExtended { until: Option<DateTime<Utc>> },
    /// A grant's end passed (recorded by the service's sweep; the grant no
    /// longer stood from `ended_at` on, whenever this was appended).
    #[serde(rename = "server.partner_access_expired")]
    PartnerAccessExpired { ended_at: DateTime<Utc> },
    /// A server action (control center opened, files uploaded, …).
    #[serde(rename = "server.action_performed")]
    ActionPerformed { action: String },
    #[serde(rename = "server.configuration_updated")]
    ConfigurationUpdated { summary: String },
    #[serde(rename = "server.backup_made")]
    BackupMade { backup_id: String },
    #[serde(rename = "server.backup_restored")]
    BackupRestored { backup_id: String },
    /// The license the server runs under changed (`null`: none).
    #[serde(rename = "server.license_changed")]
    LicenseChanged { license_id: Option<LicenseId> },
    /// The product service was removed: the server stays in the log and
    /// its history, and every later command on it is refused.
    #[serde(rename = "server.decommissioned")]
    Decommissioned,
}

impl ServerEvent {
    pub const TYPES: [&'static str; 14] = [
        "server.registered",
        "server.renamed",
        "server.location_updated",
        "server.notifications_updated",
        "server.partner_access_granted",
        "server.partner_access_revoked",
        "server.partner_access_extended",
        "server.partner_access_expired",
        "server.action_performed",
        "server.configuration_updated",
        "server.backup_made",
        "server.backup_restored",
        "server.license_changed",
        "server.decommissioned",
    ];
}

/// A server as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerState {
    pub server_id: Option<ServerId>,
    pub account_id: Option<AccountId>,
    pub name: String,
    pub location: Option<String>,
    pub notifications: bool,
    pub partner_access: bool,
    /// When the grant ends (`None`: until revoked, or no grant).
    pub partner_access_until: Option<DateTime<Utc>>,
    pub backups: Vec<String>,
    /// The license it runs under.
    pub license: Option<LicenseId>,
    /// Removed (`server.decommissioned`): nothing more happens to it.
    pub decommissioned: bool,
}

impl ServerState {
    pub fn exists(&self) -> bool {
        self.server_id.is_some()
    }

    /// Whether the customer's grant to its partner stands at `now`: given,
    /// not revoked, and its end (if any) still ahead.
    pub fn grant_stands(&self, now: DateTime<Utc>) -> bool {
        grant_stands(self.partner_access, self.partner_access_until, now)
    }

    /// The grant as reads show it at `now`: `granted`, `expired` (its end
    /// passed, recorded or not yet) or `none`.
    pub fn grant_state(&self, now: DateTime<Utc>) -> &'static str {
        grant_state(self.partner_access, self.partner_access_until, now)
    }
}

/// Whether a grant `given` (not revoked) with the end `until` stands at
/// `now` — the one rule, for a state and for a read model's row alike.
pub fn grant_stands(given: bool, until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    given && until.is_none_or(|end| end > now)
}

/// Such a grant as reads show it at `now`: `granted`, `expired` (its end
/// passed, recorded or not yet) or `none`.
pub fn grant_state(given: bool, until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match (grant_stands(given, until, now), until) {
        (true, _) => "granted",
        (false, Some(_)) => "expired",
        (false, None) => "none",
    }
}

pub fn evolve(mut state: ServerState, event: &ServerEvent) -> ServerState {
    match event {
        ServerEvent::Registered {
            server_id,
            account_id,
            name,
            location,
            partner_access,
        } => {
            state.server_id = Some(*server_id);
            state.account_id = Some(*account_id);
            state.name = name.clone();
            state.location = location.clone();
            state.partner_access = partner_access.granted;
            state.partner_access_until = partner_access.until;
            state.notifications = true;
        }
        ServerEvent::Renamed { name } => state.name = name.clone(),
        ServerEvent::LocationUpdated { location } => state.location = location.clone(),
        ServerEvent::NotificationsUpdated { enabled } => state.notifications = *enabled,
        ServerEvent::PartnerAccessGranted { until } => {
            state.partner_access = true;
            state.partner_access_until = *until;
        }
        ServerEvent::PartnerAccessRevoked => {
            state.partner_access = false;
            state.partner_access_until = None;
        }
        ServerEvent::PartnerAccessExtended { until } => state.partner_access_until = *until,
        // The end stays: the grant shows as expired, not as never given.
        ServerEvent::PartnerAccessExpired { .. } => state.partner_access = false,
        ServerEvent::BackupMade { backup_id } => state.backups.push(backup_id.clone()),
        ServerEvent::LicenseChanged { license_id } => state.license = *license_id,
        ServerEvent::Decommissioned => state.decommissioned = true,
        ServerEvent::ActionPerformed { .. }
        | ServerEvent::ConfigurationUpdated { .. }
        | ServerEvent::BackupRestored { .. } => {}
    }
    state
}

/// One line of free text.
fn text(value: &str) -> Result<String, DomainError> {
    text::parse(value, MAX_TEXT, Lines::One, DomainError::InvalidText)
}

/// A server commands may change: registered, and not decommissioned.
fn existing(state: &ServerState) -> Result<(), DomainError> {
    match (state.exists(), state.decommissioned) {
        (false, _) => Err(DomainError::NotFound),
        (true, true) => Err(DomainError::ServerDecommissioned),
        (true, false) => Ok(()),
    }
}

pub fn decide_register(
    state: &ServerState,
    server_id: ServerId,
    account_id: AccountId,
    name: &str,
    location: Option<&str>,
    partner_access: bool,
) -> Result<Vec<ServerEvent>, DomainError> {
    if state.exists() {
        return Err(DomainError::AlreadyExists);
    }
    Ok(vec![ServerEvent::Registered {
        server_id,
        account_id,
        name: crate::domain::account::parse_name(name)?,
        location: location.map(text).transpose()?,
        partner_access: PartnerGrant {
            granted: partner_access,
            until: None,
        },
    }])
}

/// Name, location and notification settings; only what changes is recorded.
pub fn decide_update(
    state: &ServerState,
    name: Option<&str>,
    location: Option<&str>,
    notifications: Option<bool>,
) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    let mut events = Vec::new();
    if let Some(name) = name.map(crate::domain::account::parse_name).transpose()? {
        if name != state.name {
            events.push(ServerEvent::Renamed { name });
        }
    }
    if let Some(location) = location.map(text).transpose()? {
        if Some(&location) != state.location.as_ref() {
            events.push(ServerEvent::LocationUpdated {
                location: Some(location),
            });
        }
    }
    if let Some(enabled) = notifications.filter(|e| *e != state.notifications) {
        events.push(ServerEvent::NotificationsUpdated { enabled });
    }
    if events.is_empty() {
        return Err(DomainError::NoChange);
    }
    Ok(events)
}

/// Grants partner access (until `until`, or until revoked), changes the
/// end of a grant that stands or has run out (an extension, or an end
/// taken away), or revokes it. An end lies in the future, and only a grant
/// has one.
pub fn decide_partner_access(
    state: &ServerState,
    granted: bool,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    if let Some(end) = until {
        if !granted || end <= now {
            return Err(DomainError::InvalidGrantEnd);
        }
    }
    match (granted, state.partner_access) {
        (true, false) => Ok(vec![ServerEvent::PartnerAccessGranted { until }]),
        (true, true) if until != state.partner_access_until => {
            Ok(vec![ServerEvent::PartnerAccessExtended { until }])
        }
        (false, true) => Ok(vec![ServerEvent::PartnerAccessRevoked]),
        _ => Err(DomainError::NoChange),
    }
}

/// Records that a grant's end has passed (the service's sweep): from then
/// on the state itself says what the clock already did.
pub fn decide_expiry(
    state: &ServerState,
    now: DateTime<Utc>,
) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    match state.partner_access_until {
        Some(end) if state.partner_access && end <= now => {
            Ok(vec![ServerEvent::PartnerAccessExpired { ended_at: end }])
        }
        _ => Err(DomainError::NoChange),
    }
}

pub fn decide_action(state: &ServerState, action: &str) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    Ok(vec![ServerEvent::ActionPerformed {
        action: text(action)?,
    }])
}

pub fn decide_configuration(
    state: &ServerState,
    summary: &str,
) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    Ok(vec![ServerEvent::ConfigurationUpdated {
        summary: text::parse(summary, MAX_TEXT, Lines::Many, DomainError::InvalidText)?,
    }])
}

pub fn decide_backup(
    state: &ServerState,
    backup_id: String,
) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    Ok(vec![ServerEvent::BackupMade { backup_id }])
}

pub fn decide_restore_backup(
    state: &ServerState,
    backup_id: &str,
) -> Result<Vec<ServerEvent>, DomainError> {
    existing(state)?;
    if !state.backups.iter().any(|b| b == backup_id) {
        return Err(DomainError::NotFound);
    }
    Ok(vec![ServerEvent::BackupRestored {
        backup_id: backup_id.to_owned(),
    }])
}

/// Puts the server under `license` (its id and state) or under none. The
/// license must be one of the server's organization — an unknown id and
/// another tenant's license answer alike, so nothing leaks — and not
/// cancelled.
pub fn decide_license(
    state: &ServerState,
    license: Option<(LicenseId, &LicenseState)>,
) -> Result<LicenseChange, DomainError> {
    existing(state)?;
    let server_id = state.server_id.ok_or(DomainError::NotFound)?;
    let license_id = match license {
        None => None,
        Some((id, license)) => {
            if license.license_id != Some(id) || license.account_id != state.account_id {
                return Err(DomainError::LicenseNotInOrganization);
            }
            if license.cancelled {
                return Err(DomainError::LicenseCancelled);
            }
            Some(id)
        }
    };
    if license_id == state.license {
        return Err(DomainError::NoChange);
    }
    let detach = state
        .license
        .map(|old| (old, LicenseEvent::ServerDetached { server_id }));
    let attach = license_id.map(|new| (new, LicenseEvent::ServerAttached { server_id }));
    Ok(LicenseChange {
        server: vec![ServerEvent::LicenseChanged { license_id }],
        licenses: detach.into_iter().chain(attach).collect(),
    })
}

/// Removes the server: its license, if any, is detached first (the
/// license's stream records it too), then the server is decommissioned.
pub fn decide_decommission(state: &ServerState) -> Result<LicenseChange, DomainError> {
    existing(state)?;
    let mut change = match state.license {
        Some(_) => decide_license(state, None)?,
        None => LicenseChange {
            server: Vec::new(),
            licenses: Vec::new(),
        },
    };
    change.server.push(ServerEvent::Decommissioned);
    Ok(change)
}

/// A server's move to another license (or to none): its own event, and
/// one on each license concerned — the old one's detachment, the new one's
/// attachment — appended at the versions decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseChange {
    pub server: Vec<ServerEvent>,
    pub licenses: Vec<(LicenseId, LicenseEvent)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_server_is_registered_updated_and_backed_up() {
        let state = decide_register(
            &ServerState::default(),
            ServerId(Uuid::nil()),
            AccountId(Uuid::nil()),
            "wall-1",
            Some("Lobby"),
            false,
        )
        .unwrap()
        .iter()
        .fold(ServerState::default(), evolve);
        assert!(!state.partner_access);
        let events = decide_update(&state, Some("wall-1"), Some("Hall"), Some(false)).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            decide_update(&state, Some("wall-1"), Some("Lobby"), None),
            Err(DomainError::NoChange)
        );
        let state = decide_partner_access(&state, true, None, Utc::now())
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert!(state.partner_access);
        assert_eq!(
            decide_restore_backup(&state, "b1"),
            Err(DomainError::NotFound)
        );
        let state = decide_backup(&state, "b1".into())
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert!(decide_restore_backup(&state, "b1").is_ok());
        assert_eq!(decide_action(&state, "  "), Err(DomainError::InvalidText));
    }

    #[test]
    fn a_grant_with_an_end_stops_standing_there_and_is_extended_or_revoked() {
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        let state = decide_register(
            &ServerState::default(),
            ServerId(Uuid::nil()),
            AccountId(Uuid::nil()),
            "wall",
            None,
            false,
        )
        .unwrap()
        .iter()
        .fold(ServerState::default(), evolve);
        assert_eq!(state.grant_state(now), "none");
        for (granted, until) in [
            (true, Some(now - day)),
            (true, Some(now)),
            (false, Some(now + day)),
        ] {
            assert_eq!(
                decide_partner_access(&state, granted, until, now),
                Err(DomainError::InvalidGrantEnd)
            );
        }
        let granted = decide_partner_access(&state, true, Some(now + day), now).unwrap();
        assert_eq!(
            granted,
            vec![ServerEvent::PartnerAccessGranted {
                until: Some(now + day)
            }]
        );
        let state = granted.iter().fold(state, evolve);
        assert!(state.grant_stands(now));
        assert!(!state.grant_stands(now + day), "not at its end");
        assert_eq!(state.grant_state(now + day), "expired");
        assert_eq!(decide_expiry(&state, now), Err(DomainError::NoChange));
        // Extending is an event of its own; the same end is no change.
        assert_eq!(
            decide_partner_access(&state, true, Some(now + day), now),
            Err(DomainError::NoChange)
        );
        let extended = decide_partner_access(&state, true, Some(now + day * 2), now).unwrap();
        assert_eq!(
            extended,
            vec![ServerEvent::PartnerAccessExtended {
                until: Some(now + day * 2)
            }]
        );
        let state = extended.iter().fold(state, evolve);
        assert!(state.grant_stands(now + day));
        // At its end the sweep records the expiry; the grant shows expired.
        let expired = decide_expiry(&state, now + day * 2).unwrap();
        let state = expired.iter().fold(state, evolve);
        assert!(!state.partner_access);
        assert_eq!(state.grant_state(now), "expired");
        // Granting again starts a new grant; revoking clears the end.
        let state = decide_partner_access(&state, true, None, now)
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(state.grant_state(now + day * 9), "granted");
        let state = decide_partner_access(&state, false, None, now)
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(state.grant_state(now), "none");
    }

    #[test]
    fn a_server_runs_under_a_live_license_of_its_organization() {
        let org = AccountId(Uuid::from_u128(1));
        let state = decide_register(
            &ServerState::default(),
            ServerId(Uuid::nil()),
            org,
            "wall-1",
            None,
            false,
        )
        .unwrap()
        .iter()
        .fold(ServerState::default(), evolve);
        let id = LicenseId(Uuid::from_u128(7));
        let mut license = LicenseState {
            license_id: Some(id),
            account_id: Some(org),
            ..LicenseState::default()
        };
        assert_eq!(decide_license(&state, None), Err(DomainError::NoChange));
        let unknown = LicenseState::default();
        assert_eq!(
            decide_license(&state, Some((id, &unknown))),
            Err(DomainError::LicenseNotInOrganization)
        );
        let elsewhere = LicenseState {
            account_id: Some(AccountId(Uuid::from_u128(2))),
            ..license.clone()
        };
        assert_eq!(
            decide_license(&state, Some((id, &elsewhere))),
            Err(DomainError::LicenseNotInOrganization)
        );
        let change = decide_license(&state, Some((id, &license))).unwrap();
        let server_id = ServerId(Uuid::nil());
        assert_eq!(
            change.licenses,
            vec![(id, LicenseEvent::ServerAttached { server_id })]
        );
        let state = change.server.iter().fold(state, evolve);
        assert_eq!(state.license, Some(id));
        assert_eq!(
            decide_license(&state, Some((id, &license))),
            Err(DomainError::NoChange)
        );
        license.cancelled = true;
        let other = LicenseId(Uuid::from_u128(8));
        license.license_id = Some(other);
        assert_eq!(
            decide_license(&state, Some((other, &license))),
            Err(DomainError::LicenseCancelled)
        );
        // Moving to another license detaches from the old, attaches to the new.
        license.cancelled = false;
        let moved = decide_license(&state, Some((other, &license))).unwrap();
        assert_eq!(
            moved.licenses,
            vec![
                (id, LicenseEvent::ServerDetached { server_id }),
                (other, LicenseEvent::ServerAttached { server_id })
            ]
        );
        let change = decide_license(&state, None).unwrap();
        assert_eq!(
            change.licenses,
            vec![(id, LicenseEvent::ServerDetached { server_id })]
        );
        let state = change.server.iter().fold(state, evolve);
        assert_eq!(state.license, None);
    }
}
