//! Per-account chains and the accounts tree: what lets one tenant's export
//! prove it is complete.
//!
//! The log is shared by every tenant, so a tenant cannot be handed the
//! whole of it, and the events of its own it is handed could have gaps no
//! one would see. So each account also has a chain of its own: the events
//! whose metadata names it as their `account`, in position order, folded
//! as `c_k = SHA-256("portal-ledger account v1\n" ‖ c_(k−1) ‖ hash_k)` from
//! 32 zero bytes. Every signed checkpoint commits to all of them at its
//! head: the *accounts tree* is an RFC 9162 Merkle tree whose leaves are,
//! for each account with at least one event, ordered by the account id's
//! UTF-8 bytes, `account id ‖ 0x00 ‖ count (u64 big-endian) ‖ c_count`;
//! the checkpoint signs its root (`accounts_root`). A tenant export
//! (`tenant_export.rs`) carries the account's leaf and its audit path:
//! the tenant folds the chain over the events it received, and a dropped,
//! added or altered event shows as another count or head than the leaf the
//! operator signed.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::event::{Hash, RecordedEvent};
use crate::integrity::merkle::{self, ProofError};

/// What an account's chain starts from.
pub const CHAIN_START: Hash = Hash([0; 32]);

/// The account an event belongs to: its metadata's `account`, when that
/// is a string (events without one — legacy lines, checkpoints — belong
/// to none).
pub fn account_of(event: &RecordedEvent) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Account<'a> {
        #[serde(borrow)]
        account: Option<&'a serde_json::value::RawValue>,
    }
    let parsed: Account<'_> = serde_json::from_str(event.metadata.as_str()).ok()?;
    serde_json::from_str::<String>(parsed.account?.get()).ok()
}

/// One step of an account's chain.
pub fn chain_step(previous: &Hash, event_hash: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"portal-ledger account v1\n");
    hasher.update(previous.0);
    hasher.update(event_hash.0);
    Hash(hasher.finalize().into())
}

/// An account's chain: how many events, and its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountChain {
    pub count: u64,
    pub head: Hash,
}

impl Default for AccountChain {
    fn default() -> Self {
        Self {
            count: 0,
            head: CHAIN_START,
        }
    }
}

impl AccountChain {
    pub fn push(&mut self, event_hash: &Hash) {
        self.count += 1;
        self.head = chain_step(&self.head, event_hash);
    }
}

/// The leaf data of an account in the accounts tree.
pub fn leaf_data(account: &str, chain: &AccountChain) -> Vec<u8> {
    let mut data = Vec::with_capacity(account.len() + 41);
    data.extend_from_slice(account.as_bytes());
    data.push(0);
    data.extend_from_slice(&chain.count.to_be_bytes());
    data.extend_from_slice(&chain.head.0);
    data
}

/// Every account's chain at some size of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountIndex {
    chains: BTreeMap<String, AccountChain>,
}

impl AccountIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds the next event in; returns its account and that account's
    /// chain before it (to undo it).
    pub fn apply(&mut self, event: &RecordedEvent) -> Option<(String, AccountChain)> {
        let account = account_of(event)?;
        let chain = self.chains.entry(account.clone()).or_default();
        let before = *chain;
        chain.push(&event.hash);
        Some((account, before))
    }

    /// Takes an event back out (`before` as [`apply`](Self::apply) gave it).
    pub fn undo(&mut self, account: &str, before: AccountChain) {
        if before.count == 0 {
            self.chains.remove(account);
        } else {
            self.chains.insert(account.to_owned(), before);
        }
    }

    pub fn insert(&mut self, account: String, chain: AccountChain) {
        self.chains.insert(account, chain);
    }

    pub fn get(&self, account: &str) -> Option<&AccountChain> {
        self.chains.get(account)
    }

    pub fn len(&self) -> usize {
        self.chains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }

    fn leaves(&self) -> Vec<Hash> {
        self.chains
            .iter()
            .map(|(account, chain)| merkle::leaf_hash_of(&leaf_data(account, chain)))
            .collect()
    }

    /// The accounts tree's root.
    pub fn root(&self) -> Hash {
        let mut frontier = merkle::Frontier::new();
        for leaf in self.leaves() {
            frontier.push_leaf(leaf);
        }
        frontier.root()
    }

    /// The proof of `account`'s leaf: its index, the tree's size and the
    /// audit path (none: the account has no events).
    pub fn proof(&self, account: &str) -> Option<AccountProof> {
        let index = self.chains.keys().position(|a| a == account)? as u64;
        let chain = self.chains[account];
        let (_, path) = merkle::root_and_path(&self.leaves(), index).ok()?;
        Some(AccountProof {
            account: account.to_owned(),
            count: chain.count,
            chain_head: chain.head.to_hex(),
            index,
            size: self.chains.len() as u64,
            audit_path: path.iter().map(Hash::to_hex).collect(),
        })
    }
}

/// An account's leaf in the accounts tree, and its audit path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AccountProof {
    pub account: String,
    /// Its events up to the checkpoint.
    pub count: u64,
    /// Its chain's head after them.
    pub chain_head: String,
    /// The leaf's index in the accounts tree, and the tree's size.
    pub index: u64,
    pub size: u64,
    pub audit_path: Vec<String>,
}

impl AccountProof {
    /// Checks the leaf against an accounts root.
    pub fn verify(&self, accounts_root: &Hash) -> Result<(), ProofError> {
        let head = Hash::from_hex(&self.chain_head).map_err(|_| ProofError::WrongLength {
            expected: 32,
            found: 0,
        })?;
        let chain = AccountChain {
            count: self.count,
            head,
        };
        let path = self
            .audit_path
            .iter()
            .map(|h| Hash::from_hex(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ProofError::WrongLength {
                expected: self.audit_path.len(),
                found: 0,
            })?;
        merkle::verify_leaf_inclusion(
            self.index,
            self.size,
            merkle::leaf_hash_of(&leaf_data(&self.account, &chain)),
            &path,
            accounts_root,
        )
    }
}
