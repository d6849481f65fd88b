//! Account and user commands: authorize, load, decide, append, retry.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::app::codec::{decode, encode, CodecError};
use crate::app::context::{ActivityType, Actor, CommandContext, EventMetadata};
use crate::domain::account::{self, AccountEvent, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, UserId};
use crate::domain::permissions::{self, Action, Denied, Grant, Relation};
use crate::domain::role::{AccountKind, Role};
use crate::domain::user::{
    self, Decision, EmailClaim, EmailEvent, NewUser, Origin, UserEvent, UserState,
};
use crate::domain::DomainError;
use crate::event::{RecordedEvent, StreamId};
use crate::store::{AppendOutcome, ExpectedVersion, SharedStore, StoreError, StreamAppend};

/// How often a command is decided again after losing a race.
const MAX_ATTEMPTS: usize = 8;
/// Events read per page when loading a stream.
const STREAM_PAGE: usize = 1000;

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("the actor is not an active user")]
    Unauthenticated,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("the command lost {MAX_ATTEMPTS} races in a row; retry later")]
    Contention,
}

/// A state and the stream version it was read at.
struct Loaded<S> {
    state: S,
    version: u64,
}

/// The application service for accounts and users.
#[derive(Clone)]
pub struct Ledger {
    store: SharedStore,
    retention: Duration,
}

impl Ledger {
    pub fn new(store: SharedStore) -> Self {
        Self {
            store,
            retention: Duration::days(user::DEFAULT_RETENTION_DAYS),
        }
    }

