//! Bulk import of users from a CSV file: parsing and checking, without I/O.
//!
//! An import is one command over many users, and its promise is
//! all-or-nothing: either every row becomes a user (with its role, its
//! e-mail claim and its license seats) or nothing is appended. So a person
//! fixing a spreadsheet needs to see *every* problem of *every* row at once,
//! with the line number their editor shows, not the first refusal. That is
//! why this module does not stop at the first error like a single command's
//! `decide` does:
//!
//! 1. [`parse`] turns the file into [`ParsedRow`]s: the columns that parse
//!    become typed values (`Email`, `Role`, `LicenseId`s, a name), the ones
//!    that do not become [`Problem`]s of the row. Problems of the file itself
//!    (no header, unknown or missing columns, too many rows, too big, not
//!    UTF-8) refuse the whole file with a [`FileError`]: no row could be
//!    trusted to mean what it says.
//! 2. [`decide_import`] checks the rows against the states the application
//!    read from the log ([`ImportState`]: the account, the e-mail claims,
//!    the licenses) and, when no row has a problem, returns the events of
//!    every stream. The rules are the single-user ones: each row is decided
//!    by [`user::decide_create`] and each seat by [`license::decide_assign`]
//!    on states evolved row by row, so the import can never accept what
//!    creating the users one by one would refuse. Those deciders stop at the
//!    first error, so the conditions a row can fail on several columns at
//!    once (role not in the account's kind, address taken, each license) are
//!    looked at one by one first, with the same predicates.
//!
//! Rows are checked in file order, and every row that names a license asks
//! for one of its seats — also a row with other problems, so that fixing
//! those does not reveal a seat shortage later. The rows past a license's
//! free seats are the ones reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license::{self, LicenseEvent, LicenseState};
use crate::domain::role::{Role, RoleError};
use crate::domain::user::{self, Decision, EmailClaim, Licenses, NewUser, Origin, UserEvent};
use crate::domain::DomainError;

/// Most rows one file may hold (a larger import is split into several).
pub const MAX_ROWS: usize = 1000;
/// Largest file accepted, in bytes (1,000 rows of long addresses, names and
/// three licenses each stay well below it).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most licenses one row may name. Together with [`MAX_ROWS`] it bounds the
/// events of one import (see `app::user_import`), which is one append.
pub const MAX_LICENSES_PER_ROW: usize = 3;

/// A column of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    Email,
    Name,
    Role,
    Licenses,
}

impl Column {
    pub const ALL: [Column; 4] = [Column::Email, Column::Name, Column::Role, Column::Licenses];

    /// Columns a file must have; `licenses` may be left out when no user
    /// gets one.
    pub const REQUIRED: [Column; 3] = [Column::Email, Column::Name, Column::Role];

    pub fn as_str(self) -> &'static str {
        match self {
            Column::Email => "email",
            Column::Name => "name",
            Column::Role => "role",
            Column::Licenses => "licenses",
        }
    }

    fn parse(header: &str) -> Option<Self> {
        let key = header.trim().to_lowercase();
        Column::ALL.into_iter().find(|c| c.as_str() == key)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a row, machine-readable. The codes are stable API;
/// where a domain rule is the reason, the code is the domain error's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemCode {
    InvalidEmail,
    /// The address is on an earlier row of the same file.
    DuplicateEmail,
    /// A live user holds the address already.
    EmailTaken,
    /// Empty or longer than 200 characters.
    InvalidName,
    UnknownRole,
    /// The role exists, but not in this kind of account (e.g. `sales` in
    /// an organization).
    RoleNotInAccountKind,
    /// A license entry that is not a license id.
    InvalidLicenseId,
    TooManyLicenses,
    /// No such license in this account. Licenses of other accounts are
    /// reported the same way: the API does not reveal other tenants'
    /// resources.
    UnknownLicense,
    LicenseCancelled,
    /// More rows ask for the license than it has free seats.
    NotEnoughSeats,
    /// The row has more fields than the header has columns.
    TooManyFields,
    /// Any other refusal of the domain (its code).
    Refused(DomainError),
}

