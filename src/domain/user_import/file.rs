//! Reading the CSV file: limits, the file-wide refusals, and each row's
//! columns parsed into typed values or [`Problem`]s.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::problems::{Column, Problem, ProblemCode};
use crate::domain::email::Email;
use crate::domain::ids::LicenseId;
use crate::domain::role::Role;
use crate::domain::user::{self};

/// Most rows one file may hold (a larger import is split into several).
pub const MAX_ROWS: usize = 1000;
/// Largest file accepted, in bytes (1,000 rows of long addresses, names and
/// three licenses each stay well below it).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Most licenses one row may name. Together with [`MAX_ROWS`] it bounds the
/// events of one import (see `app::user_import`), which is one append.
pub const MAX_LICENSES_PER_ROW: usize = 3;

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
