//! Bulk import of users from CSV: the I/O around `domain::user_import`.
//!
//! An import is authorized like creating users (`Action::ImportUsers`, and
//! `Action::AssignLicenses` as well when a row names a license), reads
//! every state the rows depend on — the account, the claim of every address,
//! every license named — and decides all rows at once. A dry run stops
//! there and reports. An apply appends only when no row has a problem, and
//! then appends *everything* (users, claims, admin rights, seats on both
//! sides) in one atomic append whose expectations are the versions read:
//! if anything the import depends on moves meanwhile — an address claimed,
//! a seat taken — nothing is appended and the whole import is decided again
//! on the new state, so it either applies completely or reports why not.
//!
//! Every imported user is its own entry in the activity log (its events
//! carry their own `command_id`, description and targets), and each
//! license's seats one more entry, as if an admin had created the users and
//! assigned the seats one command at a time; all of them share the import's
//! correlation id. One entry for the whole import would have to repeat up to
//! a thousand targets in the metadata of each of its thousands of events.
//!
//! That is also why an import is not a [`crate::app::command::Command`]: a
//! command makes one activity entry and asks the matrix one question, an
//! import makes an entry per user and per license and asks two.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};
use thiserror::Error;
use uuid::Uuid;

use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{append, Authorized, Ledger, LedgerError, MAX_ATTEMPTS};
use crate::domain::codec::encode;
use crate::domain::ids::{AccountId, LicenseId, UserId};
use crate::domain::permissions::{Action, Denied};
use crate::domain::user_import::{
    self, FileError, ImportFile, ImportPlan, ImportState, RowReport, MAX_LICENSES_PER_ROW, MAX_ROWS,
};
use crate::store::append::MAX_EVENTS_PER_APPEND;
use crate::store::{ExpectedVersion, StoreError, StreamAppend};

/// States read concurrently while checking an import.
const CONCURRENT_READS: usize = 16;

// One import is one append: per row a user, its claim, perhaps admin
// rights and a `user.license_assigned` per license; per license named one
// `license.assigned`. The file limits keep that within an append's limit.
const _: () = assert!(MAX_ROWS * (3 + 2 * MAX_LICENSES_PER_ROW) <= MAX_EVENTS_PER_APPEND);

/// Check only, or apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Report every row's problems; append nothing.
    DryRun,
    /// Create every user, or none when any row has a problem.
    Apply,
}

/// What an import did (or would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub mode: ImportMode,
    /// Every row of the file, in file order, with its problems.
    pub rows: Vec<RowReport>,
    /// The users created, in file order (empty for a dry run or a refused
    /// import).
    pub created: Vec<UserId>,
    /// The last position appended, when the import was applied.
    pub position: Option<u64>,
}

impl ImportReport {
    pub fn problem_count(&self) -> usize {
        self.rows.iter().map(|r| r.problems.len()).sum()
    }

    /// Rows that have at least one problem.
    pub fn rows_with_problems(&self) -> usize {
        self.rows.iter().filter(|r| !r.problems.is_empty()).count()
    }

    fn of(mode: ImportMode, plan: ImportPlan) -> Self {
        Self {
            mode,
            rows: plan.rows,
            created: vec![],
            position: None,
        }
    }
}

