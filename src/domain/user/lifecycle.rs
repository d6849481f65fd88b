//! A user's life: created (directly or through an invitation), its role,
//! profile and customers changed, deleted, restored within the retention
//! period, purged after it.

use chrono::{DateTime, Duration, Utc};

use std::collections::BTreeSet;

use super::aggregate::{Origin, UserEvent, UserState};
use super::claims::{EmailClaim, EmailEvent, UsernameClaim, UsernameEvent};
use super::decision::{Decision, Licenses};
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, InvitationId, LicenseId, UserId};
use crate::domain::license::{self, ReleaseReason};
use crate::domain::role::Role;
use crate::domain::username::Username;
use crate::domain::DomainError;

/// A new user's details, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_id: UserId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub origin: Origin,
    /// The invitation the user signed up through, if any (its invitee's
    /// data is erased with the user's).
    pub invitation: Option<InvitationId>,
}

/// Names of people: trimmed, 1 to 200 characters.
pub fn parse_person_name(name: &str) -> Result<String, DomainError> {
    account::parse_name(name)
}

pub fn decide_create(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    new: &NewUser,
) -> Result<Decision, DomainError> {
    decide_create_with_username(user, account, claim, new, None)
}

/// [`decide_create`] with a username, which must be free (`username`: it
/// and the state of its claim).
pub fn decide_create_with_username(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    new: &NewUser,
    username: Option<(&Username, &UsernameClaim)>,
) -> Result<Decision, DomainError> {
    if user.user_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    let kind = account.live_kind()?;
    if !new.role.exists_in(kind) {
        return Err(crate::domain::role::RoleError::NotInAccountKind {
            role: new.role,
            kind,
        }
        .into());
    }
    if claim.holder.is_some() {
        return Err(DomainError::EmailTaken);
    }
    if username.is_some_and(|(_, claim)| claim.holder.is_some()) {
        return Err(DomainError::UsernameTaken);
    }
    let account_id = account.account_id.ok_or(DomainError::AccountNotFound)?;
    Ok(Decision {
        user: vec![UserEvent::Created {
            user_id: new.user_id,
            account_id,
            email: new.email.clone(),
            name: parse_person_name(&new.name)?,
            role: new.role,
            origin: new.origin,
            invitation_id: new.invitation,
            username: username.map(|(u, _)| u.clone()),
        }],
        account: account::admin_change(account, new.user_id, false, new.role == Role::Admin, None)?,
        email: vec![(
            new.email.clone(),
            EmailEvent::Claimed {
                user_id: new.user_id,
            },
        )],
        username: username
            .map(|(u, _)| {
                (
                    u.clone(),
                    UsernameEvent::Claimed {
                        user_id: new.user_id,
                    },
                )
            })
            .into_iter()
            .collect(),
        ..Decision::default()
    })
}

pub fn decide_change_role(
    user: &UserState,
    account: &AccountState,
    to: Role,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    let (_, from) = user.live()?;
    let kind = account.live_kind()?;
    if !to.exists_in(kind) {
        return Err(crate::domain::role::RoleError::NotInAccountKind { role: to, kind }.into());
    }
    if from == to {
        return Err(DomainError::NoChange);
    }
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    Ok(Decision {
        user: vec![UserEvent::RoleChanged { from, to }],
        account: account::admin_change(
            account,
            user_id,
            from == Role::Admin,
            to == Role::Admin,
            actor,
        )?,
        email: vec![],
        ..Decision::default()
    })
}

/// Editing name, e-mail and/or username; a new address must be free
/// (`new_claim` is the claim of the new address), and so must a new
/// username (`username`: it and its claim). Only the owner edits the owner.
///
/// Changing one's own address (`actor` is the user) also ends every session.
pub fn decide_update_profile(
    user: &UserState,
    account: &AccountState,
    name: Option<&str>,
    email: Option<&Email>,
    new_claim: &EmailClaim,
    username: Option<(&Username, &UsernameClaim)>,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    account::check_owner_edit(account, user_id, actor)?;
    let by_self = actor == Some(user_id);
    let name = name
        .map(parse_person_name)
        .transpose()?
        .filter(|n| *n != user.name);
    // A new spelling of the same address (other letter case) is an update
    // but keeps the claim; another address moves the claim.
    let email = email
        .filter(|e| user.email.as_ref().map(Email::as_str) != Some(e.as_str()))
        .cloned();
    // Usernames are lowercased: the same one is no change.
    let username = username.filter(|(u, _)| user.username.as_ref() != Some(*u));
    if name.is_none() && email.is_none() && username.is_none() {
        return Err(DomainError::NoChange);
    }
    let mut claims = Vec::new();
    if let Some(new_email) = email.as_ref().filter(|e| user.email.as_ref() != Some(*e)) {
        if new_claim.holder.is_some_and(|h| h != user_id) {
            return Err(DomainError::EmailTaken);
        }
        if let Some(old) = &user.email {
            claims.push((old.clone(), EmailEvent::Released { user_id }));
        }
        claims.push((new_email.clone(), EmailEvent::Claimed { user_id }));
    }
    let mut username_claims = Vec::new();
    if let Some((new_username, claim)) = username {
        if claim.holder.is_some_and(|h| h != user_id) {
            return Err(DomainError::UsernameTaken);
        }
        if let Some(old) = &user.username {
            username_claims.push((old.clone(), UsernameEvent::Released { user_id }));
        }
        username_claims.push((new_username.clone(), UsernameEvent::Claimed { user_id }));
    }
    let revoke = by_self && email.is_some();
    let mut events = vec![UserEvent::ProfileUpdated {
        name,
        email,
        username: username.map(|(u, _)| u.clone()),
    }];
    if revoke {
        events.push(UserEvent::SessionsRevoked);
    }
    Ok(Decision {
        user: events,
        account: vec![],
        email: claims,
        username: username_claims,
        ..Decision::default()
    })
}