impl ProblemCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProblemCode::InvalidEmail => "invalid_email",
            ProblemCode::DuplicateEmail => "duplicate_email",
            ProblemCode::EmailTaken => "email_taken",
            ProblemCode::InvalidName => "invalid_name",
            ProblemCode::UnknownRole => "unknown_role",
            ProblemCode::RoleNotInAccountKind => "role_not_in_account_kind",
            ProblemCode::InvalidLicenseId => "invalid_license_id",
            ProblemCode::TooManyLicenses => "too_many_licenses",
            ProblemCode::UnknownLicense => "unknown_license",
            ProblemCode::LicenseCancelled => "license_cancelled",
            ProblemCode::NotEnoughSeats => "not_enough_seats",
            ProblemCode::TooManyFields => "too_many_fields",
            ProblemCode::Refused(e) => e.code(),
        }
    }

    /// The problem a domain refusal of a row means.
    fn of(error: &DomainError) -> (Option<Column>, ProblemCode) {
        match error {
            DomainError::EmailTaken => (Some(Column::Email), ProblemCode::EmailTaken),
            DomainError::InvalidName => (Some(Column::Name), ProblemCode::InvalidName),
            // The only free text of a row is its name (addresses are parsed
            // as addresses).
            DomainError::ControlCharacter { .. } => {
                (Some(Column::Name), ProblemCode::Refused(error.clone()))
            }
            DomainError::Role(RoleError::Unknown(_)) => {
                (Some(Column::Role), ProblemCode::UnknownRole)
            }
            DomainError::Role(RoleError::NotInAccountKind { .. }) => {
                (Some(Column::Role), ProblemCode::RoleNotInAccountKind)
            }
            DomainError::NotFound => (Some(Column::Licenses), ProblemCode::UnknownLicense),
            DomainError::LicenseCancelled => {
                (Some(Column::Licenses), ProblemCode::LicenseCancelled)
            }
            DomainError::NotEnoughSeats { .. } => {
                (Some(Column::Licenses), ProblemCode::NotEnoughSeats)
            }
            other => (None, ProblemCode::Refused(other.clone())),
        }
    }
}

impl Serialize for ProblemCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The column at fault; `None` for the row as a whole.
    pub column: Option<Column>,
    pub code: ProblemCode,
    pub message: String,
}

impl Problem {
    fn new(column: Option<Column>, code: ProblemCode, message: impl Into<String>) -> Self {
        Self {
            column,
            code,
            message: message.into(),
        }
    }

    fn from_domain(error: &DomainError) -> Self {
        let (column, code) = ProblemCode::of(error);
        Self::new(column, code, error.to_string())
    }

    /// Order within a row: by column, row-wide problems last.
    fn sort_key(&self) -> usize {
        self.column.map_or(Column::ALL.len(), |c| c as usize)
    }
}

/// Why a whole file is refused (no row is looked at).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileError {
    #[error("the file is {bytes} bytes; at most {MAX_FILE_BYTES} are accepted (split it)")]
    TooBig { bytes: usize },
    #[error("the file is not UTF-8 text (first bad byte on line {line})")]
    NotUtf8 { line: u64 },
    #[error("the file is empty; the first line must be the header email,name,role,licenses")]
    NoHeader,
    #[error(
        "unknown column {name:?} in the header (column {index}); expected email, name, role and optionally licenses"
    )]
    UnknownColumn { name: String, index: usize },
    #[error("the header names the {0} column twice")]
    DuplicateColumn(Column),
    #[error("the header has no {0} column; expected email, name, role and optionally licenses")]
    MissingColumn(Column),
    #[error("the file has a header but no rows")]
    NoRows,
    #[error("the file has more than {MAX_ROWS} rows; split it into several imports")]
    TooManyRows,
    #[error("line {line}: not readable as CSV: {reason}")]
    Malformed { line: u64, reason: String },
}

impl FileError {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::TooBig { .. } => "file_too_big",
            FileError::NotUtf8 { .. } => "not_utf8",
            FileError::NoHeader => "csv_no_header",
            FileError::UnknownColumn { .. } => "csv_unknown_column",
            FileError::DuplicateColumn(_) => "csv_duplicate_column",
            FileError::MissingColumn(_) => "csv_missing_column",
            FileError::NoRows => "csv_no_rows",
            FileError::TooManyRows => "too_many_rows",
            FileError::Malformed { .. } => "csv_malformed",
        }
    }
}

