//! Account and user commands: create accounts and users, change roles and
//! profiles, delete, restore, purge, transfer ownership.

use chrono::{DateTime, Utc};

use crate::app::context::{ActivityType, Actor, CommandContext};
use std::collections::BTreeMap;

use crate::app::ledger::{
    account_id_of, append, decision_appends, decision_appends_with_licenses, display_email,
    username_appends, Authorized, Ledger, LedgerError,
};
use crate::app::notifications::{Notice, Recipient};
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, LicenseId, NotificationId, UserId};
use crate::domain::notification;
use crate::domain::permissions::{Action, Denied};
use crate::domain::role::{AccountKind, Role};
use crate::domain::user::{
    self, Decision, EmailClaim, Licenses, NewUser, Origin, UserEvent, UserState, UsernameClaim,
};
use crate::domain::username::Username;
use crate::domain::DomainError;
use crate::privacy::subject::Subject;
use crate::store::AppendOutcome;
use uuid::Uuid;

impl Ledger {
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
                    let authorized = self.authorize(context, action, &parent_state).await?;
                    // As for an invitation: the matrix says who may bring in
                    // tenants; the parent's kind, which tenants it may own.
                    account::check_parent(parent_state.live_kind()?, kind)?;
                    (authorized, Some(parent_id))
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
        self.create_user_with_username(context, account_id, new, None)
            .await
    }

    /// [`create_user`](Self::create_user) with a username, which must be
    /// free among live users (claimed in the same append).
    pub async fn create_user_with_username(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        new: &NewUser,
        username: Option<&Username>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::CreateUser, &account.state)
                .await?;
            let existing = self.load_user(new.user_id).await?;
            let claim = self.load_claim(&new.email).await?;
            let username_claim = match username {
                Some(username) => Some((username, self.load_username_claim(username).await?)),
                None => None,
            };
            let mut decision = user::decide_create_with_username(
                &existing.state,
                &account.state,
                &claim.state,
                new,
                username_claim.as_ref().map(|(u, c)| (*u, &c.state)),
            )?;
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
            let usernames = std::mem::take(&mut decision.username);
            let mut appends = decision_appends(
                decision,
                new.user_id,
                existing.version,
                account_id,
                account.version,
                &[(&new.email, claim.version)],
                &metadata,
            )?;
            let usernames_read: Vec<(&Username, u64)> = username_claim
                .iter()
                .map(|(u, c)| (*u, c.version))
                .collect();
            appends.extend(username_appends(usernames, &usernames_read, &metadata)?);
            Ok(appends)
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
            activity: ActivityType::UpdateUserGroups,
            claim: ClaimOf::None,
            username: UsernameOf::None,
            licenses: LicensesOf::None,
        };
        self.on_user(context, user_id, command, |target, account, _, _, actor| {
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
        .map(|(outcome, _)| outcome)
    }

    /// Edits a user's name and/or e-mail address.
    pub async fn update_profile(
        &self,
        context: &CommandContext,
        user_id: UserId,
        name: Option<&str>,
        email: Option<&Email>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.update_profile_with_username(context, user_id, name, email, None)
            .await
    }

    /// Edits a user's name, e-mail address and/or username (a new one must
    /// be free; the old one is released in the same append).
    pub async fn update_profile_with_username(
        &self,
        context: &CommandContext,
        user_id: UserId,
        name: Option<&str>,
        email: Option<&Email>,
        username: Option<&Username>,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: if context.actor == Some(user_id) {
                Action::UpdateOwnProfile
            } else {
                Action::UpdateUserProfile
            },
            activity: ActivityType::UpdateUserProfile,
            claim: email.map_or(ClaimOf::None, ClaimOf::Address),
            username: username.map_or(UsernameOf::None, UsernameOf::Name),
            licenses: LicensesOf::None,
        };
        self.on_user(
            context,
            user_id,
            command,
            |target, account, claims, _, actor| {
                let decision = user::decide_update_profile(
                    target,
                    account,
                    name,
                    email,
                    &claims.email,
                    username.map(|u| (u, &claims.username)),
                    actor,
                )?;
                Ok((
                    decision,
                    format!("Updated the profile of {}", display_email(target)),
                ))
            },
        )
        .await
        .map(|(outcome, _)| outcome)
    }

    /// Soft-deletes a user: sessions end, the address is freed, license
    /// seats are released.
    pub async fn delete_user(
        &self,
        context: &CommandContext,
        user_id: UserId,
    ) -> Result<AppendOutcome, LedgerError> {
        let command = UserCommand {
            action: Action::DeleteUser,
            activity: ActivityType::DeleteUser,
            claim: ClaimOf::None,
            username: UsernameOf::None,
            licenses: LicensesOf::Held,
        };
        self.on_user(
            context,
            user_id,
            command,
            |target, account, _, licenses, actor| {
                let decision = user::decide_delete(target, account, licenses, actor)?;
                Ok((decision, format!("Deleted user {}", display_email(target))))
            },
        )
        .await
        .map(|(outcome, _)| outcome)
    }

    /// Restores a deleted user within the retention period, with the role
    /// they had, if their address is still free, and assigns again the
    /// licenses they held where a seat is free; returns the licenses it
    /// could not assign again.
    pub async fn restore_user(
        &self,
        context: &CommandContext,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(AppendOutcome, Vec<LicenseId>), LedgerError> {
        self.restore_user_reporting(context, user_id, now)
            .await
            .map(|(outcome, report)| (outcome, report.licenses_not_restored))
    }

    /// [`restore_user`](Self::restore_user), also claiming the user's
    /// username again if it is free; reports the licenses and the username
    /// it could not bring back.
    pub async fn restore_user_reporting(
        &self,
        context: &CommandContext,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(AppendOutcome, NotRestored), LedgerError> {
        let command = UserCommand {
            action: Action::RestoreUser,
            activity: ActivityType::RestoreUser,
            claim: ClaimOf::Current,
            username: UsernameOf::Current,
            licenses: LicensesOf::HeldAtDeletion,
        };
        self.on_user(
            context,
            user_id,
            command,
            |target, account, claims, licenses, _| {
                let role = target.role.ok_or(DomainError::UserNotFound)?;
                let decision = user::decide_restore_with_username(
                    target,
                    account,
                    &claims.email,
                    &claims.username,
                    licenses,
                    role,
                    now,
                    self.retention,
                )?;
                Ok((
                    decision,
                    format!("Restored user {} with role {role}", display_email(target)),
                ))
            },
        )
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
            username: UsernameOf::None,
            licenses: LicensesOf::None,
        };
        self.on_user(context, user_id, command, |target, _, _, _, _| {
            let decision = user::decide_purge(target, now, self.retention)?;
            Ok((
                decision,
                format!("Purged user {user_id} after the retention period"),
            ))
        })
        .await
        .map(|(outcome, _)| outcome)
    }

    /// The shape every command on an existing user shares: load the user and
    /// its account (and an e-mail or username claim if the command needs one),
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
    ) -> Result<(AppendOutcome, NotRestored), LedgerError>
    where
        D: Fn(
            &UserState,
            &AccountState,
            &Claims,
            &Licenses,
            Option<UserId>,
        ) -> Result<(Decision, String), LedgerError>,
    {
        let (command, decide) = (&command, &decide);
        self.retry_with(|| async move {
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
            let license_ids: Vec<LicenseId> = match command.licenses {
                LicensesOf::None => vec![],
                LicensesOf::Held => target.state.licenses.iter().copied().collect(),
                LicensesOf::HeldAtDeletion => target.state.licenses_at_deletion.clone(),
            };
            let mut licenses = Licenses::new();
            let mut license_versions = BTreeMap::new();
            for id in license_ids {
                let loaded = self.load_license(id).await?;
                license_versions.insert(id, loaded.version);
                licenses.insert(id, loaded.state);
            }
            let username = match command.username {
                UsernameOf::None => None,
                UsernameOf::Name(username) => Some(username.clone()),
                UsernameOf::Current => target.state.username.clone(),
            };
            let username_claim = match &username {
                Some(username) => Some(self.load_username_claim(username).await?),
                None => None,
            };
            let claims = Claims {
                email: claim.as_ref().map(|c| c.state).unwrap_or_default(),
                username: username_claim.as_ref().map(|c| c.state).unwrap_or_default(),
            };
            let (mut decision, description) = decide(
                &target.state,
                &account.state,
                &claims,
                &licenses,
                authorized.user,
            )?;
            let not_restored = NotRestored {
                licenses_not_restored: std::mem::take(&mut decision.licenses_not_restored),
                username_not_restored: decision.username_not_restored.take(),
            };
            let usernames = std::mem::take(&mut decision.username);
            let account_id = account_id_of(&account.state)?;
            let mut metadata = authorized
                .metadata(context, account_id, command.activity, description)
                .with_target("user", user_id);
            // A purge destroys the keys first: if the append then fails, the
            // data is already unreadable and the retried purge finds no key.
            let erased = purged_subjects(user_id, &decision.user);
            if !erased.is_empty() {
                self.personal_data().erase(&erased).await?;
                metadata = metadata.names_nobody();
            }
            let claims_read: Vec<(&Email, u64)> = address
                .iter()
                .zip(claim.iter())
                .map(|(e, c)| (e, c.version))
                .collect();
            // A deleted user is told their access was revoked.
            let notice = match (&decision.user[..], &target.state.email) {
                (events, Some(email))
                    if events
                        .iter()
                        .any(|e| matches!(e, UserEvent::Deleted { .. })) =>
                {
                    Some(Notice::plain(
                        Recipient::user(user_id, email.clone()),
                        notification::access_revoked(&account.state.name),
                    ))
                }
                _ => None,
            };
            let mut appends = decision_appends_with_licenses(
                decision,
                user_id,
                target.version,
                account_id,
                account.version,
                &claims_read,
                &license_versions,
                &metadata,
            )?;
            let usernames_read: Vec<(&Username, u64)> = username
                .iter()
                .zip(username_claim.iter())
                .map(|(u, c)| (u, c.version))
                .collect();
            appends.extend(username_appends(usernames, &usernames_read, &metadata)?);
            if let Some(notice) = &notice {
                appends.push(notice.append(NotificationId(Uuid::now_v7()), &metadata)?);
            }
            Ok((appends, (not_restored, notice)))
        })
        .await
        .map(|(outcome, (not_restored, notice))| {
            if let Some(notice) = &notice {
                self.deliver(notice);
            }
            (outcome, not_restored)
        })
    }

    /// Renames an account (its admins, its partner's admins, the platform).
    pub async fn rename_account(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        name: &str,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::UpdateAccount, &account.state)
                .await?;
            let events = account::decide_rename(&account.state, name)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::UpdateOrganization,
                    format!("Renamed {} to {}", account.state.name, name.trim()),
                )
                .with_target("account", account_id);
            Ok(vec![append(
                account_id.stream(),
                account.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Deletes an organization or partner: its users can no longer sign in.
    pub async fn delete_account(
        &self,
        context: &CommandContext,
        account_id: AccountId,
    ) -> Result<AppendOutcome, LedgerError> {
        self.retry(|| async move {
            let account = self.load_account(account_id).await?;
            let authorized = self
                .authorize(context, Action::DeleteOrganization, &account.state)
                .await?;
            let events = account::decide_delete(&account.state)?;
            let metadata = authorized
                .metadata(
                    context,
                    account_id,
                    ActivityType::DeleteOrganization,
                    format!("Deleted {}", account.state.name),
                )
                .with_target("account", account_id);
            Ok(vec![append(
                account_id.stream(),
                account.version,
                &events,
                &metadata,
            )?])
        })
        .await
    }

    /// Sets the customers a partner's staff member works for (empty: all).
    pub async fn assign_customers(
        &self,
        context: &CommandContext,
        user_id: UserId,
        customers: &[AccountId],
    ) -> Result<AppendOutcome, LedgerError> {
        let target = self.load_user(user_id).await?.state;
        let partner = target.account_id.ok_or(DomainError::UserNotFound)?;
        for customer in customers {
            if !self
                .load_account(*customer)
                .await?
                .state
                .is_customer_of(partner)
            {
                return Err(DomainError::NotACustomer.into());
            }
        }
        let command = UserCommand {
            action: Action::AssignCustomers,
            activity: ActivityType::UpdateUserPermissions,
            claim: ClaimOf::None,
            username: UsernameOf::None,
            licenses: LicensesOf::None,
        };
        self.on_user(context, user_id, command, |target, account, _, _, actor| {
            let decision = user::decide_assign_customers(target, account, customers, actor)?;
            Ok((
                decision,
                format!(
                    "Assigned {} customers to {}",
                    customers.len(),
                    display_email(target)
                ),
            ))
        })
        .await
        .map(|(outcome, _)| outcome)
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

/// Which username claim a user command reads.
#[derive(Debug, Clone, Copy)]
enum UsernameOf<'a> {
    None,
    /// The claim of a new username.
    Name(&'a Username),
    /// The claim of the user's current username (restore).
    Current,
}

/// The claims a user command read (unclaimed where none was read).
#[derive(Debug, Clone, Copy, Default)]
struct Claims {
    email: EmailClaim,
    username: UsernameClaim,
}

/// What a restore could not bring back: licenses whose seats are taken or
/// that were cancelled, and the username if another user took it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotRestored {
    pub licenses_not_restored: Vec<LicenseId>,
    pub username_not_restored: Option<Username>,
}

/// What a command on an existing user is, for the permission check and the
/// activity log.
struct UserCommand<'a> {
    action: Action,
    activity: ActivityType,
    claim: ClaimOf<'a>,
    username: UsernameOf<'a>,
    licenses: LicensesOf,
}

/// Which licenses a user command reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LicensesOf {
    None,
    /// Those the user holds now (delete releases them).
    Held,
    /// Those the user held when deleted (restore assigns them again).
    HeldAtDeletion,
}

/// The subjects whose keys a purge destroys: the user's and the invitation
/// they signed up through.
fn purged_subjects(user_id: UserId, events: &[UserEvent]) -> Vec<Subject> {
    events
        .iter()
        .filter_map(|e| match e {
            UserEvent::Purged { invitation_id } => Some(
                std::iter::once(Subject::user(user_id))
                    .chain(invitation_id.map(Subject::invitation))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}
