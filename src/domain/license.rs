//! Licenses: a subscription with a seat count in an organization, assigned
//! to users.
//!
//! The license's stream guards "seats are never over-assigned": every
//! assignment appends to it with the version it was decided on, so two
//! admins filling the last seat at once cannot both succeed. Each
//! assignment also appends to the user's stream, so a user knows their
//! licenses (deleting a user releases them; restoring re-assigns those
//! whose seats are still free).
//!
//! Servers put under a license are recorded here too (`server_attached` /
//! `server_detached`, beside the server's own `license_changed`): the
//! license's history shows what ran under it, and an attachment and a
//! cancellation append to the same stream, so they cannot both win a race.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, LicenseId, ServerId, UserId};
use crate::domain::DomainError;

/// Why seats were released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// An admin revoked the assignment.
    Revoked,
    /// The user was deleted.
    UserDeleted,
    /// The license was cancelled.
    LicenseCancelled,
}

/// What happened to a license; schema version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum LicenseEvent {
    #[serde(rename = "license.created")]
    Created {
        license_id: LicenseId,
        account_id: AccountId,
        product: String,
        seats: u32,
    },
    #[serde(rename = "license.seats_changed")]
    SeatsChanged { from: u32, to: u32 },
    #[serde(rename = "license.assigned")]
    Assigned { user_ids: Vec<UserId> },
    #[serde(rename = "license.released")]
    Released {
        user_ids: Vec<UserId>,
        reason: ReleaseReason,
    },
    #[serde(rename = "license.cancelled")]
    Cancelled,
    /// A server of the organization now runs under this license.
    #[serde(rename = "license.server_attached")]
    ServerAttached { server_id: ServerId },
    /// A server no longer runs under it (moved to another, or to none).
    #[serde(rename = "license.server_detached")]
    ServerDetached { server_id: ServerId },
}

impl LicenseEvent {
    pub const TYPES: [&'static str; 7] = [
        "license.created",
        "license.seats_changed",
        "license.assigned",
        "license.released",
        "license.cancelled",
        "license.server_attached",
        "license.server_detached",
    ];
}

/// A license as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LicenseState {
    pub license_id: Option<LicenseId>,
    pub account_id: Option<AccountId>,
    pub product: String,
    pub seats: u32,
    pub assigned: BTreeSet<UserId>,
    pub cancelled: bool,
    /// The servers running under it.
    pub servers: BTreeSet<ServerId>,
}

impl LicenseState {
    pub fn free_seats(&self) -> u32 {
        self.seats
            .saturating_sub(u32::try_from(self.assigned.len()).unwrap_or(u32::MAX))
    }

    fn live(&self) -> Result<(), DomainError> {
        match (self.license_id, self.cancelled) {
            (Some(_), false) => Ok(()),
            (Some(_), true) => Err(DomainError::LicenseCancelled),
            (None, _) => Err(DomainError::NotFound),
        }
    }
}

pub fn evolve(mut state: LicenseState, event: &LicenseEvent) -> LicenseState {
    match event {
        LicenseEvent::Created {
            license_id,
            account_id,
            product,
            seats,
        } => {
            state.license_id = Some(*license_id);
            state.account_id = Some(*account_id);
            state.product = product.clone();
            state.seats = *seats;
        }
        LicenseEvent::SeatsChanged { to, .. } => state.seats = *to,
        LicenseEvent::Assigned { user_ids } => state.assigned.extend(user_ids.iter().copied()),
        LicenseEvent::Released { user_ids, .. } => {
            for user in user_ids {
                state.assigned.remove(user);
            }
        }
        LicenseEvent::Cancelled => state.cancelled = true,
        LicenseEvent::ServerAttached { server_id } => {
            state.servers.insert(*server_id);
        }
        LicenseEvent::ServerDetached { server_id } => {
            state.servers.remove(server_id);
        }
    }
    state
}

/// Most seats one license may have.
pub const MAX_SEATS: u32 = 1_000_000;

fn check_seats(seats: u32) -> Result<u32, DomainError> {
    if seats == 0 || seats > MAX_SEATS {
        return Err(DomainError::InvalidSeats);
    }
    Ok(seats)
}