/// Why an import did not run at all. (Rows with problems are not an error:
/// they are in the [`ImportReport`].)
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file as a whole cannot be read as an import.
    #[error(transparent)]
    File(#[from] FileError),
    /// Not allowed, no such account, or the store failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// The states an import was decided on, and the versions read.
struct Checked {
    plan: ImportPlan,
    state: ImportState,
    account_version: u64,
    claim_versions: BTreeMap<String, u64>,
    license_versions: BTreeMap<LicenseId, u64>,
    users: Authorized,
    seats: Option<Authorized>,
}

impl Ledger {
    /// Imports users from a CSV file into `account_id` (see
    /// `domain::user_import` for the format): a dry run reports, an apply
    /// creates every user or none.
    pub async fn import_users(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        csv: &[u8],
        mode: ImportMode,
    ) -> Result<ImportReport, ImportError> {
        // Who may not import learns nothing about the file (nor the account).
        let account = self.load_account(account_id).await?;
        self.authorize(context, Action::ImportUsers, &account.state)
            .await?;
        let file = user_import::parse(csv)?;

        // Every event of the import shares one correlation id.
        let mut context = context.clone();
        context.correlation_id.get_or_insert_with(Uuid::now_v7);
        let context = &context;

        if mode == ImportMode::DryRun {
            let checked = self.check_import(context, account_id, &file).await?;
            return Ok(ImportReport::of(mode, checked.plan));
        }
        for _ in 0..MAX_ATTEMPTS {
            let checked = self.check_import(context, account_id, &file).await?;
            let Some(appends) = import_appends(&checked, context, account_id)? else {
                return Ok(ImportReport::of(mode, checked.plan));
            };
            match self.store().append(appends).await {
                Ok(outcome) => {
                    let created = checked.plan.rows.iter().map(|r| r.user_id).collect();
                    return Ok(ImportReport {
                        created,
                        position: Some(outcome.last_position()),
                        ..ImportReport::of(mode, checked.plan)
                    });
                }
                // Something the import read moved: decide it again.
                Err(StoreError::WrongExpectedVersion { .. }) => continue,
                Err(e) => return Err(LedgerError::from(e).into()),
            }
        }
        Err(LedgerError::Contention.into())
    }

    /// Authorizes, reads every state the rows depend on, and decides.
    async fn check_import(
        &self,
        context: &CommandContext,
        account_id: AccountId,
        file: &ImportFile,
    ) -> Result<Checked, LedgerError> {
        let account = self.load_account(account_id).await?;
        let users = self
            .authorize(context, Action::ImportUsers, &account.state)
            .await?;
        let license_ids = file.license_ids();
        let seats = if license_ids.is_empty() {
            None
        } else {
            Some(
                self.authorize(context, Action::AssignLicenses, &account.state)
                    .await?,
            )
        };
        let claims: Vec<_> = futures_util::stream::iter(file.emails())
            .map(|email| async move {
                let loaded = self.load_claim(&email).await?;
                Ok::<_, LedgerError>((email.normalized(), loaded))
            })
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        let licenses: Vec<_> = futures_util::stream::iter(license_ids)
            .map(|id| async move { Ok::<_, LedgerError>((id, self.load_license(id).await?)) })
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;

        let mut state = ImportState {
            account: account.state,
            ..ImportState::default()
        };
        let mut claim_versions = BTreeMap::new();
        for (key, loaded) in claims {
            claim_versions.insert(key.clone(), loaded.version);
            state.claims.insert(key, loaded.state);
        }
        let mut license_versions = BTreeMap::new();
        for (id, loaded) in licenses {
            if loaded.state.license_id.is_some() {
                license_versions.insert(id, loaded.version);
                state.licenses.insert(id, loaded.state);
            }
        }
        let plan = user_import::decide_import(file, &state, || UserId(Uuid::now_v7()))?;
        Ok(Checked {
            plan,
            state,
            account_version: account.version,
            claim_versions,
            license_versions,
            users,
            seats,
        })
    }
}

/// The one append of an accepted import; `None` when a row has a problem.
fn import_appends(
    checked: &Checked,
    context: &CommandContext,
    account_id: AccountId,
) -> Result<Option<Vec<StreamAppend>>, LedgerError> {
    let Some(accepted) = &checked.plan.accepted else {
        return Ok(None);
    };
    let mut appends = Vec::new();
    // Admin rights of several users go to the account's stream in one
    // append, each event with its user's metadata.
    let mut account_events = Vec::new();
    for imported in &accepted.users {
        let new = &imported.new;
        let licenses = imported
            .licenses
            .iter()
            .map(|id| {
                checked
                    .state
                    .licenses
                    .get(id)
                    .map_or_else(|| id.to_string(), |l| l.product.clone())
            })
            .collect::<Vec<_>>();
        let mut description = format!(
            "Imported user {} with role {} (CSV line {})",
            new.email, new.role, imported.line
        );
        if !licenses.is_empty() {
            description.push_str(&format!(" and licenses {}", licenses.join(", ")));
        }
        let mut metadata = checked
            .users
            .metadata(context, account_id, ActivityType::ImportUser, description)
            .with_target("user", new.user_id);
        for license_id in &imported.licenses {
            metadata = metadata.with_target("license", license_id);
        }
        let decision = &imported.decision;
        // A new id: the stream must not exist.
        appends.push(append(new.user_id.stream(), 0, &decision.user, &metadata)?);
        let claimed: Vec<_> = decision.email.iter().map(|(_, e)| e.clone()).collect();
        let version = checked
            .claim_versions
            .get(&new.email.normalized())
            .copied()
            .unwrap_or(0);
        appends.push(append(
            new.email.claim_stream(),
            version,
            &claimed,
            &metadata,
        )?);
        let json = metadata.to_json();
        for event in &decision.account {
            account_events.push(encode(event, &json)?);
        }
    }
    if !account_events.is_empty() {
        appends.push(StreamAppend::new(
            account_id.stream(),
            ExpectedVersion::Exact(checked.account_version),
            account_events,
        ));
    }
    if accepted.licenses.is_empty() {
        return Ok(Some(appends));
    }
    // Authorized whenever a row names a license; fail closed regardless.
    let seats = checked
        .seats
        .as_ref()
        .ok_or(LedgerError::Denied(Denied::Hidden))?;
    for (license_id, events) in &accepted.licenses {
        let product = checked
            .state
            .licenses
            .get(license_id)
            .map_or("", |l| l.product.as_str());
        let holders = accepted
            .users
            .iter()
            .filter(|u| u.licenses.contains(license_id))
            .count();
        let metadata = seats
            .metadata(
                context,
                account_id,
                ActivityType::UpdateLicense,
                format!("Assigned {product} to {holders} imported users"),
            )
            .with_target("license", license_id);
        let version = checked
            .license_versions
            .get(license_id)
            .copied()
            .unwrap_or(0);
        appends.push(append(license_id.stream(), version, events, &metadata)?);
    }
    Ok(Some(appends))
}