/// A row as read from the file: the columns that parsed, as typed values,
/// and the problems of those that did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRow {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// The e-mail column as written (trimmed), to name the row in reports.
    pub email_text: String,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub role: Option<Role>,
    /// The licenses named, each once, in the order written.
    pub licenses: Vec<LicenseId>,
    pub problems: Vec<Problem>,
}

/// A parsed file: its rows in file order (blank lines are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFile {
    pub rows: Vec<ParsedRow>,
}

impl ImportFile {
    /// Every address that parsed, each once (the claims to read).
    pub fn emails(&self) -> Vec<Email> {
        let mut seen = BTreeSet::new();
        self.rows
            .iter()
            .filter_map(|r| r.email.clone())
            .filter(|e| seen.insert(e.normalized()))
            .collect()
    }

    /// Every license named (the licenses to read).
    pub fn license_ids(&self) -> BTreeSet<LicenseId> {
        self.rows
            .iter()
            .flat_map(|r| r.licenses.iter().copied())
            .collect()
    }
}

/// Where each column is in the file's records.
struct Header {
    index: BTreeMap<Column, usize>,
    width: usize,
}

impl Header {
    fn parse(record: &csv::StringRecord) -> Result<Self, FileError> {
        let mut index = BTreeMap::new();
        for (i, field) in record.iter().enumerate() {
            // Spreadsheets save UTF-8 with a byte-order mark in front.
            let name = if i == 0 {
                field.trim_start_matches('\u{feff}')
            } else {
                field
            };
            let column = Column::parse(name).ok_or_else(|| FileError::UnknownColumn {
                name: name.trim().to_owned(),
                index: i + 1,
            })?;
            if index.insert(column, i).is_some() {
                return Err(FileError::DuplicateColumn(column));
            }
        }
        if let Some(missing) = Column::REQUIRED
            .into_iter()
            .find(|c| !index.contains_key(c))
        {
            return Err(FileError::MissingColumn(missing));
        }
        Ok(Self {
            index,
            width: record.len(),
        })
    }

    fn field<'r>(&self, record: &'r csv::StringRecord, column: Column) -> &'r str {
        self.index
            .get(&column)
            .and_then(|i| record.get(*i))
            .map_or("", str::trim)
    }
}

/// Reads a CSV file: header `email,name,role,licenses` (any order, any
/// letter case; `licenses` optional), then one user per row. `licenses` holds
/// zero or more license ids separated by `;` or white space.
pub fn parse(input: &[u8]) -> Result<ImportFile, FileError> {
    if input.len() > MAX_FILE_BYTES {
        return Err(FileError::TooBig { bytes: input.len() });
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        let before = input.get(..e.valid_up_to()).unwrap_or_default();
        FileError::NotUtf8 {
            line: 1 + before.iter().filter(|b| **b == b'\n').count() as u64,
        }
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(FileError::NoHeader),
        Some(record) => Header::parse(&record.map_err(malformed)?)?,
    };
    let mut rows = Vec::new();
    let mut first_line_of: BTreeMap<String, u64> = BTreeMap::new();
    let mut lines = LineCounter::new(text);
    for record in records {
        let record = record.map_err(malformed)?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        let line = lines.line_at(record.position().map_or(0, csv::Position::byte));
        let mut row = parse_row(&header, &record, line);
        if let Some(email) = &row.email {
            match first_line_of.get(&email.normalized()) {
                Some(first) => row.problems.push(Problem::new(
                    Some(Column::Email),
                    ProblemCode::DuplicateEmail,
                    format!("{email} is also on line {first}"),
                )),
                None => {
                    first_line_of.insert(email.normalized(), line);
                }
            }
        }
        row.problems.sort_by_key(Problem::sort_key);
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(FileError::NoRows);
    }
    Ok(ImportFile { rows })
}