pub fn decide_create(
    state: &LicenseState,
    license_id: LicenseId,
    account_id: AccountId,
    product: &str,
    seats: u32,
) -> Result<Vec<LicenseEvent>, DomainError> {
    if state.license_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    let product = crate::domain::account::parse_name(product)?;
    Ok(vec![LicenseEvent::Created {
        license_id,
        account_id,
        product,
        seats: check_seats(seats)?,
    }])
}

/// Changing the seat count: never below the seats in use.
pub fn decide_change_seats(
    state: &LicenseState,
    to: u32,
) -> Result<Vec<LicenseEvent>, DomainError> {
    state.live()?;
    let to = check_seats(to)?;
    if (to as usize) < state.assigned.len() {
        return Err(DomainError::SeatsInUse {
            in_use: state.assigned.len(),
        });
    }
    if to == state.seats {
        return Err(DomainError::NoChange);
    }
    Ok(vec![LicenseEvent::SeatsChanged {
        from: state.seats,
        to,
    }])
}

/// Assigning to several users at once: all or none. Users who hold a seat
/// already are left as they are.
pub fn decide_assign(
    state: &LicenseState,
    users: &[UserId],
) -> Result<Vec<LicenseEvent>, DomainError> {
    state.live()?;
    let new: Vec<UserId> = users
        .iter()
        .copied()
        .filter(|u| !state.assigned.contains(u))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if new.is_empty() {
        return Err(DomainError::NoChange);
    }
    let free = state.free_seats() as usize;
    if new.len() > free {
        return Err(DomainError::NotEnoughSeats {
            free,
            requested: new.len(),
        });
    }
    Ok(vec![LicenseEvent::Assigned { user_ids: new }])
}

/// Releasing the seats of users who hold one (others are ignored).
pub fn decide_release(
    state: &LicenseState,
    users: &[UserId],
    reason: ReleaseReason,
) -> Vec<LicenseEvent> {
    let held: Vec<UserId> = users
        .iter()
        .copied()
        .filter(|u| state.assigned.contains(u))
        .collect();
    if held.is_empty() {
        return vec![];
    }
    vec![LicenseEvent::Released {
        user_ids: held,
        reason,
    }]
}

/// Cancelling a license releases every seat.
pub fn decide_cancel(state: &LicenseState) -> Result<Vec<LicenseEvent>, DomainError> {
    state.live()?;
    let mut events = decide_release(
        state,
        &state.assigned.iter().copied().collect::<Vec<_>>(),
        ReleaseReason::LicenseCancelled,
    );
    events.push(LicenseEvent::Cancelled);
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn license(seats: u32) -> LicenseState {
        decide_create(
            &LicenseState::default(),
            LicenseId(Uuid::nil()),
            AccountId(Uuid::nil()),
            "Pro",
            seats,
        )
        .unwrap()
        .iter()
        .fold(LicenseState::default(), evolve)
    }

    #[test]
    fn seats_are_never_over_assigned() {
        let state = license(2);
        assert_eq!(
            decide_assign(&state, &[user(1), user(2), user(3)]),
            Err(DomainError::NotEnoughSeats {
                free: 2,
                requested: 3
            })
        );
        let state = decide_assign(&state, &[user(1), user(2), user(1)])
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(state.free_seats(), 0);
        assert_eq!(
            decide_assign(&state, &[user(1)]),
            Err(DomainError::NoChange)
        );
        assert_eq!(
            decide_change_seats(&state, 1),
            Err(DomainError::SeatsInUse { in_use: 2 })
        );
        let state = decide_release(&state, &[user(2), user(9)], ReleaseReason::Revoked)
            .iter()
            .fold(state, evolve);
        assert_eq!(state.free_seats(), 1);
        assert!(decide_assign(&state, &[user(3)]).is_ok());
    }

    #[test]
    fn cancelling_releases_everything() {
        let state = license(5);
        let state = decide_assign(&state, &[user(1), user(2)])
            .unwrap()
            .iter()
            .fold(state, evolve);
        let events = decide_cancel(&state).unwrap();
        assert_eq!(events.len(), 2);
        let state = events.iter().fold(state, evolve);
        assert!(state.assigned.is_empty());
        assert_eq!(
            decide_assign(&state, &[user(3)]),
            Err(DomainError::LicenseCancelled)
        );
        assert_eq!(
            decide_create(
                &LicenseState::default(),
                LicenseId(Uuid::nil()),
                AccountId(Uuid::nil()),
                "Pro",
                0
            ),
            Err(DomainError::InvalidSeats)
        );
    }
}