/// Which customers a partner's staff member works for. `customers` must all
/// be customers of the user's partner account (checked by the caller, who
/// can read them). Only the owner changes the owner's.
pub fn decide_assign_customers(
    user: &UserState,
    account: &AccountState,
    customers: &[AccountId],
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    account::check_owner_edit(account, user_id, actor)?;
    let wanted: BTreeSet<AccountId> = customers.iter().copied().collect();
    if wanted == user.assigned_customers {
        return Err(DomainError::NoChange);
    }
    Ok(Decision {
        user: vec![UserEvent::CustomersAssigned {
            customers: wanted.into_iter().collect(),
        }],
        ..Decision::default()
    })
}

/// Whether a partner's staff member may work for `customer`: assigned to
/// it, or assigned to none (then all of the partner's customers).
pub fn works_for(user: &UserState, customer: AccountId) -> bool {
    user.assigned_customers.is_empty() || user.assigned_customers.contains(&customer)
}

/// Soft delete. Releases the address (a restore claims it again if free)
/// and the seats of the user's licenses (`licenses`: their states).
pub fn decide_delete(
    user: &UserState,
    account: &AccountState,
    licenses: &Licenses,
    actor: Option<UserId>,
) -> Result<Decision, DomainError> {
    let (_, role) = user.live()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    let mut email = Vec::new();
    if let Some(address) = &user.email {
        email.push((address.clone(), EmailEvent::Released { user_id }));
    }
    let username = user
        .username
        .iter()
        .map(|u| (u.clone(), UsernameEvent::Released { user_id }))
        .collect();
    let held: Vec<LicenseId> = user.licenses.iter().copied().collect();
    let released = held
        .iter()
        .filter_map(|id| {
            let events =
                license::decide_release(licenses.get(id)?, &[user_id], ReleaseReason::UserDeleted);
            (!events.is_empty()).then_some((*id, events))
        })
        .collect();
    Ok(Decision {
        user: vec![UserEvent::Deleted {
            role,
            licenses: held,
        }],
        account: account::admin_change(account, user_id, role == Role::Admin, false, actor)?,
        email,
        username,
        licenses: released,
        licenses_not_restored: vec![],
        username_not_restored: None,
    })
}

/// Restore within the retention period, with the previous role, if the
/// address is still free; the licenses held at deletion are assigned again
/// where a seat is free, and the others are reported.
pub fn decide_restore(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    licenses: &Licenses,
    previous_role: Role,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Decision, DomainError> {
    decide_restore_with_username(
        user,
        account,
        claim,
        &UsernameClaim::default(),
        licenses,
        previous_role,
        now,
        retention,
    )
}

/// [`decide_restore`] that also claims the user's username again if it is
/// still free (`username_claim`: its claim); if another user took it, the
/// user comes back without one and the decision reports it.
#[allow(clippy::too_many_arguments)]
pub fn decide_restore_with_username(
    user: &UserState,
    account: &AccountState,
    claim: &EmailClaim,
    username_claim: &UsernameClaim,
    licenses: &Licenses,
    previous_role: Role,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Decision, DomainError> {
    let at = user.deleted_at()?;
    if now > at + retention {
        return Err(DomainError::RetentionExpired);
    }
    account.live_kind()?;
    let user_id = user.user_id.ok_or(DomainError::UserNotFound)?;
    if claim.holder.is_some_and(|h| h != user_id) {
        return Err(DomainError::EmailTaken);
    }
    let email = user
        .email
        .iter()
        .map(|e| (e.clone(), EmailEvent::Claimed { user_id }))
        .collect();
    let taken = username_claim.holder.is_some_and(|h| h != user_id);
    let (username, username_not_restored) = match &user.username {
        Some(u) if taken => (vec![], Some(u.clone())),
        Some(u) => (vec![(u.clone(), UsernameEvent::Claimed { user_id })], None),
        None => (vec![], None),
    };
    let mut events = vec![UserEvent::Restored {
        role: previous_role,
        without_username: username_not_restored.is_some(),
    }];
    let mut reassigned = Vec::new();
    let mut not_restored = Vec::new();
    for id in &user.licenses_at_deletion {
        match licenses
            .get(id)
            .map(|l| license::decide_assign(l, &[user_id]))
        {
            Some(Ok(assigned)) => {
                events.push(UserEvent::LicenseAssigned { license_id: *id });
                reassigned.push((*id, assigned));
            }
            _ => not_restored.push(*id),
        }
    }
    Ok(Decision {
        user: events,
        account: account::admin_change(
            account,
            user_id,
            false,
            previous_role == Role::Admin,
            None,
        )?,
        email,
        username,
        licenses: reassigned,
        licenses_not_restored: not_restored,
        username_not_restored,
    })
}

/// Purge once the retention period is over.
pub fn decide_purge(
    user: &UserState,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Decision, DomainError> {
    let at = user.deleted_at()?;
    if now <= at + retention {
        return Err(DomainError::RetentionNotExpired);
    }
    Ok(Decision {
        user: vec![UserEvent::Purged {
            invitation_id: user.invitation_id,
        }],
        ..Decision::default()
    })
}
