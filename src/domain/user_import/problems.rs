//! What is wrong with a row: the file's columns and the problem codes a
//! row's cells (or the row as a whole) can have, as the answer lists them.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::domain::role::RoleError;
use crate::domain::DomainError;

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

    pub(super) fn parse(header: &str) -> Option<Self> {
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
    pub(super) fn new(
        column: Option<Column>,
        code: ProblemCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            column,
            code,
            message: message.into(),
        }
    }

    pub(super) fn from_domain(error: &DomainError) -> Self {
        let (column, code) = ProblemCode::of(error);
        Self::new(column, code, error.to_string())
    }

    /// Order within a row: by column, row-wide problems last.
    pub(super) fn sort_key(&self) -> usize {
        self.column.map_or(Column::ALL.len(), |c| c as usize)
    }
}