    /// How long a deleted user can be restored.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    async fn read_stream(&self, stream: &StreamId) -> Result<Vec<RecordedEvent>, LedgerError> {
        let mut events = Vec::new();
        loop {
            let from = events.len() as u64 + 1;
            let page = self.store.read_stream(stream, from, STREAM_PAGE).await?;
            let done = page.len() < STREAM_PAGE;
            events.extend(page);
            if done {
                return Ok(events);
            }
        }
    }

    async fn load_account(&self, id: AccountId) -> Result<Loaded<AccountState>, LedgerError> {
        let events = self.read_stream(&id.stream()).await?;
        let mut state = AccountState::default();
        for event in &events {
            state = account::evolve(state, &decode::<AccountEvent>(event)?);
        }
        Ok(Loaded {
            state,
            version: events.len() as u64,
        })
    }

    async fn load_user(&self, id: UserId) -> Result<Loaded<UserState>, LedgerError> {
        let events = self.read_stream(&id.stream()).await?;
        let mut state = UserState::default();
        for event in &events {
            state = user::evolve(state, &decode::<UserEvent>(event)?, event.recorded_at);
        }
        Ok(Loaded {
            state,
            version: events.len() as u64,
        })
    }

    async fn load_claim(&self, email: &Email) -> Result<Loaded<EmailClaim>, LedgerError> {
        let events = self.read_stream(&email.claim_stream()).await?;
        let mut state = EmailClaim::default();
        for event in &events {
            state = user::evolve_claim(state, &decode::<EmailEvent>(event)?);
        }
        Ok(Loaded {
            state,
            version: events.len() as u64,
        })
    }

    /// The current state of a user (for reads until projections exist).
    pub async fn user(&self, id: UserId) -> Result<UserState, LedgerError> {
        Ok(self.load_user(id).await?.state)
    }

    /// The current state of an account.
    pub async fn account(&self, id: AccountId) -> Result<AccountState, LedgerError> {
        Ok(self.load_account(id).await?.state)
    }

    /// Checks the permission matrix for the actor against `target`; returns
    /// the grant (none for the system) and the actor's e-mail and account.
    async fn authorize(
        &self,
        context: &CommandContext,
        action: Action,
        target: &AccountState,
    ) -> Result<Authorized, LedgerError> {
        let Actor::User(actor_id) = context.actor() else {
            return Ok(Authorized::default());
        };
        let actor = self.load_user(actor_id).await?.state;
        let (Some(actor_account), Some(role), user::Status::Active) =
            (actor.account_id, actor.role, actor.status)
        else {
            return Err(LedgerError::Unauthenticated);
        };
        let relation = if target.account_id == Some(actor_account) {
            Relation::Own
        } else if target.is_customer_of(actor_account) {
            Relation::Customer { assigned: true }
        } else if self.load_account(actor_account).await?.state.kind == Some(AccountKind::Platform)
        {
            Relation::Platform
        } else {
            Relation::Unrelated
        };
        let grant = permissions::authorize(role, action, relation)?;
        Ok(Authorized {
            grant: Some(grant),
            email: actor.email,
            account: Some(actor_account),
            user: Some(actor_id),
        })
    }

    /// Decides and appends, deciding again whenever a stream moved between
    /// reading and appending.
    async fn retry<'a, F, Fut>(&'a self, mut attempt: F) -> Result<AppendOutcome, LedgerError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Vec<StreamAppend>, LedgerError>> + 'a,
    {
        for _ in 0..MAX_ATTEMPTS {
            let appends = attempt().await?;
            match self.store.append(appends).await {
                Ok(outcome) => return Ok(outcome),
                Err(StoreError::WrongExpectedVersion { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LedgerError::Contention)
    }

    /// Creates an account. The system may create any account (bootstrap);
    /// the platform's admins create partners and organizations, a partner's
    /// admins create organizations of their own.
    pub async fn create_account(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        kind: AccountKind,
        name: &str,
        parent: Option<AccountId>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let loaded = self.load_account(account_id).await?;
            let (authorized, parent) = match (context.actor(), parent) {
                (Actor::System, parent) => (Authorized::default(), parent),
                (Actor::User(_), Some(parent_id)) => {
                    let parent_state = self.load_account(parent_id).await?.state;
                    let action = match kind {
                        AccountKind::Partner => Action::InvitePartner,
                        _ => Action::CreateOrganization,
                    };
                    (
                        self.authorize(context, action, &parent_state).await?,
                        Some(parent_id),
                    )
                }
                (Actor::User(_), None) => return Err(Denied::Hidden.into()),
            };
            let events = account::decide_create(&loaded.state, account_id, kind, name, parent)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateOrganization,
                    format!("Created {kind:?} account {name}"),
                )
                .with_target("account", account_id);
            Ok(vec![append(
                account_id.stream(),
                loaded.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Creates a user directly (admins, bootstrap, import).
    pub async fn create_user(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        new: &NewUser,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::CreateUser, &account.state)
                .await?;
            let existing = self.load_user(new.user_id).await?;
            let claim = self.load_claim(&new.email).await?;
            let decision = user::decide_create(&existing.state, &account.state, &claim.state, new)?;
            let activity = if new.origin == Origin::Invitation {
                ActivityType::InviteUser
            } else {
                ActivityType::UpdateUserProfile
            };
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    activity,
                    format!("Created user {} with role {}", new.email, new.role),
                )
                .with_target("user", new.user_id);
            decision_appends(
                decision,
                new.user_id,
                existing.version,
                account_id,
                account.version,
                &[(&new.email, claim.version)],
                &metadata,
            )
        })
        .await
    }

    /// Changes a user's role; refused if the account would be left without
    /// an admin or the owner would be demoted by someone else.
    pub async fn change_role(
        &self,
        context: &CommandContext,
        user_id: UserId,
        role: Role,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: Action::ChangeUserRole,
            activity: ActivityType::UpdateUserPermissions,
            claim: ClaimOf::None,
        };
        self.on_user(context, user_id, command, |target, account, _, actor| {
            let decision = user::decide_change_role(target, account, role, actor)?;
            let from = target.role.map_or("none", Role::as_str);
            Ok((
                decision,
                format!(
                    "Changed role of {} from {from} to {role}",
                    display_email(target)
                ),
            ))
        })
        .await
    }

    /// Edits a user's name and/or e-mail address.
    pub async fn update_profile(
        &self,
        context: &CommandContext,
        user_id: UserId,
        name: Option<&str>,
        email: Option<&Email>,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: if context.actor == Some(user_id) {
                Action::UpdateOwnProfile
            } else {
                Action::UpdateUserProfile
            },
            activity: ActivityType::UpdateUserProfile,
            claim: email.map_or(ClaimOf::None, ClaimOf::Address),
        };
        self.on_user(context, user_id, command, |target, _, claim, _| {
            let decision = user::decide_update_profile(target, name, email, claim)?;
            Ok((
                decision,
                format!("Updated the profile of {}", display_email(target)),
            ))
        })
        .await
    }

    /// Soft-deletes a user.
    pub async fn delete_user(
        &self,
        context: &CommandContext,
        user_id: UserId,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: Action::DeleteUser,
            activity: ActivityType::DeleteUser,
            claim: ClaimOf::None,
        };
        self.on_user(context, user_id, command, |target, account, _, actor| {
            let decision = user::decide_delete(target, account, actor)?;
            Ok((decision, format!("Deleted user {}", display_email(target))))
        })
        .await
    }

    /// Restores a deleted user within the retention period, with the role
    /// they had, if their address is still free.
    pub async fn restore_user(
        &self,
        context: &CommandContext,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: Action::RestoreUser,
            activity: ActivityType::RestoreUser,
            claim: ClaimOf::Current,
        };
        self.on_user(context, user_id, command, |target, account, claim, _| {
            let role = target.role.ok_or(DomainError::UserNotFound)?;
            let decision = user::decide_restore(target, account, claim, role, now, self.retention)?;
            Ok((
                decision,
                format!("Restored user {} with role {role}", display_email(target)),
            ))
        })
        .await
    }

    /// Purges a user whose retention period is over (the system does this).
    pub async fn purge_user(
        &self,
        context: &CommandContext,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: Action::DeleteUser,
            activity: ActivityType::PurgeUser,
            claim: ClaimOf::None,
        };
        self.on_user(context, user_id, command, |target, _, _, _| {
            let decision = user::decide_purge(target, now, self.retention)?;
            Ok((
                decision,
                format!("Purged user {user_id} after the retention period"),
            ))
        })
        .await
    }

    /// The shape every command on an existing user shares: load the user and
    /// its account (and an e-mail claim if the command needs one),
    /// authorize, decide, append with the versions read, retry on a race.
    /// `decide` gets the user, the account, the claim (unclaimed if none was
    /// loaded) and the acting user, and returns the decision and the
    /// activity log's description.
    async fn on_user<D>(
        &self,
        context: &CommandContext,
        user_id: UserId,
        command: UserCommand<'_>,
        decide: D,
    ) -> Result<AppendOutcome, LedgerError>
    where
        D: Fn(
            &UserState,
            &AccountState,
            &EmailClaim,
            Option<UserId>,
        ) -> Result<(Decision, String), LedgerError>,
    {
        let (command, decide) = (&command, &decide);
        self.retry(|| async move {
            let (target, account) = self.load_user_and_account(user_id).await?;
            let authorized = self
                .authorize(context, command.action, &account.state)
                .await?;
            let address = match command.claim {
                ClaimOf::None => None,
                ClaimOf::Address(email) => Some(email.clone()),
                ClaimOf::Current => target.state.email.clone(),
            };
            let claim = match &address {
                Some(email) => Some(self.load_claim(email).await?),
                None => None,
            };
            let unclaimed = EmailClaim::default();
            let claim_state = claim.as_ref().map_or(&unclaimed, |c| &c.state);
            let (decision, description) =
                decide(&target.state, &account.state, claim_state, authorized.user)?;
            let account_id = account_id_of(&account.state)?;
            let metadata = authorized
                .metadata(context, account_id, command.activity, description)
                .with_target("user", user_id);
            let claims_read: Vec<(&Email, u64)> = address
                .iter()
                .zip(claim.iter())
                .map(|(e, c)| (e, c.version))
                .collect();
            decision_appends(
                decision,
                user_id,
                target.version,
                account_id,
                account.version,
                &claims_read,
                &metadata,
            )
        })
        .await
    }

    /// Moves ownership of the actor's account to another active admin.
    pub async fn transfer_ownership(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        to: UserId,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::UpdateAccount, &account.state)
                .await?;
            let actor = authorized.user.ok_or(DomainError::OnlyOwnerTransfers)?;
            let events = account::decide_transfer_ownership(&account.state, actor, to)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateUserPermissions,
                    format!(
                        "Transferred ownership of {} to user {to}",
                        account.state.name
                    ),
                )
                .with_target("account", account_id)
                .with_target("user", to);
            Ok(vec![append(
                account_id.stream(),
                account.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    async fn load_user_and_account(
        &self,
        user_id: UserId,
    ) -> Result<(Loaded<UserState>, Loaded<AccountState>), LedgerError> {
        let target = self.load_user(user_id).await?;
        let account_id = target.state.account_id.ok_or(DomainError::UserNotFound)?;
        let account = self.load_account(account_id).await?;
        Ok((target, account))
    }
}

/// Which e-mail claim a user command reads.
#[derive(Debug, Clone, Copy)]
enum ClaimOf<'a> {
    None,
    /// The claim of a new address.
    Address(&'a Email),
    /// The claim of the user's current address.
    Current,
}

/// What a command on an existing user is, for the permission check and the
/// activity log.
struct UserCommand<'a> {
    action: Action,
    activity: ActivityType,
    claim: ClaimOf<'a>,
}

/// What the permission check established about the actor.
#[derive(Debug, Clone, Default)]
struct Authorized {
    grant: Option<Grant>,
    email: Option<Email>,
    account: Option<AccountId>,
    user: Option<UserId>,
}

impl Authorized {
    fn metadata(
        &self,
        context: &CommandContext,
        account: AccountId,
        action: ActivityType,
        description: String,
    ) -> EventMetadata {
        EventMetadata::new(
            context,
            self.email.as_ref(),
            self.account,
            account,
            action,
            description,
            self.grant,
        )
    }
}

fn account_id_of(state: &AccountState) -> Result<AccountId, DomainError> {
    state.account_id.ok_or(DomainError::AccountNotFound)
}

fn display_email(state: &UserState) -> String {
    state
        .email
        .as_ref()
        .map_or_else(|| "an erased user".to_owned(), |e| e.to_string())
}

fn append<E: serde::Serialize>(
    stream: StreamId,
    version: u64,
    events: &[E],
    metadata: &EventMetadata,
) -> Result<StreamAppend, LedgerError> {
    let metadata = metadata.to_json();
    let events = events
        .iter()
        .map(|e| encode(e, &metadata))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StreamAppend::new(
        stream,
        ExpectedVersion::Exact(version),
        events,
    ))
}

