//! Who is acting, from where, and why it was allowed: the metadata every
//! event carries (PRODUCT.md, "Every event records").

use serde::Serialize;
use uuid::Uuid;

use crate::domain::email::Email;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::permissions::Grant;
use crate::event::JsonObject;

/// The actor of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The service itself (bootstrap, retention purges).
    System,
    /// A signed-in user.
    User(UserId),
}

/// Where a command comes from. The HTTP layer fills it from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandContext {
    pub actor: Option<UserId>,
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

    pub fn actor(&self) -> Actor {
        self.actor.map_or(Actor::System, Actor::User)
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
}

/// The actor as recorded: id and e-mail *at that time*.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedActor {
    pub kind: &'static str,
    pub user_id: Option<UserId>,
    pub email: Option<String>,
}

/// One target of a command.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
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
    pub authorization: Option<Grant>,
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
            },
            Actor::User(id) => RecordedActor {
                kind: "user",
                user_id: Some(id),
                email: actor_email.map(|e| e.as_str().to_owned()),
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
            authorization: grant,
            ip: context.ip.clone(),
            user_agent: context.user_agent.clone(),
            request_id: context.request_id.clone(),
            correlation_id: context.correlation_id.unwrap_or_else(Uuid::now_v7),
            causation_id: context.causation_id,
        }
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