/// Line numbers as an editor shows them. The reader's own positions count
/// from where it started reading a record, that is before the blank lines
/// it skipped.
struct LineCounter<'t> {
    text: &'t [u8],
    offset: usize,
    line: u64,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after `offset` that is not a line
    /// break (offsets only grow).
    fn line_at(&mut self, offset: u64) -> u64 {
        let mut start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while self
            .text
            .get(start)
            .is_some_and(|b| matches!(b, b'\n' | b'\r'))
        {
            start += 1;
        }
        if start > self.offset {
            let skipped = self.text.get(self.offset..start).unwrap_or_default();
            self.line += skipped.iter().filter(|b| **b == b'\n').count() as u64;
            self.offset = start;
        }
        self.line
    }
}

fn malformed(e: csv::Error) -> FileError {
    FileError::Malformed {
        line: e.position().map_or(0, csv::Position::line),
        reason: e.to_string(),
    }
}

fn parse_row(header: &Header, record: &csv::StringRecord, line: u64) -> ParsedRow {
    let mut problems = Vec::new();
    let email_text = header.field(record, Column::Email).to_owned();
    let email = match Email::parse(&email_text) {
        Ok(email) => Some(email),
        Err(e) => {
            let message = if email_text.is_empty() {
                "the e-mail address is empty".to_owned()
            } else {
                e.to_string()
            };
            problems.push(Problem::new(
                Some(Column::Email),
                ProblemCode::InvalidEmail,
                message,
            ));
            None
        }
    };
    let name = user::parse_person_name(header.field(record, Column::Name))
        .map_err(|e| problems.push(Problem::from_domain(&e)))
        .ok();
    let role_text = header.field(record, Column::Role);
    let role = match Role::parse(role_text) {
        Ok(role) => Some(role),
        Err(e) => {
            let message = if role_text.is_empty() {
                "the role is empty".to_owned()
            } else {
                e.to_string()
            };
            problems.push(Problem::new(
                Some(Column::Role),
                ProblemCode::UnknownRole,
                message,
            ));
            None
        }
    };
    let mut licenses = Vec::new();
    for entry in header
        .field(record, Column::Licenses)
        .split(|c: char| c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        match entry.parse::<LicenseId>() {
            Ok(id) if !licenses.contains(&id) => licenses.push(id),
            Ok(_) => {}
            Err(_) => problems.push(Problem::new(
                Some(Column::Licenses),
                ProblemCode::InvalidLicenseId,
                format!("{entry:?} is not a license id"),
            )),
        }
    }
    if licenses.len() > MAX_LICENSES_PER_ROW {
        problems.push(Problem::new(
            Some(Column::Licenses),
            ProblemCode::TooManyLicenses,
            format!(
                "{} licenses; at most {MAX_LICENSES_PER_ROW} per row (assign more afterwards)",
                licenses.len()
            ),
        ));
    }
    if record.len() > header.width {
        problems.push(Problem::new(
            None,
            ProblemCode::TooManyFields,
            format!(
                "{} fields, but the header has {} columns",
                record.len(),
                header.width
            ),
        ));
    }
    ParsedRow {
        line,
        email_text,
        email,
        name,
        role,
        licenses,
        problems,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::AccountId;
    use crate::domain::role::AccountKind;
    use uuid::Uuid;

    fn org(kind: AccountKind) -> AccountState {
        account::decide_create(
            &AccountState::default(),
            AccountId(Uuid::from_u128(1)),
            kind,
            "Acme",
            None,
        )
        .unwrap()
        .iter()
        .fold(AccountState::default(), account::evolve)
    }

    fn license(n: u128, seats: u32, account: u128) -> (LicenseId, LicenseState) {
        let id = LicenseId(Uuid::from_u128(n));
        let state = license::decide_create(
            &LicenseState::default(),
            id,
            AccountId(Uuid::from_u128(account)),
            &format!("Product {n}"),
            seats,
        )
        .unwrap()
        .iter()
        .fold(LicenseState::default(), license::evolve);
        (id, state)
    }

    fn ids() -> impl FnMut() -> UserId {
        let mut n = 1000;
        move || {
            n += 1;
            UserId(Uuid::from_u128(n))
        }
    }

    fn codes(plan: &ImportPlan) -> Vec<(u64, Option<Column>, &'static str)> {
        plan.rows
            .iter()
            .flat_map(|r| {
                r.problems
                    .iter()
                    .map(move |p| (r.line, p.column, p.code.as_str()))
            })
            .collect()
    }

    #[test]
    fn headers_are_case_insensitive_in_any_order_with_optional_licenses() {
        let file = parse(b"\xEF\xBB\xBFRole , E-MAIL\n".as_slice());
        assert_eq!(
            file,
            Err(FileError::UnknownColumn {
                name: "E-MAIL".into(),
                index: 2
            })
        );
        let file = parse(b"\xEF\xBB\xBFRole ,EMAIL,Name\nadmin,a@example.com,Ann\n").unwrap();
        assert_eq!(file.rows.len(), 1);
        assert_eq!(file.rows[0].role, Some(Role::Admin));
        assert_eq!(file.rows[0].name.as_deref(), Some("Ann"));
        assert!(file.rows[0].licenses.is_empty());
        assert!(file.rows[0].problems.is_empty());
        assert_eq!(
            parse(b"email,role\n"),
            Err(FileError::MissingColumn(Column::Name))
        );
        assert_eq!(
            parse(b"email,name,role,email\n"),
            Err(FileError::DuplicateColumn(Column::Email))
        );
        assert_eq!(parse(b""), Err(FileError::NoHeader));
        assert_eq!(parse(b"email,name,role\n\n"), Err(FileError::NoRows));
    }

    #[test]
    fn file_limits_refuse_the_whole_file() {
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert_eq!(
            parse(&big),
            Err(FileError::TooBig {
                bytes: MAX_FILE_BYTES + 1
            })
        );
        assert_eq!(
            parse(b"email,name,role\n\xff,x,admin\n"),
            Err(FileError::NotUtf8 { line: 2 })
        );
        let mut many = String::from("email,name,role\n");
        for i in 0..=MAX_ROWS {
            many.push_str(&format!("u{i}@example.com,U {i},regular\n"));
        }
        assert_eq!(parse(many.as_bytes()), Err(FileError::TooManyRows));
    }

    #[test]
    fn every_problem_of_a_row_is_reported_with_its_line() {
        let l1 = Uuid::from_u128(7);
        let input = format!(
            "email,name,role,licenses\n\
             not-an-address,,owner,{l1}; nope\n\
             \n\
             \"b@example.com\",\"Bea\nSecond Line\",regular,\n\
             B@Example.com,Bee,read-only,,extra\n"
        );
        let file = parse(input.as_bytes()).unwrap();
        let lines: Vec<u64> = file.rows.iter().map(|r| r.line).collect();
        assert_eq!(
            lines,
            vec![2, 4, 6],
            "blank lines skipped, quoted newlines counted"
        );
        let problems: Vec<_> = file
            .rows
            .iter()
            .flat_map(|r| {
                r.problems
                    .iter()
                    .map(move |p| (r.line, p.column, p.code.as_str()))
            })
            .collect();
        assert_eq!(
            problems,
            vec![
                (2, Some(Column::Email), "invalid_email"),
                (2, Some(Column::Name), "invalid_name"),
                (2, Some(Column::Role), "unknown_role"),
                (2, Some(Column::Licenses), "invalid_license_id"),
                // A name is one line: the quoted newline is refused.
                (4, Some(Column::Name), "control_character"),
                (6, Some(Column::Email), "duplicate_email"),
                (6, None, "too_many_fields"),
            ]
        );
        assert_eq!(file.rows[0].licenses, vec![LicenseId(l1)]);
        assert_eq!(file.emails().len(), 1, "one address, written twice");
        let crlf =
            parse(b"email,name,role\r\n\r\na@example.com,A,admin\r\nb@example.com,B,admin\r\n")
                .unwrap();
        let lines: Vec<u64> = crlf.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4], "Windows line ends");
    }

    #[test]
    fn licenses_split_on_semicolons_and_white_space() {
        let (a, b, c, d) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let input = format!(
            "email,name,role,licenses\n\
             a@example.com,A,regular,\"{a};{b} {a}\t{c}\"\n\
             b@example.com,B,regular,{a};{b};{c};{d}\n"
        );
        let file = parse(input.as_bytes()).unwrap();
        assert_eq!(
            file.rows[0].licenses,
            vec![LicenseId(a), LicenseId(b), LicenseId(c)]
        );
        assert!(file.rows[0].problems.is_empty());
        assert_eq!(file.rows[1].problems[0].code, ProblemCode::TooManyLicenses);
    }

    #[test]
    fn rows_are_checked_against_the_account_claims_and_licenses() {
        let (pro, pro_state) = license(10, 2, 1);
        let (foreign, foreign_state) = license(11, 5, 2);
        let (gone, gone_state) = license(12, 5, 1);
        let gone_state = license::decide_cancel(&gone_state)
            .unwrap()
            .iter()
            .fold(gone_state, license::evolve);
        let taken = Email::parse("taken@example.com").unwrap();
        let state = ImportState {
            account: org(AccountKind::Organization),
            claims: [(
                taken.normalized(),
                EmailClaim {
                    holder: Some(UserId(Uuid::from_u128(99))),
                },
            )]
            .into(),
            licenses: [
                (pro, pro_state),
                (foreign, foreign_state),
                (gone, gone_state),
            ]
            .into(),
        };
        let input = format!(
            "email,name,role,licenses\n\
             a@example.com,A,sales,{pro}\n\
             TAKEN@example.com,T,regular,{pro}\n\
             c@example.com,C,regular,{pro};{foreign};{gone}\n"
        );
        let plan = decide_import(&parse(input.as_bytes()).unwrap(), &state, ids()).unwrap();
        assert!(plan.accepted.is_none());
        assert_eq!(
            codes(&plan),
            vec![
                (2, Some(Column::Role), "role_not_in_account_kind"),
                (3, Some(Column::Email), "email_taken"),
                (4, Some(Column::Licenses), "not_enough_seats"),
                (4, Some(Column::Licenses), "unknown_license"),
                (4, Some(Column::Licenses), "license_cancelled"),
            ]
        );
        assert!(plan.rows[2].problems[0]
            .message
            .contains("2 free, 3 rows ask for one"));
    }

    #[test]
    fn a_clean_file_becomes_users_claims_admins_and_one_assignment_per_license() {
        let (pro, pro_state) = license(10, 2, 1);
        let state = ImportState {
            account: org(AccountKind::Organization),
            claims: BTreeMap::new(),
            licenses: [(pro, pro_state)].into(),
        };
        let input = format!(
            "email,name,role,licenses\n\
             a@example.com,A,admin,{pro}\n\
             b@example.com,B,admin,\n\
             c@example.com,C,read-only,{pro}\n"
        );
        let plan = decide_import(&parse(input.as_bytes()).unwrap(), &state, ids()).unwrap();
        assert_eq!(plan.problem_count(), 0);
        let accepted = plan.accepted.unwrap();
        assert_eq!(accepted.users.len(), 3);
        let first = &accepted.users[0];
        assert_eq!(first.new.origin, Origin::Import);
        assert_eq!(first.decision.user.len(), 2, "created, license assigned");
        assert_eq!(first.decision.account.len(), 1, "admin added");
        assert_eq!(first.decision.email.len(), 1, "claimed");
        assert_eq!(accepted.users[2].decision.account.len(), 0);
        assert_eq!(
            accepted.licenses,
            vec![(
                pro,
                vec![LicenseEvent::Assigned {
                    user_ids: vec![first.new.user_id, accepted.users[2].new.user_id]
                }]
            )]
        );
    }

    #[test]
    fn a_deleted_account_refuses_the_import() {
        let mut account = org(AccountKind::Partner);
        account.deleted = true;
        let file = parse(b"email,name,role\na@example.com,A,admin\n").unwrap();
        let state = ImportState {
            account,
            ..ImportState::default()
        };
        assert_eq!(
            decide_import(&file, &state, ids()),
            Err(DomainError::AccountNotFound)
        );
    }
}
