//! Parsing and deciding imports, one behaviour each.

use std::collections::BTreeMap;

use super::*;
use crate::domain::account::{self, AccountState};
use crate::domain::email::Email;
use crate::domain::ids::AccountId;
use crate::domain::ids::{LicenseId, UserId};
use crate::domain::license::{self, LicenseEvent, LicenseState};
use crate::domain::role::AccountKind;
use crate::domain::role::Role;
use crate::domain::user::{EmailClaim, Origin};
use crate::domain::DomainError;
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
    let crlf = parse(b"email,name,role\r\n\r\na@example.com,A,admin\r\nb@example.com,B,admin\r\n")
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