/// The appends of a user decision: the user's stream, the account's (if
/// admin rights changed) and the e-mail claims. Claims are expected at the
/// versions they were read at; releasing an address the user holds needs no
/// expectation (nobody else can claim it until it is released).
fn decision_appends(
    decision: Decision,
    user_id: UserId,
    user_version: u64,
    account_id: AccountId,
    account_version: u64,
    claims_read: &[(&Email, u64)],
    metadata: &EventMetadata,
) -> Result<Vec<StreamAppend>, LedgerError> {
    let mut appends = vec![append(
        user_id.stream(),
        user_version,
        &decision.user,
        metadata,
    )?];
    if !decision.account.is_empty() {
        appends.push(append(
            account_id.stream(),
            account_version,
            &decision.account,
            metadata,
        )?);
    }
    let mut by_stream: BTreeMap<StreamId, (Option<u64>, Vec<EmailEvent>)> = BTreeMap::new();
    for (email, event) in decision.email {
        let read = claims_read
            .iter()
            .find(|(e, _)| **e == email)
            .map(|(_, v)| *v);
        by_stream
            .entry(email.claim_stream())
            .or_insert((read, Vec::new()))
            .1
            .push(event);
    }
    for (stream, (version, events)) in by_stream {
        let mut claim = append(stream, version.unwrap_or(0), &events, metadata)?;
        if version.is_none() {
            claim.expected = ExpectedVersion::Any;
        }
        appends.push(claim);
    }
    Ok(appends)
}
