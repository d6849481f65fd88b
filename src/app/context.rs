//! Who is acting, from where, and why it was allowed: the metadata every
//! event carries (PRODUCT.md, "Every event records").

use serde::Serialize;
use uuid::Uuid;

use crate::domain::email::Email;
use crate::domain::ids::{AccountId, ApiKeyId, ServiceAccountId, UserId};
use crate::domain::permissions::Grant;
use crate::event::JsonObject;

/// The actor of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The service itself (bootstrap, retention purges).
    System,
    /// A signed-in user.
    User(UserId),
    /// A service account, through one of its API keys.
    Service(KeyUse),
}

/// A service account acting through one of its API keys: both go into the
/// metadata of what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse {
    pub service_account: ServiceAccountId,
    pub key: ApiKeyId,
}

/// Where a command comes from. The HTTP layer fills it from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandContext {
    /// The person acting (none: the system, or a service account).
    pub actor: Option<UserId>,
    /// The service account acting, and the key it used (then `actor` is
    /// none).
    pub service: Option<KeyUse>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl CommandContext {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn as_user(user: UserId) -> Self {
        Self {
            actor: Some(user),
            ..Self::default()
        }
    }

    /// A service account acting through `key`.
    pub fn as_service(key: KeyUse) -> Self {
        Self {
            service: Some(key),
            ..Self::default()
        }
    }

    pub fn actor(&self) -> Actor {
        match (self.service, self.actor) {
            (Some(key), _) => Actor::Service(key),
            (None, Some(user)) => Actor::User(user),
            (None, None) => Actor::System,
        }
    }
}

/// The activity-log action types (the Userful seed's, plus the ones our
/// actions need).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ActivityType {
    #[serde(rename = "Invite User")]
    InviteUser,
    /// A user created by a bulk CSV import.
    #[serde(rename = "Import User")]
    ImportUser,
    #[serde(rename = "Update User Profile")]
    UpdateUserProfile,
    /// Role changes (the Userful seed: "used to update user groups and
    /// change roles").
    #[serde(rename = "Update User Groups")]
    UpdateUserGroups,
    /// Customer assignments, admin rights and ownership (the Userful seed:
    /// "change user permissions").
    #[serde(rename = "Update User Permissions")]
    UpdateUserPermissions,
    #[serde(rename = "Update Organization")]
    UpdateOrganization,
    #[serde(rename = "Delete Organization")]
    DeleteOrganization,
    #[serde(rename = "Delete User")]
    DeleteUser,
    #[serde(rename = "Restore User")]
    RestoreUser,
    #[serde(rename = "Purge User")]
    PurgeUser,
    #[serde(rename = "Open Session")]
    OpenSession,
    #[serde(rename = "Close Session")]
    CloseSession,
    #[serde(rename = "Force Logout")]
    ForceLogout,
    #[serde(rename = "Update Password")]
    UpdatePassword,
    #[serde(rename = "Revoke Invitation")]
    RevokeInvitation,
    #[serde(rename = "Accept Invitation")]
    AcceptInvitation,
    #[serde(rename = "Update License")]
    UpdateLicense,
    #[serde(rename = "Server Action")]
    ServerAction,
    #[serde(rename = "Update Server")]
    UpdateServer,
    #[serde(rename = "Decommission Server")]
    DecommissionServer,
    #[serde(rename = "Update Configuration")]
    UpdateConfiguration,
    #[serde(rename = "Backup Machine Data")]
    BackupMachineData,
    #[serde(rename = "Update Tickets")]
    UpdateTickets,
    #[serde(rename = "Update Trusted Connection")]
    UpdateTrustedConnection,
    #[serde(rename = "Send Digest")]
    SendDigest,
    #[serde(rename = "Update Quotes")]
    UpdateQuotes,
    #[serde(rename = "Update Partner Kit")]
    UpdatePartnerKit,
    /// Service accounts and their API keys.
    #[serde(rename = "Update Service Accounts")]
    UpdateServiceAccounts,
}

/// The actor as recorded: id and e-mail *at that time*.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedActor {
    pub kind: &'static str,
    pub user_id: Option<UserId>,
    pub email: Option<String>,
    /// A service account's id, its name then, and the key it used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_id: Option<ServiceAccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<ApiKeyId>,
}

/// One target of a command.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
}

/// An event a command rests on, by its place in the log (a causation, a
/// grant): its position for reading, its id for matching an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub position: u64,
    pub event_id: Uuid,
}

impl EventRef {
    pub fn of(event: &crate::event::RecordedEvent) -> Self {
        Self {
            position: event.position,
            event_id: event.event_id,
        }
    }
}

