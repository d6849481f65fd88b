//! One tenant's share of the log, provably complete: `export-tenant` and
//! `verify-tenant-export`.
//!
//! The file is NDJSON. Its first line is the proof:
//! `{"tenant_export": 1, "checkpoint": {…}, "accounts": [{account, count,
//! chain_head, index, size, audit_path}, …]}` — the latest signed
//! checkpoint that commits to the accounts tree, and for each account
//! exported (one organization, or a partner and its customer
//! organizations) its leaf in that tree with the audit path
//! (`account_chains.rs`). Every further line is one event of those
//! accounts up to the checkpoint's head, as `export` writes it, in
//! position order.
//!
//! The check, with the operator's public key alone: the checkpoint's
//! signature; each account's leaf against its signed `accounts_root`; each
//! event's hash against its content (so it is the event the log holds);
//! each event belonging to a listed account and lying within the
//! checkpoint; and, folding each account's chain over its events, exactly
//! the count and head its leaf commits to — so an event dropped, added or
//! swapped for another shows. `schema/LOG_FORMAT.md` names every failure.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::chain::expected_hash;
use crate::event::{Hash, RecordedEvent};
use crate::integrity::account_chains::{account_of, AccountChain, AccountIndex, AccountProof};
use crate::integrity::checkpoint::PublicKey;
use crate::integrity::merkle_store::MerkleError;
use crate::integrity::proofs::{scan_checkpoints, CarriedCheckpoint};
use crate::store::pages::read_pages;
use crate::store::{ReadFilter, SharedStore, StoreError};

/// The first line of a tenant export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantHeader {
    /// The format's version: 1.
    pub tenant_export: u32,
    pub checkpoint: CarriedCheckpoint,
    pub accounts: Vec<AccountProof>,
}

#[derive(Debug, Error)]
pub enum TenantExportError {
    #[error("no signed checkpoint commits to the accounts yet: sign one (`checkpoint`) first")]
    NoCheckpoint,
    #[error("account {0} has no events up to the checkpoint")]
    NoEvents(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a tenant export does not prove what it claims.
#[derive(Debug, Error)]
pub enum TenantCheckError {
    #[error("line {line}: {reason}")]
    Unreadable { line: u64, reason: String },
    #[error("the checkpoint: {0}")]
    Checkpoint(String),
    #[error("account {account}: its leaf is not in the signed accounts tree: {reason}")]
    Proof { account: String, reason: String },
    #[error("line {line}, position {position}: the entry's content does not match its hash")]
    EntryAltered { line: u64, position: u64 },
    #[error("line {line}, position {position}: entries are not in position order")]
    OutOfOrder { line: u64, position: u64 },
    #[error("line {line}, position {position}: the entry lies after the checkpoint's head")]
    AfterCheckpoint { line: u64, position: u64 },
    #[error("line {line}, position {position}: the entry belongs to no exported account")]
    ForeignEntry { line: u64, position: u64 },
    #[error("account {account}: {found} entries, the checkpoint commits to {committed}: entries are missing or added")]
    CountDiffers {
        account: String,
        found: u64,
        committed: u64,
    },
    #[error(
        "account {account}: its {count} entries do not make the chain the checkpoint commits to"
    )]
    ChainDiffers { account: String, count: u64 },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

impl TenantCheckError {
    /// Kind, position and line, as `schema/LOG_FORMAT.md` names them.
    pub fn verdict(&self) -> (&'static str, Option<u64>, Option<u64>) {
        use TenantCheckError::*;
        match self {
            Unreadable { line, .. } => ("tenant_unreadable", None, Some(*line)),
            Checkpoint(_) => ("tenant_checkpoint", None, Some(1)),
            Proof { .. } => ("tenant_proof", None, Some(1)),
            EntryAltered { line, position } => {
                ("tenant_entry_altered", Some(*position), Some(*line))
            }
            OutOfOrder { line, position } => ("tenant_out_of_order", Some(*position), Some(*line)),
            AfterCheckpoint { line, position } => {
                ("tenant_after_checkpoint", Some(*position), Some(*line))
            }
            ForeignEntry { line, position } => {
                ("tenant_foreign_entry", Some(*position), Some(*line))
            }
            CountDiffers { .. } => ("tenant_count_differs", None, None),
            ChainDiffers { .. } => ("tenant_chain_differs", None, None),
            Io(_) => ("io", None, None),
        }
    }
}

/// What an export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantReport {
    pub accounts: Vec<String>,
    pub events: u64,
    pub checkpoint_head: u64,
    pub signed: bool,
}

