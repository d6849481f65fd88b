//! Deciding an import: every row checked against the states read from the
//! log with the single-user rules, every problem of every row reported, and
//! the events of every stream when there is none.

use std::collections::BTreeMap;

use super::file::{ImportFile, ParsedRow};
use super::problems::{Column, Problem, ProblemCode};
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license::{self, LicenseEvent, LicenseState};
use crate::domain::role::RoleError;
use crate::domain::user::{self, Decision, EmailClaim, Licenses, NewUser, Origin, UserEvent};
use crate::domain::DomainError;

/// What an import is checked against: states the application read from the
/// log (and the versions it read them at, which it keeps itself).
#[derive(Debug, Clone, Default)]
pub struct ImportState {
    pub account: AccountState,
    /// The claim of every address in the file, by its normalized form; an
    /// address not in the map is taken to be free.
    pub claims: BTreeMap<String, EmailClaim>,
    /// Every license named in the file that exists.
    pub licenses: Licenses,
}

impl ImportState {
    fn claim(&self, email: &Email) -> EmailClaim {
        self.claims
            .get(&email.normalized())
            .copied()
            .unwrap_or_default()
    }
}

/// One row's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    pub line: u64,
    /// The e-mail column as written.
    pub email: String,
    /// The user the row creates.
    pub user_id: UserId,
    /// Empty when the row is fine.
    pub problems: Vec<Problem>,
}

/// A user the import creates, with the events of the streams only it
/// touches (its own, its e-mail claim) and of its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedUser {
    pub line: u64,
    pub new: NewUser,
    pub licenses: Vec<LicenseId>,
    /// `user`: created and one `user.license_assigned` per license;
    /// `account`: admin rights; `email`: the claim.
    pub decision: Decision,
}

/// What an import does when no row has a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub users: Vec<ImportedUser>,
    /// One `license.assigned` per license, naming all its new holders.
    pub licenses: Vec<(LicenseId, Vec<LicenseEvent>)>,
}

/// The outcome of checking a file: a report for every row, and the events
/// to append if (and only if) no row has a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPlan {
    pub rows: Vec<RowReport>,
    pub accepted: Option<Accepted>,
}

impl ImportPlan {
    pub fn problem_count(&self) -> usize {
        self.rows.iter().map(|r| r.problems.len()).sum()
    }
}

/// Checks every row against the account, the e-mail claims and the
/// licenses, and decides the import. `new_user_id` gives each row its
/// user's id. Fails only when the account itself is gone; everything a row
/// can get wrong is in the report.
pub fn decide_import(
    file: &ImportFile,
    state: &ImportState,
    mut new_user_id: impl FnMut() -> UserId,
) -> Result<ImportPlan, DomainError> {
    let kind = state.account.live_kind()?;
    let account_id = state
        .account
        .account_id
        .ok_or(DomainError::AccountNotFound)?;
    let mut account = state.account.clone();
    // Seats are taken row by row on these copies.
    let mut seats: Licenses = state
        .licenses
        .iter()
        .filter(|(_, l)| l.account_id == Some(account_id))
        .map(|(id, l)| (*id, l.clone()))
        .collect();
    let mut asked: BTreeMap<LicenseId, usize> = BTreeMap::new();
    for id in file.rows.iter().flat_map(|r| &r.licenses) {
        *asked.entry(*id).or_default() += 1;
    }

    let mut rows = Vec::with_capacity(file.rows.len());
    let mut users = Vec::new();
    let mut holders: BTreeMap<LicenseId, Vec<UserId>> = BTreeMap::new();
    for row in &file.rows {
        let user_id = new_user_id();
        let mut problems = row.problems.clone();
        if let Some(role) = row.role.filter(|r| !r.exists_in(kind)) {
            problems.push(Problem::from_domain(
                &RoleError::NotInAccountKind { role, kind }.into(),
            ));
        }
        let claim = row
            .email
            .as_ref()
            .map(|e| state.claim(e))
            .unwrap_or_default();
        if claim.holder.is_some() {
            problems.push(Problem::from_domain(&DomainError::EmailTaken));
        }
        for license_id in &row.licenses {
            let Some(license) = seats.get_mut(license_id) else {
                problems.push(Problem::new(
                    Some(Column::Licenses),
                    ProblemCode::UnknownLicense,
                    format!("no license {license_id} in this account"),
                ));
                continue;
            };
            match license::decide_assign(license, &[user_id]) {
                Ok(events) => {
                    *license = events.iter().fold(license.clone(), license::evolve);
                    holders.entry(*license_id).or_default().push(user_id);
                }
                Err(DomainError::NotEnoughSeats { .. }) => {
                    let free = state
                        .licenses
                        .get(license_id)
                        .map_or(0, LicenseState::free_seats);
                    problems.push(Problem::new(
                        Some(Column::Licenses),
                        ProblemCode::NotEnoughSeats,
                        format!(
                            "no seat left on license {} ({license_id}): {free} free, {} rows ask for one",
                            license.product,
                            asked.get(license_id).copied().unwrap_or_default(),
                        ),
                    ));
                }
                Err(e) => {
                    let mut problem = Problem::from_domain(&e);
                    problem.message = format!("license {license_id}: {}", problem.message);
                    problems.push(problem);
                }
            }
        }
        // A row without problems has every column parsed.
        if let (true, Some(email), Some(name), Some(role)) =
            (problems.is_empty(), &row.email, &row.name, row.role)
        {
            let new = NewUser {
                user_id,
                email: email.clone(),
                name: name.clone(),
                role,
                origin: Origin::Import,
                invitation: None,
            };
            match decide_row(row, new, &account, &claim) {
                Ok(imported) => {
                    account = imported
                        .decision
                        .account
                        .iter()
                        .fold(account, account::evolve);
                    users.push(imported);
                }
                Err(e) => problems.push(Problem::from_domain(&e)),
            }
        }
        problems.sort_by_key(Problem::sort_key);
        rows.push(RowReport {
            line: row.line,
            email: row.email_text.clone(),
            user_id,
            problems,
        });
    }

    if rows.iter().any(|r| !r.problems.is_empty()) || users.len() != rows.len() {
        return Ok(ImportPlan {
            rows,
            accepted: None,
        });
    }
    let mut licenses = Vec::with_capacity(holders.len());
    for (license_id, users) in holders {
        let before = state
            .licenses
            .get(&license_id)
            .ok_or(DomainError::NotFound)?;
        licenses.push((license_id, license::decide_assign(before, &users)?));
    }
    Ok(ImportPlan {
        rows,
        accepted: Some(Accepted { users, licenses }),
    })
}

/// A clean row, decided as a single user's creation, plus its seats.
fn decide_row(
    row: &ParsedRow,
    new: NewUser,
    account: &AccountState,
    claim: &EmailClaim,
) -> Result<ImportedUser, DomainError> {
    let mut decision = user::decide_create(&user::UserState::default(), account, claim, &new)?;
    decision.user.extend(
        row.licenses
            .iter()
            .map(|license_id| UserEvent::LicenseAssigned {
                license_id: *license_id,
            }),
    );
    Ok(ImportedUser {
        line: row.line,
        new,
        licenses: row.licenses.clone(),
        decision,
    })
}