/// What kind of event a grant rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantBasis {
    /// The actor's role was set (created, changed, restored).
    Role,
    /// The customers a partner's staff member works for were set.
    CustomerAssignment,
    /// The customer granted its partner access to the server.
    PartnerAccess,
}

/// One event the authorization rests on, by its place in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GrantEvent {
    pub basis: GrantBasis,
    pub position: u64,
    pub event_id: Uuid,
}

impl GrantEvent {
    pub fn new(basis: GrantBasis, at: EventRef) -> Self {
        Self {
            basis,
            position: at.position,
            event_id: at.event_id,
        }
    }
}

/// The authorization that allowed a command, as recorded: the matrix's
/// answer (role, action, relation) and the events in force that made it so,
/// so an auditor can answer "why was it allowed" from the log alone.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedGrant {
    #[serde(flatten)]
    pub grant: Grant,
    /// Absent for commands that rest on nothing but the matrix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<GrantEvent>,
}

/// The metadata of every event a command appends.
#[derive(Debug, Clone, Serialize)]
pub struct EventMetadata {
    /// One id per command: every event a command appends carries it, so
    /// the activity log shows the command once.
    pub command_id: Uuid,
    pub actor: RecordedActor,
    pub on_behalf_of: Option<AccountId>,
    pub account: AccountId,
    pub targets: Vec<Target>,
    pub action_type: ActivityType,
    pub description: String,
    /// Set when the description names no person, so it need not be sealed
    /// (see `crate::privacy`); absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub description_names_nobody: bool,
    pub authorization: Option<RecordedGrant>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Uuid,
    pub causation_id: Option<Uuid>,
}

impl EventMetadata {
    /// Builds the metadata for a command in `account`, by `actor_email` (the
    /// actor's address now), allowed by `grant`.
    pub fn new(
        context: &CommandContext,
        actor_email: Option<&Email>,
        actor_account: Option<AccountId>,
        account: AccountId,
        action_type: ActivityType,
        description: String,
        grant: Option<Grant>,
    ) -> Self {
        let actor = match context.actor() {
            Actor::System => RecordedActor {
                kind: "system",
                user_id: None,
                email: None,
                service_account_id: None,
                name: None,
                api_key_id: None,
            },
            Actor::User(id) => RecordedActor {
                kind: "user",
                user_id: Some(id),
                email: actor_email.map(|e| e.as_str().to_owned()),
                service_account_id: None,
                name: None,
                api_key_id: None,
            },
            Actor::Service(key) => RecordedActor {
                kind: "service_account",
                user_id: None,
                email: None,
                service_account_id: Some(key.service_account),
                name: None,
                api_key_id: Some(key.key),
            },
        };
        Self {
            command_id: Uuid::now_v7(),
            actor,
            on_behalf_of: actor_account.filter(|a| *a != account).map(|_| account),
            account,
            targets: Vec::new(),
            action_type,
            description,
            description_names_nobody: false,
            authorization: grant.map(|grant| RecordedGrant {
                grant,
                because: Vec::new(),
            }),
            ip: context.ip.clone(),
            user_agent: context.user_agent.clone(),
            request_id: context.request_id.clone(),
            correlation_id: context.correlation_id.unwrap_or_else(Uuid::now_v7),
            causation_id: context.causation_id,
        }
    }

    /// Records a service account's name as it is now.
    pub fn named(mut self, name: Option<&str>) -> Self {
        if self.actor.service_account_id.is_some() {
            self.actor.name = name.map(str::to_owned);
        }
        self
    }

    /// Records the events the authorization rests on (nothing for the
    /// system, which needs no grant).
    pub fn with_grant_events(mut self, events: &[GrantEvent]) -> Self {
        if let Some(recorded) = &mut self.authorization {
            recorded.because.extend_from_slice(events);
        }
        self
    }

    /// Records the event this command is a consequence of.
    pub fn caused_by(mut self, cause: Option<EventRef>) -> Self {
        if let Some(cause) = cause {
            self.causation_id = Some(cause.event_id);
        }
        self
    }

    /// Marks the description as naming no person (it stays in clear even
    /// when the command's targets are people).
    pub fn names_nobody(mut self) -> Self {
        self.description_names_nobody = true;
        self
    }

    pub fn with_target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.targets.push(Target {
            kind,
            id: id.to_string(),
        });
        self
    }

    pub fn to_json(&self) -> JsonObject {
        let value = serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}));
        JsonObject::from_value("metadata", &value).unwrap_or_else(|_| JsonObject::empty())
    }
}