/// The latest signed checkpoint that commits to the accounts tree.
async fn latest_checkpoint(store: &SharedStore) -> Result<CarriedCheckpoint, TenantExportError> {
    let mut found = None;
    scan_checkpoints(store, 1, |checkpoint| {
        if checkpoint.accounts_root.is_some() {
            found = Some(checkpoint);
        }
        std::ops::ControlFlow::Continue(())
    })
    .await?;
    found.ok_or(TenantExportError::NoCheckpoint)
}

/// The events of the log up to `head`, page by page.
async fn fold_log(
    store: &SharedStore,
    head: u64,
    mut each: impl FnMut(&RecordedEvent) -> Result<(), TenantExportError>,
) -> Result<(), TenantExportError> {
    let mut pages = read_pages(store.clone(), 1, ReadFilter::all());
    while let Some(page) = pages.recv().await {
        for event in page? {
            if event.position > head {
                return Ok(());
            }
            each(&event)?;
        }
    }
    Ok(())
}

/// What a tenant export will hold: its header (the checkpoint and each
/// account's proof), worked out by reading the log up to the checkpoint.
#[derive(Debug, Clone)]
pub struct TenantPlan {
    pub header: TenantHeader,
}

impl TenantPlan {
    /// The accounts exported.
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.header.accounts.iter().map(|p| p.account.as_str())
    }
}

/// Plans the export of `account` (and, with `with_customers`, of the
/// organizations it is the parent of) up to the latest checkpoint that
/// commits to the accounts.
pub async fn plan_tenant_export(
    store: &SharedStore,
    account: &str,
    with_customers: bool,
) -> Result<TenantPlan, TenantExportError> {
    let checkpoint = latest_checkpoint(store).await?;
    let head = checkpoint.head_position;
    let mut index = AccountIndex::new();
    let mut wanted: BTreeSet<String> = BTreeSet::from([account.to_owned()]);
    fold_log(store, head, |event| {
        index.apply(event);
        if with_customers && event.event_type.as_str() == "account.created" {
            let payload = event.payload.to_value();
            if payload["parent"].as_str() == Some(account) {
                if let Some(customer) = payload["account_id"].as_str() {
                    wanted.insert(customer.to_owned());
                }
            }
        }
        Ok(())
    })
    .await?;
    let mut accounts = Vec::with_capacity(wanted.len());
    for account in &wanted {
        accounts.push(
            index
                .proof(account)
                .ok_or_else(|| TenantExportError::NoEvents(account.clone()))?,
        );
    }
    Ok(TenantPlan {
        header: TenantHeader {
            tenant_export: 1,
            checkpoint,
            accounts,
        },
    })
}

/// Hands a planned export to `send` in chunks — the header line, then the
/// accounts' events page by page — so it is never held whole.
pub async fn send_tenant_export<F, Fut>(
    store: &SharedStore,
    plan: &TenantPlan,
    mut send: F,
) -> Result<TenantReport, TenantExportError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = Result<(), TenantExportError>>,
{
    let wanted: BTreeSet<&str> = plan.accounts().collect();
    let head = plan.header.checkpoint.head_position;
    let mut chunk = serde_json::to_vec(&plan.header).map_err(std::io::Error::from)?;
    chunk.push(b'\n');
    send(chunk).await?;
    let mut events = 0;
    let mut pages = read_pages(store.clone(), 1, ReadFilter::all());
    while let Some(page) = pages.recv().await {
        let mut chunk = Vec::new();
        let mut done = false;
        for event in page? {
            if event.position > head {
                done = true;
                break;
            }
            if account_of(&event).is_some_and(|a| wanted.contains(a.as_str())) {
                serde_json::to_writer(&mut chunk, &event).map_err(std::io::Error::from)?;
                chunk.push(b'\n');
                events += 1;
            }
        }
        if !chunk.is_empty() {
            send(chunk).await?;
        }
        if done {
            break;
        }
    }
    Ok(TenantReport {
        accounts: wanted.iter().map(|a| a.to_string()).collect(),
        events,
        checkpoint_head: head,
        signed: true,
    })
}

/// Writes a planned export: the header, then the accounts' events.
pub async fn write_tenant_export(
    store: &SharedStore,
    plan: &TenantPlan,
    out: &mut impl Write,
) -> Result<TenantReport, TenantExportError> {
    let report = send_tenant_export(store, plan, |chunk| {
        let written = out.write_all(&chunk).map_err(TenantExportError::from);
        std::future::ready(written)
    })
    .await?;
    out.flush()?;
    Ok(report)
}

/// Plans and writes the export of `account` (see [`plan_tenant_export`]).
pub async fn export_tenant(
    store: SharedStore,
    account: &str,
    with_customers: bool,
    out: &mut impl Write,
) -> Result<TenantReport, TenantExportError> {
    let plan = plan_tenant_export(&store, account, with_customers).await?;
    write_tenant_export(&store, &plan, out).await
}

/// Checks a tenant export (see the module doc); without a public key the
/// checkpoint's signature is not checked (the accounts' leaves still are,
/// against its `accounts_root`).
pub fn verify_tenant_export(
    input: impl BufRead,
    public: Option<&PublicKey>,
) -> Result<TenantReport, TenantCheckError> {
    let mut lines = input.lines().enumerate();
    let header: TenantHeader = loop {
        let Some((index, line)) = lines.next() else {
            return Err(TenantCheckError::Unreadable {
                line: 1,
                reason: "the file is empty".into(),
            });
        };
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        break serde_json::from_str(&line).map_err(|e| TenantCheckError::Unreadable {
            line: index as u64 + 1,
            reason: e.to_string(),
        })?;
    };
    let checkpoint = &header.checkpoint;
    if let Some(public) = public {
        if checkpoint.key_id != public.key_id() {
            return Err(TenantCheckError::Checkpoint(format!(
                "signed by key {}, not {}",
                checkpoint.key_id,
                public.key_id()
            )));
        }
        public
            .verify(&checkpoint.payload())
            .map_err(TenantCheckError::Checkpoint)?;
    }
    let accounts_root = checkpoint
        .accounts_root
        .as_deref()
        .ok_or_else(|| TenantCheckError::Checkpoint("it commits to no accounts tree".into()))
        .and_then(|r| Hash::from_hex(r).map_err(|e| TenantCheckError::Checkpoint(e.to_string())))?;
    let mut committed: BTreeMap<&str, &AccountProof> = BTreeMap::new();
    for proof in &header.accounts {
        proof
            .verify(&accounts_root)
            .map_err(|e| TenantCheckError::Proof {
                account: proof.account.clone(),
                reason: e.to_string(),
            })?;
        committed.insert(proof.account.as_str(), proof);
    }
    let mut chains: BTreeMap<String, AccountChain> = BTreeMap::new();
    let mut last = 0;
    let mut events = 0;
    for (index, line) in lines {
        let line_number = index as u64 + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let event: RecordedEvent =
            serde_json::from_str(&line).map_err(|e| TenantCheckError::Unreadable {
                line: line_number,
                reason: e.to_string(),
            })?;
        let position = event.position;
        if expected_hash(&event) != event.hash {
            return Err(TenantCheckError::EntryAltered {
                line: line_number,
                position,
            });
        }
        if position <= last {
            return Err(TenantCheckError::OutOfOrder {
                line: line_number,
                position,
            });
        }
        if position > checkpoint.head_position {
            return Err(TenantCheckError::AfterCheckpoint {
                line: line_number,
                position,
            });
        }
        let account = account_of(&event)
            .filter(|a| committed.contains_key(a.as_str()))
            .ok_or(TenantCheckError::ForeignEntry {
                line: line_number,
                position,
            })?;
        chains.entry(account).or_default().push(&event.hash);
        last = position;
        events += 1;
    }
    for (account, proof) in &committed {
        let chain = chains.get(*account).copied().unwrap_or_default();
        if chain.count != proof.count {
            return Err(TenantCheckError::CountDiffers {
                account: account.to_string(),
                found: chain.count,
                committed: proof.count,
            });
        }
        if chain.head.to_hex() != proof.chain_head {
            return Err(TenantCheckError::ChainDiffers {
                account: account.to_string(),
                count: chain.count,
            });
        }
    }
    Ok(TenantReport {
        accounts: committed.keys().map(|a| a.to_string()).collect(),
        events,
        checkpoint_head: checkpoint.head_position,
        signed: public.is_some(),
    })
}
